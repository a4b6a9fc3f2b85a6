//! E-mail addresses: trimmed, lower-cased and checked, with a fast path for the plain ones.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An e-mail address, trimmed and lower-cased (addresses are compared case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the e-mail address is empty")]
    Empty,
    #[error("this is not a valid e-mail address")]
    Invalid,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        Self::normalize(raw).map(|address| Self(address.into_owned()))
    }

    /// What [`Email::parse`] would hold, borrowed from `raw` when it is already trimmed and
    /// lower case (most addresses in an export): intake checks every row without allocating.
    pub(crate) fn normalize(raw: &str) -> Result<std::borrow::Cow<'_, str>, EmailError> {
        let mut trimmed = crate::text::trim(raw);
        // First bytes looked at before any string compare: few addresses start with an `m`,
        // fewer with a `<`.
        while trimmed.as_bytes().first() == Some(&b'm') {
            let Some(rest) = trimmed.strip_prefix("mailto:") else { break };
            trimmed = rest;
        }
        if trimmed.as_bytes().first() == Some(&b'<') && trimmed.as_bytes().last() == Some(&b'>') {
            trimmed = &trimmed[1..trimmed.len() - 1];
        }
        let trimmed = crate::text::trim(trimmed);
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if plainly_valid(trimmed) {
            return Ok(if trimmed.bytes().any(|b| b.is_ascii_uppercase()) {
                std::borrow::Cow::Owned(trimmed.to_ascii_lowercase())
            } else {
                std::borrow::Cow::Borrowed(trimmed)
            });
        }
        if trimmed.len() > 254 || trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::Invalid);
        }
        let parsed: email_address::EmailAddress = trimmed.parse().map_err(|_| EmailError::Invalid)?;
        let domain = parsed.domain();
        // Real mailboxes live on a dotted domain; `x@localhost` and `x@[1.2.3.4]` are typos here.
        let dotted = domain.contains('.') && !domain.starts_with('[') && !domain.ends_with('.');
        if !dotted || parsed.local_part().starts_with('"') {
            return Err(EmailError::Invalid);
        }
        Ok(std::borrow::Cow::Owned(trimmed.to_lowercase()))
    }

    /// An address [`Email::normalize`] gave (the dedupe store keeps addresses as text).
    pub fn from_normalized(address: String) -> Self {
        Self(address)
    }

    /// Makes this the address `write` puts into the (cleared) buffer, which must be one
    /// [`Email::normalize`] gave.
    pub fn set_normalized_with(&mut self, write: impl FnOnce(&mut String)) {
        self.0.clear();
        write(&mut self.0);
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A log-safe tag for this address.
    pub fn redacted(&self) -> String {
        crate::text::redact(&self.0)
    }
}

/// Characters of an unquoted local part (RFC 5322 `atext`), ASCII only.
fn is_atext(b: u8) -> bool {
    ATEXT[usize::from(b)]
}

/// [`is_atext`] as a table: one load per byte of every address of an export.
const ATEXT: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let specials = b"!#$%&'*+-/=?^_`{|}~";
    let mut i = 0;
    while i < specials.len() {
        table[specials[i] as usize] = true;
        i += 1;
    }
    table
};

/// The fast path of [`Email::parse`]: true only for the everyday shape of an address — ASCII,
/// `dot-atom@label.label`, labels starting and ending with a letter or digit, within the length
/// limits — which the full parser and the dotted-domain rule accept too. Anything else (quotes,
/// brackets, display names, non-ASCII, odd dots) returns false and goes through the full parser,
/// so the answer is the same either way, only faster for ordinary addresses. One pass over the
/// bytes: it runs once per row of a large export.
fn plainly_valid(address: &str) -> bool {
    let bytes = address.as_bytes();
    let Some(at) = bytes.iter().position(|&b| b == b'@') else { return false };
    let (local, domain) = (&bytes[..at], &bytes[at + 1..]);
    if bytes.len() > 254 || local.is_empty() || local.len() > 64 || domain.is_empty() {
        return false;
    }
    // The local part: atoms of `atext` joined by single dots.
    let mut previous = b'.';
    for &b in local {
        let ok = if b == b'.' { previous != b'.' } else { is_atext(b) };
        if !ok {
            return false;
        }
        previous = b;
    }
    if previous == b'.' {
        return false;
    }
    // The domain: at least two labels of letters, digits and hyphens, each at most 63 bytes,
    // starting and ending with a letter or digit. (A second `@` fails here, as in the labels.)
    let (mut dots, mut label, mut previous) = (0usize, 0usize, b'.');
    for &b in domain {
        if b == b'.' {
            if !previous.is_ascii_alphanumeric() {
                return false;
            }
            dots += 1;
            label = 0;
        } else if b.is_ascii_alphanumeric() || (b == b'-' && previous != b'.') {
            label += 1;
            if label > 63 {
                return false;
            }
        } else {
            return false;
        }
        previous = b;
    }
    dots > 0 && previous.is_ascii_alphanumeric()
}

