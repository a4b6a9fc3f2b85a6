//! Synthetic tenant-contact files (Full Name, Email, Phone Number) with a controllable share of
//! duplicates, bad e-mail addresses, missing names and bad phone numbers; phones in the many
//! ways people write them.

use crate::rng::Rng;
use crate::world::{ascii_slug, COMPANIES, FIRST_NAMES, LAST_NAMES};
use std::io::Write;

const ROWS: u64 = 0x5452;
const CONTACT: u64 = 0x5443;

#[derive(Debug, Clone)]
pub struct TenantsSpec {
    pub rows: u64,
    pub seed: u64,
    pub duplicate_share: f64,
    pub bad_email_share: f64,
    pub missing_name_share: f64,
    pub bad_phone_share: f64,
    pub no_phone_share: f64,
}

impl TenantsSpec {
    pub fn new(rows: u64, seed: u64) -> Self {
        Self {
            rows,
            seed,
            duplicate_share: 0.03,
            bad_email_share: 0.01,
            missing_name_share: 0.005,
            bad_phone_share: 0.01,
            no_phone_share: 0.3,
        }
    }
}

const AREA_CODES: &[u32] = &[212, 310, 415, 617, 312, 646, 206, 512, 303, 404, 617, 702, 305, 214];

fn phone(rng: &mut Rng, spec: &TenantsSpec) -> String {
    if rng.chance(spec.no_phone_share) {
        return String::new();
    }
    if rng.chance(spec.bad_phone_share) {
        return rng.pick(&["12", "call me", "555-CALL", "000"]).to_string();
    }
    let area = *rng.pick(AREA_CODES);
    let exchange = 200 + rng.below(800) as u32;
    let exchange = if exchange % 100 == 11 { exchange + 1 } else { exchange };
    let line = rng.below(10_000);
    match rng.below(20) {
        0..=5 => format!("({area}) {exchange}-{line:04}"),
        6..=9 => format!("{area}-{exchange}-{line:04}"),
        10..=11 => format!("{area}.{exchange}.{line:04}"),
        12..=15 => format!("+1 {area} {exchange} {line:04}"),
        16..=17 => format!("{area}{exchange}{line:04}"),
        _ => format!("+44 20 7946 {:04}", line % 1000),
    }
}

/// Contact `k`: (full name, e-mail as written, phone as written).
pub fn contact(spec: &TenantsSpec, k: u64) -> (String, String, String) {
    let mut rng = Rng::for_item(spec.seed, CONTACT, k);
    let first = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let domain = *rng.pick(COMPANIES);
    let name = if rng.chance(spec.missing_name_share) { String::new() } else { format!("{first} {last}") };
    let local = format!("{}.{}.{k}", ascii_slug(first), ascii_slug(last));
    let email = if rng.chance(spec.bad_email_share) {
        match rng.below(3) {
            0 => String::new(),
            1 => format!("{local}(at){domain}"),
            _ => format!("{local}@{}", domain.split('.').next().unwrap_or(domain)),
        }
    } else {
        format!("{local}@{domain}")
    };
    (name, email, phone(&mut rng, spec))
}

/// Writes the contacts file as CSV; duplicates repeat an earlier contact's address in upper
/// case, sometimes with the name in another case and a phone the first row lacked.
pub fn write_tenants(spec: &TenantsSpec, sink: impl Write) -> std::io::Result<u64> {
    let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(sink);
    out.write_record(["Full Name", "Email", "Phone Number"])?;
    let mut stream = Rng::new(spec.seed ^ ROWS);
    let mut uniques = 0u64;
    for _ in 0..spec.rows {
        let (name, email, phone) = if uniques > 0 && stream.chance(spec.duplicate_share) {
            let (name, email, phone) = contact(spec, stream.below(uniques));
            let name = if stream.chance(0.3) { name.to_uppercase() } else { name };
            (name, email.to_uppercase(), phone)
        } else {
            uniques += 1;
            contact(spec, uniques - 1)
        };
        out.write_record([name, email, phone])?;
    }
    out.flush()?;
    Ok(spec.rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_mostly_parse_and_files_are_deterministic() {
        let spec = TenantsSpec::new(2000, 3);
        let region = onboarding::domain::values::PhoneRegion::default();
        let phones: Vec<String> = (0..2000).map(|k| contact(&spec, k).2).filter(|p| !p.is_empty()).collect();
        let valid = phones.iter().filter(|p| onboarding::domain::values::Phone::parse(p, region).is_some()).count();
        assert!(valid as f64 > phones.len() as f64 * 0.9, "{valid} of {}", phones.len());
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_tenants(&spec, &mut a).unwrap();
        write_tenants(&spec, &mut b).unwrap();
        assert_eq!(a, b);
    }
}
