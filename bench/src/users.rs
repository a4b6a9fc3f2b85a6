//! Synthetic user-migration exports: First Name, Last Name, E-mail Address, Role(s), Building
//! assignments, Status, plus two extra columns (Department, Employee ID), with a controllable
//! share of duplicate rows, inactive users, bad e-mail addresses, unmapped roles and unknown
//! buildings — and the users the platform already has, to seed a store with.
//!
//! User `k` is a pure function of `(seed, k)`; the row stream decides, row by row, whether the
//! next row is a new user or a duplicate of an earlier one (re-rendered, with a variation).

use crate::rng::Rng;
use crate::world::{ascii_slug, SynthBuilding, COMPANIES, DEPARTMENTS, FIRST_NAMES, LAST_NAMES, MAPPED_ROLES, UNMAPPED_ROLES};
use std::io::Write;

const ROWS: u64 = 0x5257;
const USER: u64 = 0x5553;
const DUPLICATE: u64 = 0x4455;
const EXISTING: u64 = 0x4558;

pub const USER_HEADERS: [&str; 8] =
    ["First Name", "Last Name", "E-mail Address", "Role(s)", "Building assignments", "Status", "Department", "Employee ID"];

/// What to generate. Shares are of rows (duplicates) or of users (the rest).
#[derive(Debug, Clone)]
pub struct UsersSpec {
    pub rows: u64,
    pub seed: u64,
    pub buildings: Vec<SynthBuilding>,
    pub duplicate_share: f64,
    /// Of the duplicate rows, the share whose name differs (a `conflicting_duplicate`).
    pub conflict_share: f64,
    pub inactive_share: f64,
    pub bad_email_share: f64,
    pub unmapped_role_share: f64,
    pub unknown_building_share: f64,
    /// Users with neither first nor last name.
    pub missing_name_share: f64,
    /// Status values nobody understands (`on leave`).
    pub unknown_status_share: f64,
    /// Of the valid, active users, the share the platform already has.
    pub existing_share: f64,
}

impl UsersSpec {
    pub fn new(rows: u64, seed: u64, buildings: Vec<SynthBuilding>) -> Self {
        Self {
            rows,
            seed,
            buildings,
            duplicate_share: 0.05,
            conflict_share: 0.1,
            inactive_share: 0.08,
            bad_email_share: 0.01,
            unmapped_role_share: 0.02,
            unknown_building_share: 0.01,
            missing_name_share: 0.002,
            unknown_status_share: 0.001,
            existing_share: 0.10,
        }
    }
}

/// One synthetic user as the export shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthUser {
    pub first: String,
    pub last: String,
    /// As written in the file (maybe odd case, maybe not an address at all).
    pub email: String,
    pub email_ok: bool,
    pub roles: Vec<&'static str>,
    /// References as written (name, alias or UUID), and the buildings they resolve to.
    pub building_refs: Vec<String>,
    pub building_indexes: Vec<usize>,
    pub status: &'static str,
    pub inactive: bool,
    pub department: &'static str,
    pub employee_id: String,
}

fn reference(rng: &mut Rng, building: &SynthBuilding) -> String {
    match rng.below(100) {
        0..=69 => building.name.clone(),
        70..=84 => building.alias.clone(),
        85..=94 => building.id.clone(),
        _ => building.id.to_uppercase(),
    }
}