impl TryFrom<String> for Email {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// Lets a map keyed by `Email` be searched with a normalised `&str` (the same hash and order).
impl std::borrow::Borrow<str> for Email {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_validated() {
        assert_eq!(Email::parse("  Ada.Lovelace@Example.COM ").unwrap().as_str(), "ada.lovelace@example.com");
        assert_eq!(Email::parse("<ada@example.com>").unwrap().as_str(), "ada@example.com");
        // Links copied out of a mail client, and addresses that merely start like one.
        assert_eq!(Email::parse(" mailto:Ada@Example.com ").unwrap().as_str(), "ada@example.com");
        assert_eq!(Email::parse("mailto:mailto:ada@example.com").unwrap().as_str(), "ada@example.com");
        assert_eq!(Email::parse("mail@example.com").unwrap().as_str(), "mail@example.com");
        assert_eq!(Email::parse("< ada@example.com >").unwrap().as_str(), "ada@example.com");
        assert_eq!(Email::parse("<>"), Err(EmailError::Empty));
        assert_eq!(Email::parse("mailto:"), Err(EmailError::Empty));
        assert_eq!(Email::parse("<"), Err(EmailError::Invalid));
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        for bad in ["ada", "ada@", "@example.com", "ada@localhost", "ada @example.com", "a\r\nb@x.com", "ada@example..com"] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad:?}");
        }
    }

    /// The full parser's answer, without the fast path.
    fn slow(raw: &str) -> Option<String> {
        let parsed: email_address::EmailAddress = raw.parse().ok()?;
        let domain = parsed.domain();
        let ok = domain.contains('.') && !domain.starts_with('[') && !domain.ends_with('.') && !parsed.local_part().starts_with('"');
        (ok && raw.len() <= 254 && !raw.chars().any(|c| c.is_whitespace() || c.is_control())).then(|| raw.to_lowercase())
    }

    #[test]
    fn the_fast_path_accepts_only_what_the_full_parser_accepts() {
        let fixed = [
            "a@b.co",
            "A.B-C+d@x-y.example.org",
            "a..b@x.com",
            ".a@x.com",
            "a.@x.com",
            "a@x..com",
            "a@-x.com",
            "a@x-.com",
            "a@x.com.",
            "a@x",
            "a@x_y.com",
            "a@[1.2.3.4]",
            "\"a\"@x.com",
            "a b@x.com",
            "a@b@x.com",
            "Ada <a@x.com>",
            "a@é.com",
            "é@x.com",
            "!#$%&'*+-/=?^_`{|}~@x.com",
            "a@1.2",
            "a@x.c-m",
            &format!("{}@x.com", "a".repeat(65)),
            &format!("a@{}.com", "b".repeat(64)),
        ];
        for raw in fixed {
            if plainly_valid(raw) {
                assert_eq!(slow(raw), Some(raw.to_ascii_lowercase()), "{raw:?}");
            }
        }
        // Random strings over the characters that matter.
        let alphabet = b"aZ9.-_@+\"[] <>!#";
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..200_000 {
            let len = 3 + (state % 12) as usize;
            let mut s = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(alphabet[(state % alphabet.len() as u64) as usize] as char);
            }
            if plainly_valid(&s) {
                assert_eq!(slow(&s), Some(s.to_ascii_lowercase()), "{s:?}");
            }
        }
        assert!(plainly_valid("ada.lovelace.12@acme.example"));
    }

    /// The fast path as it was first written, with the standard library's splitting.
    fn plainly_valid_by_splitting(address: &str) -> bool {
        let Some((local, domain)) = address.split_once('@') else { return false };
        let dots_ok = |part: &str, max: usize| !part.is_empty() && part.len() <= max && part.split('.').all(|atom| !atom.is_empty());
        if address.len() > 254 || !dots_ok(local, 64) || !dots_ok(domain, 254) || !domain.contains('.') {
            return false;
        }
        if !local.bytes().all(|b| b == b'.' || is_atext(b)) {
            return false;
        }
        domain.split('.').all(|label| {
            let bytes = label.as_bytes();
            bytes.len() <= 63
                && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
                && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
                && bytes.iter().all(|&b| b == b'-' || b.is_ascii_alphanumeric())
        })
    }

    #[test]
    fn the_atext_table_is_rfc_5322_atext() {
        for b in 0..=255u8 {
            assert_eq!(is_atext(b), b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b), "{b}");
        }
    }

    #[test]
    fn the_one_pass_fast_path_agrees_with_splitting() {
        let long_local = format!("{}@x.com", "a".repeat(64));
        let long_label = format!("a@{}.com", "b".repeat(63));
        let long_address = format!("a@{}.com", "b.".repeat(126));
        for fixed in
            ["a@b.c", "a@b", "@b.c", "a@.b", "a@b.", "a.@b.c", ".a@b.c", "a@b-.c", "a@-b.c", "a@b.-c", "a@b@c.d", "", "@", "a@b..c"]
        {
            assert_eq!(plainly_valid(fixed), plainly_valid_by_splitting(fixed), "{fixed:?}");
        }
        for fixed in [long_local.as_str(), &long_label, &long_address, &format!("a{long_local}"), &format!("{long_label}b")] {
            assert_eq!(plainly_valid(fixed), plainly_valid_by_splitting(fixed), "{fixed:?}");
        }
        let alphabet = ['a', 'Z', '9', '.', '-', '_', '@', '+', '"', 'é', ' '];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..300_000 {
            let len = (state % 14) as usize;
            let mut s = String::new();
            for _ in 0..len {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            assert_eq!(plainly_valid(&s), plainly_valid_by_splitting(&s), "{s:?}");
        }
    }
}
