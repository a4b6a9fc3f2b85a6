//! Which flow a file belongs to, by its columns. A file sent to the wrong flow (the guide's
//! tenant contacts to the user migration, a user export to a building's contacts) is refused
//! with the flow it belongs to and where to upload it, never half-read as something else.

use crate::building::BUILDING_COLUMNS;
use crate::intake::{ColumnMap, ColumnSpec, FileKind};
use crate::issue::{FileRejection, RejectionCode};
use crate::migration::USER_COLUMNS;
use crate::tenants::TENANT_COLUMNS;
use crate::text::capitalised;

const KINDS: [FileKind; 3] = [FileKind::Buildings, FileKind::Tenants, FileKind::Users];

/// The columns a flow reads.
pub fn columns(kind: FileKind) -> &'static [ColumnSpec] {
    match kind {
        FileKind::Buildings => BUILDING_COLUMNS,
        FileKind::Tenants => TENANT_COLUMNS,
        FileKind::Users => USER_COLUMNS,
    }
}

/// What a person calls the flow, and where its files go.
fn describe(kind: FileKind) -> (&'static str, &'static str) {
    match kind {
        FileKind::Buildings => ("a buildings file", "under inbox/buildings/ (locally: onboard ingest buildings FILE)"),
        FileKind::Tenants => {
            ("a tenant contacts file", "under inbox/tenants/<building UUID>/ (locally: onboard ingest tenants --building UUID FILE)")
        }
        FileKind::Users => {
            ("a user-migration export", "under inbox/users/<migration id>/ (locally: onboard ingest users --migration ID FILE)")
        }
    }
}

/// True when `headers` could be the header row of a file of any flow: another flow's file is
/// then refused by [`resolve`] with where it belongs.
pub fn looks_like_header(headers: &[String]) -> bool {
    KINDS.iter().any(|k| ColumnMap::has_required(columns(*k), headers))
}

/// Finds `kind`'s columns in `headers`. A file that is clearly another flow's is refused as
/// `wrong_flow` with where it belongs: it has all of that flow's required columns and fits it
/// better (more of its columns read; a split or joined name counts half). When the file also
/// fits this flow, the other flow must fit without splitting or joining names, so a contacts
/// list with a few extra columns is never sent away.
pub fn resolve(kind: FileKind, headers: &[String]) -> Result<ColumnMap, FileRejection> {
    // Each flow's columns are matched once; the fit and the completeness come from that one map.
    let own = ColumnMap::assign(columns(kind), headers);
    let own_fit = own.as_ref().map_or(0.0, |map| map.fit().0);
    let own = own.and_then(|map| map.complete(columns(kind), headers));
    let better = |other: FileKind| -> Option<f64> {
        if other == kind {
            return None;
        }
        let (score, plain) = ColumnMap::resolve(columns(other), headers).ok()?.fit();
        (score > own_fit && (own.is_err() || plain)).then_some(score)
    };
    let best = KINDS.into_iter().filter_map(|other| better(other).map(|score| (other, score))).max_by(|a, b| a.1.total_cmp(&b.1));
    match best {
        Some((other, _)) => {
            let (this, _) = describe(kind);
            let (that, place) = describe(other);
            let needs: Vec<String> = columns(kind).iter().filter(|c| c.required).map(|c| format!("“{}”", c.label)).collect();
            Err(FileRejection::new(
                RejectionCode::WrongFlow,
                format!(
                    "This looks like {that}, not {this}: its columns are {that}'s. Upload it {place}. {} needs the columns {}.",
                    capitalised(this),
                    needs.join(", ")
                ),
            ))
        }
        None => own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    const GUIDE: [&str; 3] = ["Tenant Contact Full Name", "Tenant Contact Email", "Tenant Contact Phone Number"];
    const USERS: [&str; 6] = ["First Name", "Last Name", "Email", "Role(s)", "Building assignments", "Status"];
    const BUILDINGS: [&str; 4] = ["Building UUID", "Building Name", "Address", "Envoy CSM Email"];

    #[test]
    fn the_guides_tenant_file_reads_as_tenants_and_is_sent_back_from_the_other_flows() {
        let map = resolve(FileKind::Tenants, &headers(&GUIDE)).unwrap();
        assert!(map.has(0) && map.has(1) && map.has(2));
        assert_eq!(map.readings().len(), 3, "{:?}", map.readings());
        for kind in [FileKind::Users, FileKind::Buildings] {
            let refused = resolve(kind, &headers(&GUIDE)).unwrap_err();
            assert_eq!(refused.code, "wrong_flow");
            assert!(refused.message.contains("a tenant contacts file"), "{}", refused.message);
            assert!(refused.message.contains("inbox/tenants/<building UUID>/"), "{}", refused.message);
            assert!(looks_like_header(&headers(&GUIDE)), "the header row is found, and then refused with where it goes");
        }
    }

    #[test]
    fn a_user_export_is_not_read_as_contacts_though_it_has_names_and_addresses() {
        assert!(ColumnMap::resolve(TENANT_COLUMNS, &headers(&USERS)).is_ok(), "first and last join into a full name");
        let refused = resolve(FileKind::Tenants, &headers(&USERS)).unwrap_err();
        assert_eq!(refused.code, "wrong_flow");
        assert!(refused.message.contains("a user-migration export"), "{}", refused.message);
        assert!(resolve(FileKind::Users, &headers(&USERS)).is_ok());
        assert!(looks_like_header(&headers(&USERS)));
    }

    #[test]
    fn a_buildings_file_is_sent_to_the_buildings_flow() {
        for kind in [FileKind::Tenants, FileKind::Users] {
            let refused = resolve(kind, &headers(&BUILDINGS)).unwrap_err();
            assert_eq!(refused.code, "wrong_flow", "{kind:?}: {}", refused.message);
            assert!(refused.message.contains("inbox/buildings/"), "{}", refused.message);
        }
        assert!(resolve(FileKind::Buildings, &headers(&BUILDINGS)).is_ok());
    }

    #[test]
    fn a_user_export_missing_a_column_is_told_what_is_missing_not_sent_to_tenants() {
        let refused = resolve(FileKind::Users, &headers(&["First Name", "Last Name", "Email", "Status"])).unwrap_err();
        assert_eq!(refused.code, "missing_column", "{}", refused.message);
        // A contacts list with a few user-like columns stays a contacts list.
        let contacts = headers(&["Full Name", "Email", "Phone Number", "Role", "Building", "Status"]);
        assert!(resolve(FileKind::Tenants, &contacts).is_ok());
        // Name and address alone are a contacts file.
        assert_eq!(resolve(FileKind::Users, &headers(&["Full Name", "Email"])).unwrap_err().code, "wrong_flow");
    }

    #[test]
    fn a_file_of_no_flow_is_told_what_is_missing() {
        let refused = resolve(FileKind::Tenants, &headers(&["Company", "Floor"])).unwrap_err();
        assert_eq!(refused.code, "missing_column");
    }
}
