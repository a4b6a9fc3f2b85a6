//! The answer to "may this person see the Visitor Registration tile in this building?".

use crate::domain::building::TilePolicy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TileReason {
    Granted,
    NotGranted,
    /// The building shows the tile to everyone, but this person has no Envoy access: registering
    /// a visitor will fail.
    EveryonePolicyNoEnvoy,
    UnknownBuilding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileAnswer {
    pub visible: bool,
    pub can_register_visitors: bool,
    pub reason: TileReason,
}

/// `policy` is `None` for an unknown building; `granted` says whether the person holds the
/// tile grant (is a tenant contact imported to Envoy for the building).
pub fn decide(policy: Option<TilePolicy>, granted: bool) -> TileAnswer {
    let (visible, can_register_visitors, reason) = match (policy, granted) {
        (None, _) => (false, false, TileReason::UnknownBuilding),
        (Some(_), true) => (true, true, TileReason::Granted),
        (Some(TilePolicy::Permissioned), false) => (false, false, TileReason::NotGranted),
        (Some(TilePolicy::Everyone), false) => (true, false, TileReason::EveryonePolicyNoEnvoy),
    };
    TileAnswer { visible, can_register_visitors, reason }
}

/// The most pairs one batch request may ask about.
pub const MAX_BATCH: usize = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_has_its_reason() {
        assert_eq!(decide(None, true).reason, TileReason::UnknownBuilding);
        assert!(!decide(None, true).visible);
        let granted = decide(Some(TilePolicy::Permissioned), true);
        assert!(granted.visible && granted.can_register_visitors);
        let not = decide(Some(TilePolicy::Permissioned), false);
        assert_eq!((not.visible, not.can_register_visitors, not.reason), (false, false, TileReason::NotGranted));
        let open = decide(Some(TilePolicy::Everyone), false);
        assert_eq!((open.visible, open.can_register_visitors, open.reason), (true, false, TileReason::EveryonePolicyNoEnvoy));
        assert_eq!(decide(Some(TilePolicy::Everyone), true).reason, TileReason::Granted);
        assert_eq!(serde_json::to_string(&open.reason).unwrap(), "\"everyone_policy_no_envoy\"");
    }
}
