//! The answer to "may this person see the Visitor Registration tile in this building?".

use crate::building::{Phase, TilePolicy};
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
    /// The building has not gone live (integration guide, Phase IV): nobody sees the tile yet.
    /// Grants are kept and take effect at go-live, with no re-upload.
    BuildingNotLive,
}

impl TileReason {
    /// The wire name (as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::NotGranted => "not_granted",
            Self::EveryonePolicyNoEnvoy => "everyone_policy_no_envoy",
            Self::UnknownBuilding => "unknown_building",
            Self::BuildingNotLive => "building_not_live",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileAnswer {
    pub visible: bool,
    pub can_register_visitors: bool,
    pub reason: TileReason,
}

/// The building's policy and phase (`None`: an unknown building); `granted` says whether the
/// person holds the tile grant (is a tenant contact imported to Envoy for the building).
pub fn decide(building: Option<(TilePolicy, Phase)>, granted: bool) -> TileAnswer {
    let (visible, can_register_visitors, reason) = match (building, granted) {
        (None, _) => (false, false, TileReason::UnknownBuilding),
        (Some((_, phase)), _) if phase != Phase::Live => (false, false, TileReason::BuildingNotLive),
        (Some(_), true) => (true, true, TileReason::Granted),
        (Some((TilePolicy::Permissioned, _)), false) => (false, false, TileReason::NotGranted),
        (Some((TilePolicy::Everyone, _)), false) => (true, false, TileReason::EveryonePolicyNoEnvoy),
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
        let live = |policy| Some((policy, Phase::Live));
        assert_eq!(decide(None, true).reason, TileReason::UnknownBuilding);
        assert!(!decide(None, true).visible);
        let granted = decide(live(TilePolicy::Permissioned), true);
        assert!(granted.visible && granted.can_register_visitors);
        let not = decide(live(TilePolicy::Permissioned), false);
        assert_eq!((not.visible, not.can_register_visitors, not.reason), (false, false, TileReason::NotGranted));
        let open = decide(live(TilePolicy::Everyone), false);
        assert_eq!((open.visible, open.can_register_visitors, open.reason), (true, false, TileReason::EveryonePolicyNoEnvoy));
        assert_eq!(decide(live(TilePolicy::Everyone), true).reason, TileReason::Granted);
        assert_eq!(serde_json::to_string(&open.reason).unwrap(), "\"everyone_policy_no_envoy\"");
    }

    #[test]
    fn before_go_live_nobody_sees_the_tile_whatever_the_policy_or_grant() {
        for phase in [Phase::New, Phase::KickstartSent, Phase::AccountSetup, Phase::Testing] {
            for policy in [TilePolicy::Permissioned, TilePolicy::Everyone] {
                for granted in [true, false] {
                    let answer = decide(Some((policy, phase)), granted);
                    assert_eq!((answer.visible, answer.can_register_visitors, answer.reason), (false, false, TileReason::BuildingNotLive));
                }
            }
        }
        for reason in [
            TileReason::Granted,
            TileReason::NotGranted,
            TileReason::EveryonePolicyNoEnvoy,
            TileReason::UnknownBuilding,
            TileReason::BuildingNotLive,
        ] {
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str(), "one wire name");
        }
    }
}