fn bad_email(rng: &mut Rng, local: &str, domain: &str, first: &str, last: &str) -> String {
    match rng.below(5) {
        0 => String::new(),
        1 => format!("{local}(at){domain}"),
        2 => format!("{local}@{}", domain.split('.').next().unwrap_or(domain)),
        3 => format!("{first} {last}@{domain}"),
        _ => format!("{local}@@{domain}"),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// User `k` of the spec's population.
pub fn user(spec: &UsersSpec, k: u64) -> SynthUser {
    let mut rng = Rng::for_item(spec.seed, USER, k);
    let first = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let domain = *rng.pick(COMPANIES);
    let local = format!("{}.{}.{k}", ascii_slug(first), ascii_slug(last));
    let email_ok = !rng.chance(spec.bad_email_share);
    let email = if !email_ok {
        bad_email(&mut rng, &local, domain, first, last)
    } else {
        match rng.below(100) {
            0..=9 => format!("{}.{}.{k}@{}", capitalized(&ascii_slug(first)), capitalized(&ascii_slug(last)), capitalized(domain)),
            10 => format!(" {local}@{domain} "),
            _ => format!("{local}@{domain}"),
        }
    };
    let mut roles = vec![rng.weighted(MAPPED_ROLES).0];
    if rng.chance(0.15) {
        let second = rng.weighted(MAPPED_ROLES).0;
        if second != roles[0] {
            roles.push(second);
        }
    }
    if rng.chance(spec.unmapped_role_share) {
        let at = rng.below(roles.len() as u64) as usize;
        roles[at] = *rng.pick(UNMAPPED_ROLES);
    }
    let mut building_refs = Vec::new();
    let mut building_indexes = Vec::new();
    let count = if rng.chance(0.15) { 2 } else { 1 };
    for _ in 0..count {
        let index = rng.below(spec.buildings.len() as u64) as usize;
        if !building_indexes.contains(&index) {
            building_indexes.push(index);
            building_refs.push(reference(&mut rng, &spec.buildings[index]));
        }
    }
    if rng.chance(spec.unknown_building_share) {
        building_refs.push(format!("Old HQ {}", rng.below(50)));
    }
    let inactive = rng.chance(spec.inactive_share);
    let status = if inactive {
        *rng.pick(&["Inactive", "inactive", "Disabled", "no", "0"])
    } else if rng.chance(spec.unknown_status_share) {
        *rng.pick(&["on leave", "pending"])
    } else {
        *rng.pick(&["Active", "active", "Active", "Enabled", "yes", "1", "TRUE"])
    };
    let (first, last) = if rng.chance(spec.missing_name_share) { (String::new(), String::new()) } else { (first.into(), last.into()) };
    let department = if rng.chance(0.0005) { "=HYPERLINK(\"http://evil.example\",\"click\")" } else { *rng.pick(DEPARTMENTS) };
    SynthUser {
        first,
        last,
        email,
        email_ok,
        roles,
        building_refs,
        building_indexes,
        status,
        inactive,
        department,
        employee_id: format!("E{k:07}"),
    }
}

/// A duplicate row of user `k` (row `row` of the file): the same address in another case,
/// sometimes another role or building, sometimes a different first name.
fn duplicate(spec: &UsersSpec, k: u64, row: u64) -> SynthUser {
    let mut u = user(spec, k);
    let mut rng = Rng::for_item(spec.seed, DUPLICATE, row);
    if rng.chance(0.5) {
        u.email = u.email.to_uppercase();
    }
    match rng.below(10) {
        0..=1 => u.roles.push(rng.weighted(MAPPED_ROLES).0),
        2 => {
            let index = rng.below(spec.buildings.len() as u64) as usize;
            u.building_refs.push(reference(&mut rng, &spec.buildings[index]));
        }
        _ => {}
    }
    if rng.chance(spec.conflict_share) && !u.first.is_empty() {
        let other = FIRST_NAMES.iter().find(|n| !n.eq_ignore_ascii_case(&u.first)).copied().unwrap_or("Someone");
        u.first = rng.pick(&[other, "Alex", "Sam"]).to_string();
        if u.first.eq_ignore_ascii_case(&user(spec, k).first) {
            u.first = other.to_string();
        }
    }
    u
}

/// The file's rows: each is a new user or a duplicate of an earlier one.
pub struct UserRows<'a> {
    spec: &'a UsersSpec,
    stream: Rng,
    row: u64,
    uniques: u64,
}

impl<'a> UserRows<'a> {
    pub fn new(spec: &'a UsersSpec) -> Self {
        Self { spec, stream: Rng::new(spec.seed ^ ROWS), row: 0, uniques: 0 }
    }

    /// How many distinct users the rows so far introduced.
    pub fn uniques(&self) -> u64 {
        self.uniques
    }

    /// The next row's user index and whether it repeats an earlier one.
    fn next_index(&mut self) -> Option<(u64, bool)> {
        if self.row >= self.spec.rows {
            return None;
        }
        self.row += 1;
        if self.uniques > 0 && self.stream.chance(self.spec.duplicate_share) {
            return Some((self.stream.below(self.uniques), true));
        }
        self.uniques += 1;
        Some((self.uniques - 1, false))
    }
}

impl Iterator for UserRows<'_> {
    type Item = SynthUser;

    fn next(&mut self) -> Option<SynthUser> {
        let (k, repeat) = self.next_index()?;
        Some(if repeat { duplicate(self.spec, k, self.row) } else { user(self.spec, k) })
    }
}

