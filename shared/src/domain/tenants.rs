//! Tenant contacts: validating a contacts file, merging it with a building's directory, the
//! replace-mode guard, and the Envoy employee-import file.

use crate::intake::{ColumnMap, ColumnSpec, NamePart, RawRow, EMAIL_NAMES, FULL_NAMES, PHONE_NAMES};
use crate::issue::{Issue, IssueCode};
use crate::sheet::csv_bytes;
use crate::text::single_line;
use crate::values::{Email, EmailError, Phone, PhoneRegion};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

pub const TENANT_COLUMNS: &[ColumnSpec] = &[
    ColumnSpec::name("Full Name", FULL_NAMES, NamePart::Full),
    ColumnSpec::new("Email", EMAIL_NAMES, true),
    ColumnSpec::new("Phone Number", PHONE_NAMES, false),
];

/// The header Envoy's employee directory import expects, exactly.
pub(crate) const ENVOY_HEADERS: [&str; 3] = ["Full Name", "Email", "Phone Number"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantContact {
    pub full_name: String,
    pub email: Email,
    pub phone: Option<Phone>,
}

/// Reads one contact row: the contact (with warnings), or the errors that keep it out.
pub fn contact_from_row(map: &ColumnMap, row: &RawRow, region: PhoneRegion) -> Result<(TenantContact, Vec<Issue>), Vec<Issue>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let name = single_line(&map.text(row, 0));
    if name.is_empty() {
        errors.push(
            Issue::error(IssueCode::MissingName, "The contact has no name. Add the person's full name.")
                .at_row(row.number)
                .in_column("Full Name"),
        );
    } else if name.chars().count() > 200 {
        errors.push(
            Issue::error(IssueCode::ValueTooLong, "The name is longer than 200 characters. Check the row.")
                .at_row(row.number)
                .in_column("Full Name")
                .with_value(&name),
        );
    }
    let raw_email = map.cell(row, 1);
    let email = match Email::parse(raw_email) {
        Ok(email) => Some(email),
        Err(EmailError::Empty) => {
            errors.push(
                Issue::error(
                    IssueCode::MissingEmail,
                    "The contact has no e-mail address. Add it; Envoy needs it to invite visitors' hosts.",
                )
                .at_row(row.number)
                .in_column("Email"),
            );
            None
        }
        Err(EmailError::Invalid) => {
            errors.push(
                Issue::error(IssueCode::InvalidEmail, "This is not a valid e-mail address. Correct it (for example name@company.com).")
                    .at_row(row.number)
                    .in_column("Email")
                    .with_value(raw_email),
            );
            None
        }
    };
    let raw_phone = map.cell(row, 2).trim();
    let phone = if raw_phone.is_empty() {
        None
    } else {
        let parsed = Phone::parse(raw_phone, region);
        if parsed.is_none() {
            warnings.push(
                Issue::warning(IssueCode::InvalidPhone, "The phone number is not valid, so it was left out. Correct it with its country code (e.g. +1 415 555 0123) if the contact should get text messages.")
                    .at_row(row.number)
                    .in_column("Phone Number")
                    .with_value(raw_phone),
            );
        }
        parsed
    };
    match email {
        Some(email) if errors.is_empty() => Ok((TenantContact { full_name: name, email, phone }, warnings)),
        _ => Err(errors),
    }
}

/// Contacts of one file, deduplicated by e-mail address (first row wins; a later row fills in a
/// missing phone; a different name is flagged).
#[derive(Debug, Default)]
pub struct ContactSet {
    /// Each contact's address hash and place in `contacts`. The hash is kept so that growing
    /// the index never reads the addresses again (at a million contacts, re-reading them was a
    /// quarter of the time); foldhash rather than SipHash, as every row is looked up.
    index: hashbrown::HashTable<(u64, usize)>,
    hasher: foldhash::fast::RandomState,
    contacts: Vec<(u64, TenantContact)>,
}

