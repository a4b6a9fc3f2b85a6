//! Phone numbers, parsed as people write them and kept in E.164 form.
//!
//! `phonenumber` knows every numbering plan, but each of its pattern matches goes through a
//! shared, locked cache keyed by the pattern's text (kilobytes for the US), so a number costs
//! ~30 µs: most of a tenant file's time. Numbers written plainly in the North American plan, the
//! bulk of the files this product sees, take a path of their own ([`nanp`]) that asks the same
//! question of the same patterns, compiled once; everything else goes to `phonenumber`.

use serde::{Deserialize, Serialize};

/// A phone number in E.164 form (`+14155550123`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Phone(String);

/// How many parsed numbers a thread remembers (see [`Phone::parse`]): a few MB at most.
const PHONES_REMEMBERED: usize = 50_000;

thread_local! {
    static PHONES: std::cell::RefCell<PhoneMemo> = std::cell::RefCell::new(PhoneMemo::default());
}

/// Parsed numbers of one region by their text (another region starts afresh).
#[derive(Default)]
struct PhoneMemo {
    region: Option<phonenumber::country::Id>,
    parsed: std::collections::HashMap<Box<str>, Option<Phone>>,
}

/// The region used for numbers written without a country code, e.g. `US` or `GB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneRegion {
    id: phonenumber::country::Id,
    /// Whether the region dials country code 1 (the North American plan).
    nanp: bool,
}

impl PhoneRegion {
    pub fn parse(code: &str) -> Option<Self> {
        let id: phonenumber::country::Id = code.trim().to_uppercase().parse().ok()?;
        Some(Self::of(id))
    }

    fn of(id: phonenumber::country::Id) -> Self {
        let nanp = phonenumber::metadata::DATABASE.by_id(id.as_ref()).is_some_and(|meta| meta.country_code() == 1);
        Self { id, nanp }
    }
}

impl Default for PhoneRegion {
    fn default() -> Self {
        Self::of(phonenumber::country::Id::US)
    }
}

impl Phone {
    /// Parses a number as people write it (`(415) 555-0123`, `+44 20 7946 0958`, `0044…`).
    ///
    /// A plain North American number is answered by [`nanp`]. Other numbers cost tens of
    /// microseconds, and files repeat numbers (a building's front desk, a company's
    /// switchboard): each thread remembers the last [`PHONES_REMEMBERED`] of those answers.
    pub fn parse(raw: &str, region: PhoneRegion) -> Option<Self> {
        let raw = raw.trim();
        if raw.len() > 40 {
            return None;
        }
        if let Some(answer) = nanp::parse(raw, region) {
            return answer;
        }
        PHONES.with(|cell| {
            let mut memo = cell.borrow_mut();
            if memo.region != Some(region.id) || memo.parsed.len() >= PHONES_REMEMBERED {
                memo.parsed.clear();
                memo.region = Some(region.id);
            }
            if let Some(known) = memo.parsed.get(raw) {
                return known.clone();
            }
            let parsed = Self::parse_by_the_library(raw, region);
            memo.parsed.insert(Box::from(raw), parsed.clone());
            parsed
        })
    }

    fn parse_by_the_library(raw: &str, region: PhoneRegion) -> Option<Self> {
        let number = phonenumber::parse(Some(region.id), raw).ok()?;
        if !phonenumber::is_valid(&number) {
            return None;
        }
        Some(Self(number.format().mode(phonenumber::Mode::E164).to_string()))
    }