/// Writes the export as CSV.
pub fn write_users(spec: &UsersSpec, sink: impl Write) -> std::io::Result<u64> {
    let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(sink);
    out.write_record(USER_HEADERS)?;
    let mut rows = 0;
    for u in UserRows::new(spec) {
        let separator = match u.employee_id.as_bytes()[7] % 3 {
            0 => "; ",
            1 => "|",
            _ => ", ",
        };
        let roles = u.roles.join(separator);
        let buildings = u.building_refs.join("; ");
        out.write_record([&u.first, &u.last, &u.email, &roles, &buildings, u.status, u.department, &u.employee_id])?;
        rows += 1;
    }
    out.flush()?;
    Ok(rows)
}

/// A user the platform already has: normalised address, platform roles, building UUIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingSynth {
    pub email: String,
    pub first: String,
    pub last: String,
    pub roles: Vec<String>,
    pub building_ids: Vec<String>,
}

/// The users of the export the platform already has (`existing_share` of the valid, active
/// ones): half with every planned role (`no_change` unless a building is missing), half with
/// only `Tenant User` (`add_roles`).
pub fn existing_users(spec: &UsersSpec) -> Vec<ExistingSynth> {
    let mut rows = UserRows::new(spec);
    while rows.next_index().is_some() {}
    let mut out = Vec::new();
    for k in 0..rows.uniques() {
        let mut rng = Rng::for_item(spec.seed, EXISTING, k);
        if !rng.chance(spec.existing_share) {
            continue;
        }
        let u = user(spec, k);
        if !u.email_ok || u.inactive {
            continue;
        }
        let mut roles: Vec<String> = Vec::new();
        if rng.chance(0.5) {
            for old in &u.roles {
                for (_, (name, platform)) in MAPPED_ROLES {
                    if name == old {
                        roles.extend(platform.iter().map(|r| r.to_string()));
                    }
                }
            }
        } else {
            roles.push("Tenant User".into());
        }
        roles.sort();
        roles.dedup();
        let building_ids = u.building_indexes.iter().map(|&i| spec.buildings[i].id.clone()).collect();
        out.push(ExistingSynth { email: u.email.trim().to_lowercase(), first: u.first, last: u.last, roles, building_ids });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::buildings;

    #[test]
    fn shares_come_out_roughly_as_asked_and_files_are_deterministic() {
        let spec = UsersSpec::new(20_000, 7, buildings(7, 40));
        let rows: Vec<SynthUser> = UserRows::new(&spec).collect();
        let share = |n: usize| n as f64 / rows.len() as f64;
        let bad = rows.iter().filter(|u| !u.email_ok).count();
        let inactive = rows.iter().filter(|u| u.inactive).count();
        assert!((0.005..0.02).contains(&share(bad)), "{bad}");
        assert!((0.06..0.10).contains(&share(inactive)), "{inactive}");
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_users(&spec, &mut a).unwrap();
        write_users(&spec, &mut b).unwrap();
        assert_eq!(a, b);
        let existing = existing_users(&spec);
        assert!(existing.len() > 1000 && existing.len() < 2500, "{}", existing.len());
    }
}
