//! The building commands: who sees the tile (`check`), a building's phase, the list.

use crate::commands::{building_id, Report};
use crate::output::Failure;
use crate::runtime::Runtime;
use onboarding::app;
use onboarding::domain::building::Phase;
use onboarding::domain::values::Email;
use serde_json::json;

pub async fn check(runtime: &Runtime, building: &str, emails: &[String]) -> Result<Report, Failure> {
    let building = building_id(building)?;
    if emails.len() > onboarding::domain::tile::MAX_BATCH {
        return Err(Failure::usage(format!("at most {} addresses per check", onboarding::domain::tile::MAX_BATCH)));
    }
    let parsed: Vec<Email> =
        emails.iter().map(|e| Email::parse(e).map_err(|err| Failure::usage(format!("“{e}”: {err}")))).collect::<Result<_, _>>()?;
    let answers = app::tile::check_tile(runtime.table.as_ref(), &building, &parsed).await?;
    let results: Vec<_> = parsed
        .iter()
        .zip(&answers)
        .map(|(e, a)| json!({ "email": e, "visible": a.visible, "can_register_visitors": a.can_register_visitors, "reason": a.reason }))
        .collect();
    let value = if results.len() == 1 { results[0].clone() } else { json!({ "results": results }) };
    let text = parsed
        .iter()
        .zip(&answers)
        .map(|(e, a)| format!("{e}: visible={} can_register_visitors={} reason={}", a.visible, a.can_register_visitors, a.reason.as_str()))
        .collect();
    Ok(Report::new(value, text))
}

pub async fn set_phase(runtime: &Runtime, building: &str, phase: &str, force: bool) -> Result<Report, Failure> {
    let building = building_id(building)?;
    let phase = Phase::parse(phase)
        .ok_or_else(|| Failure::usage(format!("unknown phase “{phase}”: use new, kickstart_sent, account_setup, testing or live")))?;
    app::buildings::set_phase(runtime.services(), &building, phase, force).await?;
    Ok(Report::new(
        json!({ "building": building, "phase": phase }),
        vec![if phase == Phase::Live {
            format!("Building {building} is live: its tile grants take effect now.")
        } else {
            format!("Building {building} is now at phase {}; nobody sees its tile until it is live.", phase.as_str())
        }],
    ))
}

pub async fn list(runtime: &Runtime) -> Result<Report, Failure> {
    let buildings = runtime.table.list_buildings().await.map_err(|e| Failure::from(app::AppError::Port(e)))?;
    let text = buildings
        .iter()
        .map(|b| {
            format!(
                "{}  {:<28} {:<15} policy={} since {}",
                b.building.id,
                b.building.name,
                b.phase.as_str(),
                b.building.tile_policy.as_str(),
                onboarding::domain::moment::for_people(b.phase_changed_at)
            )
        })
        .collect();
    Ok(Report::new(json!({ "buildings": buildings }), text))
}