impl ContactSet {
    /// Where `email`'s contact is in `contacts`, with the address's hash.
    fn position(&self, email: &Email) -> (u64, Option<usize>) {
        let hash = std::hash::BuildHasher::hash_one(&self.hasher, email.as_str());
        let contacts = &self.contacts;
        let found = self.index.find(hash, |&(h, at)| h == hash && contacts.get(at).is_some_and(|(_, c)| c.email == *email));
        (hash, found.map(|&(_, at)| at))
    }

    /// Adds a contact; returns the issue when the row duplicated an earlier one.
    pub fn add(&mut self, row: u64, contact: TenantContact) -> Option<Issue> {
        match self.position(&contact.email) {
            (hash, None) => {
                self.index.insert_unique(hash, (hash, self.contacts.len()), |&(h, _)| h);
                self.contacts.push((row, contact));
                None
            }
            (_, Some(at)) => {
                let (first_row, kept) = &mut self.contacts[at];
                if kept.phone.is_none() {
                    kept.phone = contact.phone.clone();
                }
                let issue = if kept.full_name.to_lowercase() != contact.full_name.to_lowercase() {
                    Issue::warning(
                        IssueCode::ConflictingDuplicate,
                        format!("Same e-mail as row {first_row} but a different name; the name from row {first_row} (“{}”) was kept. Correct the file if that is wrong.", kept.full_name),
                    )
                } else {
                    Issue::warning(IssueCode::DuplicateMerged, format!("Same e-mail as row {first_row}; the two rows were merged."))
                };
                Some(issue.at_row(row).in_column("Email").with_value(contact.email.as_str()))
            }
        }
    }

    pub fn len(&self) -> usize {
        self.contacts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty()
    }

    pub fn contains(&self, email: &Email) -> bool {
        self.position(email).1.is_some()
    }

    pub fn contacts(&self) -> impl Iterator<Item = &TenantContact> {
        self.contacts.iter().map(|(_, c)| c)
    }
}

/// The people of a file's rejected rows (a broken phone number, a missing name): replace mode
/// never removes them, since their row shows they were meant to stay. Known by address, or by
/// name when the address itself is what was wrong.
#[derive(Debug, Default)]
pub struct RejectedRows {
    by_email: HashMap<Email, u64>,
    by_name: HashMap<String, u64>,
}

impl RejectedRows {
    pub fn add(&mut self, map: &ColumnMap, row: &RawRow) {
        match Email::parse(map.cell(row, 1)) {
            Ok(email) => {
                self.by_email.entry(email).or_insert(row.number);
            }
            Err(_) => {
                let name = single_line(&map.text(row, 0)).to_lowercase();
                if !name.is_empty() {
                    self.by_name.entry(name).or_insert(row.number);
                }
            }
        }
    }

    /// The rejected row that names `contact`, if one does.
    pub fn row_of(&self, contact: &TenantContact) -> Option<u64> {
        self.by_email.get(&contact.email).or_else(|| self.by_name.get(&contact.full_name.to_lowercase())).copied()
    }

    /// The warning that says a contact was kept, and why.
    pub fn kept(contact: &TenantContact, row: u64) -> Issue {
        Issue::warning(
            IssueCode::KeptRejected,
            format!(
                "Kept: row {row} was rejected, so “{}” stays in the building's directory instead of being removed by replace mode. Fix row {row} and upload the file again.",
                contact.full_name
            ),
        )
        .at_row(row)
        .in_column("Email")
        .with_value(contact.email.as_str())
    }
}

/// What replace mode would revoke, and whether the guard lets it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevokeCheck {
    pub current: usize,
    pub to_revoke: usize,
    pub share_percent: f64,
    pub threshold_percent: f64,
    pub allowed: bool,
}

/// Okta-style guard: a file that would remove more than `threshold_percent` of a building's
/// contacts is held unless forced, because a truncated file must not wipe a building.
pub fn check_revocations(current: usize, to_revoke: usize, threshold_percent: f64, forced: bool) -> RevokeCheck {
    let share_percent = if current == 0 { 0.0 } else { to_revoke as f64 * 100.0 / current as f64 };
    RevokeCheck { current, to_revoke, share_percent, threshold_percent, allowed: forced || share_percent <= threshold_percent }
}