    /// Trusts a value that was stored in E.164 form by this program.
    pub fn from_stored(e164: String) -> Self {
        Self(e164)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Plain numbers of the North American Numbering Plan (country code 1: the US, Canada and the
/// Caribbean), answered without `phonenumber`'s parser and pattern cache.
///
/// "Plain" is ten digits, or eleven starting with the country code 1 (with or without `+`),
/// separated only by spaces, hyphens, dots and parentheses, the area code starting 2–9; anything
/// else (letters, extensions, other countries, seven-digit local numbers) is not ours to
/// answer. Validity is `phonenumber`'s own rule on its own metadata: the first region of code 1
/// whose leading digits match, or, for a region without leading digits, whose patterns know the
/// number, decides; the number is valid if it matches that region's general pattern and the
/// pattern of one of its number types. A unit test compares the two paths on many thousands of
/// numbers.
mod nanp {
    use super::{Phone, PhoneRegion};
    use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
    use regex::{Regex, RegexBuilder};
    use std::sync::OnceLock;

    /// `Some(answer)` for a plain number of a region of code 1; `None` for the library to answer.
    pub(super) fn parse(raw: &str, region: PhoneRegion) -> Option<Option<Phone>> {
        if !region.nanp {
            return None;
        }
        let (plus, body) = match raw.strip_prefix('+') {
            Some(body) => (true, body),
            None => (false, raw),
        };
        let mut digits = [0u8; 11];
        let mut count = 0;
        for byte in body.bytes() {
            match byte {
                b'0'..=b'9' => {
                    *digits.get_mut(count)? = byte;
                    count += 1;
                }
                b' ' | b'-' | b'.' | b'(' | b')' => {}
                _ => return None,
            }
        }
        let national = match (plus, count) {
            (false, 10) => &digits[..10],
            (_, 11) if digits[0] == b'1' => &digits[1..],
            _ => return None,
        };
        if !(b'2'..=b'9').contains(&national[0]) {
            return None;
        }
        let national = std::str::from_utf8(national).ok()?;
        let valid = plan()?.is_valid(national)?;
        Some(valid.then(|| Phone(format!("+1{national}"))))
    }

    fn plan() -> Option<&'static Plan> {
        static PLAN: OnceLock<Option<Plan>> = OnceLock::new();
        PLAN.get_or_init(Plan::load).as_ref()
    }

    /// The regions of code 1 in the library's order. A region's patterns are compiled when a
    /// number first needs them: the US's serve nearly every number, and compiling all 25
    /// regions' at once took 140 ms, more than a small file's numbers cost the library.
    struct Plan {
        regions: Vec<Region>,
    }

    struct Region {
        meta: &'static Metadata,
        /// The pattern that picks this region (none for the first, the US): `None` outside if
        /// it does not compile.
        leading_digits: OnceLock<Option<Option<Regex>>>,
        patterns: OnceLock<Option<Patterns>>,
    }

    struct Patterns {
        general: Pattern,
        types: Vec<Pattern>,
    }

    /// A descriptor's national-number pattern and lengths, as `Descriptor::is_match` reads them.
    struct Pattern {
        regex: Regex,
        lengths: Vec<u16>,
    }

    impl Plan {
        /// `None` if the metadata lacks code 1: the library then answers every number.
        fn load() -> Option<Self> {
            let database: &'static phonenumber::metadata::Database = &DATABASE;
            let regions = database.region(&1)?;
            let regions = regions
                .iter()
                .map(|id| Some(Region { meta: database.by_id(*id)?, leading_digits: OnceLock::new(), patterns: OnceLock::new() }))
                .collect::<Option<Vec<_>>>()?;
            Some(Self { regions })
        }

        /// `None` if a pattern it needed does not compile (the library answers then).
        fn is_valid(&self, national: &str) -> Option<bool> {
            for region in &self.regions {
                match region.leading_digits()? {
                    Some(leading) if leading.is_match(national) => return Some(region.patterns()?.know(national)),
                    Some(_) => {}
                    None if region.patterns()?.know(national) => return Some(true),
                    None => {}
                }
            }
            Some(false)
        }
    }

    impl Region {
        fn leading_digits(&self) -> Option<&Option<Regex>> {
            let compiled = self.leading_digits.get_or_init(|| match self.meta.leading_digits() {
                Some(pattern) => anchored(pattern.as_str()).map(Some),
                None => Some(None),
            });
            compiled.as_ref()
        }

        fn patterns(&self) -> Option<&Patterns> {
            self.patterns.get_or_init(|| Patterns::load(self.meta)).as_ref()
        }
    }

    impl Patterns {
        fn load(meta: &Metadata) -> Option<Self> {
            let descriptors = meta.descriptors();
            let types = [
                descriptors.premium_rate(),
                descriptors.toll_free(),
                descriptors.shared_cost(),
                descriptors.voip(),
                descriptors.personal_number(),
                descriptors.pager(),
                descriptors.uan(),
                descriptors.voicemail(),
                descriptors.fixed_line(),
                descriptors.mobile(),
            ];
            Some(Self {
                general: Pattern::load(descriptors.general())?,
                types: types.into_iter().flatten().map(Pattern::load).collect::<Option<_>>()?,
            })
        }

        /// The library's `number_type(..) != Unknown`.
        fn know(&self, national: &str) -> bool {
            self.general.matches(national) && self.types.iter().any(|pattern| pattern.matches(national))
        }
    }

    impl Pattern {
        fn load(descriptor: &Descriptor) -> Option<Self> {
            Some(Self { regex: anchored(descriptor.national_number().as_str())?, lengths: descriptor.possible_length().to_vec() })
        }

        fn matches(&self, national: &str) -> bool {
            let length_ok = self.lengths.is_empty() || u16::try_from(national.len()).is_ok_and(|len| self.lengths.contains(&len));
            length_ok && self.regex.is_match(national)
        }
    }

    /// The library compiles its patterns ignoring whitespace and asks for a match that starts at
    /// the first digit. The newline ends any comment before the closing parenthesis.
    fn anchored(pattern: &str) -> Option<Regex> {
        RegexBuilder::new(&format!("^(?:{pattern}\n)")).ignore_whitespace(true).build().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_become_e164_with_the_default_region() {
        let us = PhoneRegion::parse("us").unwrap();
        assert_eq!(Phone::parse("(415) 555-2671", us).unwrap().as_str(), "+14155552671");
        assert_eq!(Phone::parse("+44 20 7946 0958", us).unwrap().as_str(), "+442079460958");
        let gb = PhoneRegion::parse("GB").unwrap();
        assert_eq!(Phone::parse("020 7946 0958", gb).unwrap().as_str(), "+442079460958");
        assert!(Phone::parse("12", us).is_none());
        assert!(Phone::parse("call me", us).is_none());
    }

    /// A small deterministic generator (xorshift), so the comparison covers the same numbers
    /// each run.
    struct Numbers(u64);

    impl Numbers {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        /// Ten digits (any area code, any exchange, 0–1 included) written one of the ways
        /// people write them, sometimes with the country code, sometimes with separators
        /// anywhere.
        fn written(&mut self) -> String {
            let digits: String = (0..10).map(|_| char::from(b'0' + self.below(10) as u8)).collect();
            let (area, exchange, line) = (&digits[..3], &digits[3..6], &digits[6..]);
            match self.below(12) {
                0 => format!("({area}) {exchange}-{line}"),
                1 => format!("{area}-{exchange}-{line}"),
                2 => format!("{area}.{exchange}.{line}"),
                3 => format!("+1 {area} {exchange} {line}"),
                4 => format!("1-{area}-{exchange}-{line}"),
                5 => format!("+1 ({area}) {exchange}-{line}"),
                6 => format!("1{digits}"),
                7 => format!("+{digits}"),
                8 => digits[..self.below(10) as usize].to_string(),
                9 => format!("{digits}{}", self.below(10)),
                10 => {
                    let separators = [" ", "-", ".", "(", ")", "  ", ") ", ""];
                    digits.chars().map(|d| format!("{d}{}", separators[self.below(8) as usize])).collect()
                }
                _ => digits,
            }
        }
    }

    /// The fast path answers what the library answers, for every number it takes.
    #[test]
    fn plain_north_american_numbers_get_the_library_answer_without_it() {
        for region in ["US", "CA", "JM"] {
            let region = PhoneRegion::parse(region).unwrap();
            let mut numbers = Numbers(0x9e37_79b9_7f4a_7c15);
            let (mut taken, mut valid) = (0, 0);
            for _ in 0..30_000 {
                let raw = numbers.written();
                if let Some(answer) = nanp::parse(&raw, region) {
                    taken += 1;
                    valid += usize::from(answer.is_some());
                    assert_eq!(answer, Phone::parse_by_the_library(&raw, region), "{raw:?} in {region:?}");
                }
            }
            // Most of these are plain, and both valid and invalid numbers were compared.
            assert!(taken > 15_000, "{taken} taken in {region:?}");
            assert!(valid > 5_000 && taken - valid > 1_000, "{valid} valid of {taken} in {region:?}");
        }
    }

    #[test]
    fn every_area_code_is_judged_as_the_library_judges_it() {
        let us = PhoneRegion::default();
        for area in 200..1000 {
            for exchange in ["200", "555", "911", "976"] {
                let raw = format!("{area}{exchange}0123");
                assert_eq!(nanp::parse(&raw, us), Some(Phone::parse_by_the_library(&raw, us)), "{raw}");
            }
        }
    }

    #[test]
    fn other_numbers_are_left_to_the_library() {
        let us = PhoneRegion::default();
        for raw in
            ["+44 20 7946 0958", "415-555-0123 x12", "555-0123", "1-800-FLOWERS", "+415 555 0123", "011 44 20 7946 0958", "0415550123"]
        {
            assert_eq!(nanp::parse(raw, us), None, "{raw}");
        }
        assert_eq!(nanp::parse("4155552671", PhoneRegion::parse("GB").unwrap()), None);
        assert_eq!(Phone::parse("415-555-2671 ext. 12", us).map(|p| p.0), Some("+14155552671".to_string()));
    }
}
