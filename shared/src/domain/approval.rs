//! The approval of a migration plan: who approved which plan (by its SHA-256), when invites go
//! out, and who is left out.

use crate::issue::{FileRejection, RejectionCode};
use crate::values::{Email, MigrationId};
use serde::{Deserialize, Serialize};
use time::Date;

/// `approvals/<migration-id>.json` as people write it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalFile {
    #[serde(default)]
    pub migration: Option<String>,
    pub plan_sha256: String,
    pub approved_by: String,
    /// `YYYY-MM-DD`; invites are sent from that day on. Absent: as soon as the plan is applied.
    #[serde(default)]
    pub invite_date: Option<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// A checked approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub migration: MigrationId,
    pub plan_sha256: String,
    pub approved_by: String,
    pub invite_date: Option<Date>,
    pub exclude: Vec<Email>,
}

impl Approval {
    /// Checks an approval file for `migration` (the id its key names).
    pub fn parse(bytes: &[u8], migration: &MigrationId) -> Result<Self, FileRejection> {
        let file: ApprovalFile = serde_json::from_slice(bytes).map_err(|e| {
            FileRejection::new(
                RejectionCode::InvalidApproval,
                format!("The approval file could not be read: {e}. It needs plan_sha256 and approved_by, and may have invite_date (YYYY-MM-DD) and exclude (a list of e-mail addresses)."),
            )
        })?;
        Self::check(file, migration)
    }

    pub fn check(file: ApprovalFile, migration: &MigrationId) -> Result<Self, FileRejection> {
        let reject = |message: String| FileRejection::new(RejectionCode::InvalidApproval, message);
        if let Some(named) = &file.migration {
            if named != migration.as_str() {
                return Err(reject(format!(
                    "The approval names migration “{}” but was uploaded for “{migration}”. Upload it as approvals/{}.json.",
                    crate::text::preview(named, 64),
                    crate::text::preview(named, 64)
                )));
            }
        }
        let sha = file.plan_sha256.trim().to_lowercase();
        if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(reject(
                "plan_sha256 must be the 64-character SHA-256 shown with the plan (summary.json or the plan command's output).".into(),
            ));
        }
        let approved_by = crate::text::single_line(&file.approved_by);
        if approved_by.is_empty() {
            return Err(reject("approved_by is empty: say who approved the plan.".into()));
        }
        let invite_date = match file.invite_date.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(parse_date(raw).map_err(reject)?),
        };
        let exclude = file
            .exclude
            .iter()
            .map(|raw| {
                Email::parse(raw)
                    .map_err(|_| reject(format!("exclude lists “{}”, which is not an e-mail address.", crate::text::preview(raw, 80))))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { migration: migration.clone(), plan_sha256: sha, approved_by, invite_date, exclude })
    }
}

/// A day written `YYYY-MM-DD`, or why it is not one.
pub fn parse_date(raw: &str) -> Result<Date, String> {
    Date::parse(raw.trim(), time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("invite_date “{}” is not a date in the form YYYY-MM-DD.", crate::text::preview(raw, 40)))
}

/// `approvals/<migration-id>.reschedule.json` as written: `{"invite_date": "YYYY-MM-DD",
/// "requested_by": "Pat Property"}`. An approver without the CLI moves a migration's unsent
/// invites to another day with it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RescheduleFile {
    invite_date: String,
    requested_by: String,
}

/// A checked request to move a migration's unsent invites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reschedule {
    pub migration: MigrationId,
    pub invite_date: Date,
    pub requested_by: String,
}

impl Reschedule {
    pub fn parse(bytes: &[u8], migration: &MigrationId) -> Result<Self, FileRejection> {
        let reject = |why: String| FileRejection::new(RejectionCode::InvalidApproval, why);
        let file: RescheduleFile = serde_json::from_slice(bytes).map_err(|e| {
            reject(format!(
                "The reschedule file could not be read: {e}. Write {{\"invite_date\": \"YYYY-MM-DD\", \"requested_by\": \"Your Name\"}}."
            ))
        })?;
        let requested_by = crate::text::single_line(&file.requested_by);
        if requested_by.is_empty() {
            return Err(reject("requested_by is empty: say who moves the invites.".into()));
        }
        Ok(Self { migration: migration.clone(), invite_date: parse_date(&file.invite_date).map_err(reject)?, requested_by })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reschedule_names_a_day_and_who_asks() {
        let m = MigrationId::parse("wave-1").unwrap();
        let ok = Reschedule::parse(br#"{"invite_date": "2026-12-07", "requested_by": "Pat"}"#, &m).unwrap();
        assert_eq!((ok.invite_date.to_string(), ok.requested_by.as_str()), ("2026-12-07".to_string(), "Pat"));
        for bad in [
            &br#"{"invite_date": "7/12/2026", "requested_by": "Pat"}"#[..],
            br#"{"invite_date": "2026-12-07"}"#,
            br#"{"invite_date": "2026-12-07", "requested_by": " "}"#,
        ] {
            assert_eq!(Reschedule::parse(bad, &m).unwrap_err().code, RejectionCode::InvalidApproval);
        }
    }

    fn id() -> MigrationId {
        MigrationId::parse("acme").unwrap()
    }

    #[test]
    fn a_good_approval_is_checked() {
        let sha = "A".repeat(64);
        let json = format!(r#"{{"plan_sha256":"{sha}","approved_by":"Pat PM","invite_date":"2026-12-01","exclude":["X@Example.com"]}}"#);
        let approval = Approval::parse(json.as_bytes(), &id()).unwrap();
        assert_eq!(approval.plan_sha256, "a".repeat(64));
        assert_eq!(approval.invite_date.unwrap().to_string(), "2026-12-01");
        assert_eq!(approval.exclude[0].as_str(), "x@example.com");
    }

    #[test]
    fn bad_approvals_say_what_is_wrong() {
        let cases = [
            (r#"{"plan_sha256":"abc","approved_by":"Pat"}"#.to_string(), "64-character"),
            (format!(r#"{{"plan_sha256":"{}","approved_by":" "}}"#, "a".repeat(64)), "approved_by"),
            (format!(r#"{{"plan_sha256":"{}","approved_by":"P","invite_date":"1/12/2026"}}"#, "a".repeat(64)), "YYYY-MM-DD"),
            (format!(r#"{{"plan_sha256":"{}","approved_by":"P","migration":"other"}}"#, "a".repeat(64)), "“other”"),
            ("not json".to_string(), "could not be read"),
        ];
        for (json, needle) in cases {
            let err = Approval::parse(json.as_bytes(), &id()).unwrap_err();
            assert!(err.message.contains(needle), "{json}: {}", err.message);
        }
    }
}