/// The addresses in an Envoy import file this program wrote (its `Email` column). Cells that
/// are not addresses (a hand-edited file) are skipped.
pub fn envoy_export_emails(bytes: &[u8]) -> std::collections::HashSet<Email> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(bytes);
    reader
        .byte_records()
        .filter_map(Result::ok)
        .filter_map(|r| r.get(1).and_then(|c| Email::parse(&String::from_utf8_lossy(c)).ok()))
        .collect()
}

/// The Envoy export guard: Envoy replaces its whole directory with each upload, so a new
/// export that leaves out more than `threshold_percent` of the people in the last one is held
/// unless forced (the same rule as the replace-mode guard, measured against what Envoy has).
pub fn check_export(
    previous: &std::collections::HashSet<Email>,
    next: &std::collections::HashSet<&Email>,
    threshold_percent: f64,
    forced: bool,
) -> RevokeCheck {
    let dropped = previous.iter().filter(|e| !next.contains(e)).count();
    check_revocations(previous.len(), dropped, threshold_percent, forced)
}

/// The Envoy import file: the building's complete directory, sorted by name then e-mail.
pub fn envoy_import_csv<'a>(contacts: impl IntoIterator<Item = &'a TenantContact>) -> Vec<u8> {
    let sorted: BTreeMap<(String, &str), &TenantContact> =
        contacts.into_iter().map(|c| ((c.full_name.to_lowercase(), c.email.as_str()), c)).collect();
    csv_bytes(&ENVOY_HEADERS, sorted.values().map(|c| [c.full_name.as_str(), c.email.as_str(), c.phone.as_ref().map_or("", Phone::as_str)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> ColumnMap {
        ColumnMap::resolve(TENANT_COLUMNS, &["Name".into(), "E-mail".into(), "Mobile".into()]).unwrap()
    }

    fn row(number: u64, cells: &[&str]) -> RawRow {
        RawRow { number, cells: cells.iter().map(|c| c.to_string()).collect() }
    }

    #[test]
    fn contacts_are_normalised_and_bad_phones_are_warnings() {
        let (contact, warnings) =
            contact_from_row(&map(), &row(2, &[" Ada\nLovelace ", "ADA@example.com", "415 555 2671"]), PhoneRegion::default()).unwrap();
        assert_eq!(contact.full_name, "Ada Lovelace");
        assert_eq!(contact.phone.unwrap().as_str(), "+14155552671");
        assert!(warnings.is_empty());
        let (_, warnings) = contact_from_row(&map(), &row(3, &["Bo", "bo@example.com", "12"]), PhoneRegion::default()).unwrap();
        assert_eq!(warnings[0].code, IssueCode::InvalidPhone);
    }

    #[test]
    fn rows_without_a_usable_email_or_name_are_rejected() {
        let errors = contact_from_row(&map(), &row(4, &["", "not-an-email", ""]), PhoneRegion::default()).unwrap_err();
        let codes: Vec<_> = errors.iter().map(|i| i.code).collect();
        assert_eq!(codes, [IssueCode::MissingName, IssueCode::InvalidEmail]);
        assert_eq!(errors[1].value, "not-an-email");
    }

    #[test]
    fn duplicates_merge_and_conflicts_are_flagged() {
        let mut set = ContactSet::default();
        let c = |name: &str, phone: Option<&str>| TenantContact {
            full_name: name.into(),
            email: Email::parse("ada@example.com").unwrap(),
            phone: phone.map(|p| Phone::from_stored(p.into())),
        };
        assert!(set.add(2, c("Ada", None)).is_none());
        assert_eq!(set.add(3, c("ada", Some("+14155552671"))).unwrap().code, IssueCode::DuplicateMerged);
        assert_eq!(set.add(4, c("Grace", None)).unwrap().code, IssueCode::ConflictingDuplicate);
        assert_eq!(set.len(), 1);
        assert_eq!(set.contacts().next().unwrap().phone.as_ref().unwrap().as_str(), "+14155552671");
    }

    /// The index grows many times over 20,000 addresses and still finds each one, in any case.
    #[test]
    fn every_address_is_found_again_as_the_index_grows() {
        let mut set = ContactSet::default();
        let contact = |k: usize, upper: bool| {
            let address = format!("person.{k}@example.com");
            TenantContact {
                full_name: format!("Person {k}"),
                email: Email::parse(&if upper { address.to_uppercase() } else { address }).unwrap(),
                phone: None,
            }
        };
        for k in 0..20_000 {
            assert!(set.add(k as u64 + 2, contact(k, false)).is_none(), "{k}");
        }
        for k in (0..20_000).rev() {
            let issue = set.add(30_000 + k as u64, contact(k, true)).expect("a duplicate");
            assert_eq!(issue.code, IssueCode::DuplicateMerged, "{k}");
            assert!(issue.message.contains(&format!("row {}", k + 2)), "{}", issue.message);
        }
        assert_eq!(set.len(), 20_000);
        assert!(set.contains(&Email::parse("person.19999@example.com").unwrap()));
        assert!(!set.contains(&Email::parse("person.20000@example.com").unwrap()));
    }

    #[test]
    fn the_revoke_guard_holds_past_the_threshold_unless_forced() {
        assert!(check_revocations(10, 2, 20.0, false).allowed);
        assert!(!check_revocations(10, 3, 20.0, false).allowed);
        assert!(check_revocations(10, 10, 20.0, true).allowed);
        assert!(check_revocations(0, 0, 20.0, false).allowed);
    }

    #[test]
    fn the_export_guard_measures_against_the_last_export() {
        let people: Vec<Email> = (0..10).map(|i| Email::parse(&format!("p{i}@example.com")).unwrap()).collect();
        let contacts: Vec<TenantContact> =
            people.iter().map(|e| TenantContact { full_name: "=P".into(), email: e.clone(), phone: None }).collect();
        let previous = envoy_export_emails(&envoy_import_csv(&contacts));
        assert_eq!(previous.len(), 10);
        let keep = |n: usize| people.iter().take(n).collect::<std::collections::HashSet<_>>();
        assert!(check_export(&previous, &keep(8), 20.0, false).allowed);
        let held = check_export(&previous, &keep(7), 20.0, false);
        assert_eq!((held.current, held.to_revoke, held.allowed), (10, 3, false));
        assert!(check_export(&previous, &keep(0), 20.0, true).allowed);
        assert!(check_export(&Default::default(), &keep(0), 20.0, false).allowed);
    }

    #[test]
    fn the_envoy_file_has_exactly_envoys_columns() {
        let contacts = [
            TenantContact { full_name: "=cmd".into(), email: Email::parse("z@example.com").unwrap(), phone: None },
            TenantContact {
                full_name: "Ada".into(),
                email: Email::parse("a@example.com").unwrap(),
                phone: Some(Phone::from_stored("+14155552671".into())),
            },
        ];
        let text = String::from_utf8(envoy_import_csv(&contacts)).unwrap();
        assert_eq!(text, "Full Name,Email,Phone Number\r\n'=cmd,z@example.com,\r\nAda,a@example.com,+14155552671\r\n");
    }

    #[test]
    fn rejected_rows_name_the_people_replace_mode_keeps() {
        let map = map();
        let mut rejected = RejectedRows::default();
        rejected.add(&map, &row(4, &["", "Ada@Acme.example", ""]));
        rejected.add(&map, &row(5, &["Grace Hopper", "grace(at)acme", ""]));
        let contact = |name: &str, email: &str| TenantContact { full_name: name.into(), email: Email::parse(email).unwrap(), phone: None };
        assert_eq!(rejected.row_of(&contact("Ada Lovelace", "ada@acme.example")), Some(4));
        assert_eq!(rejected.row_of(&contact("grace hopper", "grace@acme.example")), Some(5));
        assert_eq!(rejected.row_of(&contact("Alan Turing", "alan@acme.example")), None);
        assert!(RejectedRows::kept(&contact("Ada", "ada@acme.example"), 4).message.starts_with("Kept: row 4 was rejected"));
    }
}
