//! Small text rules shared by every format: header keys, single-line values, spreadsheet safety.

/// The key a header is matched by: lower case, letters and digits only.
/// `E-mail Address`, `email_address` and ` EMAIL ADDRESS ` all become `emailaddress`.
pub(crate) fn header_key(header: &str) -> String {
    header.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// `text` with its first letter upper case: "tenant" → "Tenant".
pub(crate) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Calls `f` with the [`header_key`] of `text`, without allocating for short ASCII text (role
/// names, building names, status words: looked up once per row of a large file).
pub fn with_header_key<R>(text: &str, f: impl FnOnce(&str) -> R) -> R {
    const MAX: usize = 64;
    if text.len() > MAX || !text.is_ascii() {
        return f(&header_key(text));
    }
    let mut buffer = [0u8; MAX];
    let mut len = 0;
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() {
            buffer[len] = byte.to_ascii_lowercase();
            len += 1;
        }
    }
    // Only ASCII letters and digits were copied, so this is valid UTF-8.
    f(std::str::from_utf8(&buffer[..len]).unwrap_or_default())
}

/// [`single_line`], borrowing `value` when it is already one trimmed line (the usual case): no
/// white space or control character but single spaces between words. One pass over the bytes;
/// only text with non-ASCII letters (`Søren`) looks at characters.
pub(crate) fn single_line_cow(value: &str) -> std::borrow::Cow<'_, str> {
    let bytes = value.as_bytes();
    let mut plain = bytes.first() != Some(&b' ') && bytes.last() != Some(&b' ');
    let mut previous = 0u8;
    for &b in bytes {
        if (b < 0x80 && !(b' '..=b'~').contains(&b)) || (b == b' ' && previous == b' ') {
            plain = false;
            break;
        }
        previous = b;
    }
    if plain && !value.is_ascii() {
        plain = value.chars().all(|c| c == ' ' || !(c.is_whitespace() || c.is_control()));
    }
    if plain {
        std::borrow::Cow::Borrowed(value)
    } else {
        std::borrow::Cow::Owned(single_line(value))
    }
}

/// Trims and folds every run of white space and control characters (CR, LF, tab, NUL...) into one
/// space, so a value can never break a line in a mail header, a log line or a report.
pub fn single_line(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut pending_space = false;
    for c in value.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// A cell that a spreadsheet will show as text and never evaluate: values starting with `=`, `+`,
/// `-`, `@`, tab or carriage return get a leading apostrophe (OWASP's advice for CSV injection).
/// A phone number in E.164 form (`+` and digits only) is left alone: it cannot form a formula,
/// and Envoy's import needs the plus.
pub(crate) fn spreadsheet_safe(value: &str) -> std::borrow::Cow<'_, str> {
    let e164 = (9..=16).contains(&value.len()) && value.starts_with('+') && value[1..].bytes().all(|b| b.is_ascii_digit());
    if e164 {
        return std::borrow::Cow::Borrowed(value);
    }
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => std::borrow::Cow::Owned(format!("'{value}")),
        _ => std::borrow::Cow::Borrowed(value),
    }
}

/// Splits a multi-valued cell (roles, buildings) on `;`, `|`, `,` or newlines; trims each part and
/// drops empty ones.
pub(crate) fn split_multi(cell: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(cell);
    std::iter::from_fn(move || loop {
        let text = rest?;
        let (part, after) = match text.as_bytes().iter().position(|&b| is_separator(b)) {
            Some(at) => (&text[..at], Some(&text[at + 1..])),
            None => (text, None),
        };
        rest = after;
        let part = trim(part);
        if !part.is_empty() {
            return Some(part);
        }
    })
}

/// The bytes that separate the values of a multi-valued cell. They are ASCII, so splitting the
/// bytes never cuts a character in two.
fn is_separator(b: u8) -> bool {
    matches!(b, b';' | b'|' | b',' | b'\n' | b'\r')
}

/// Whether a multi-valued cell is one value that [`split_multi`] and [`single_line_cow`] leave
/// as it is (most cells of an export): printable ASCII, no separator, no space at either end or
/// twice in a row. One pass over the bytes, where splitting, trimming and folding take three.
pub(crate) fn is_one_plain_value(cell: &str) -> bool {
    let bytes = cell.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else { return false };
    if first == b' ' || last == b' ' {
        return false;
    }
    let mut previous = 0u8;
    for &b in bytes {
        if !(b' '..=b'~').contains(&b) || is_separator(b) || (b == b' ' && previous == b' ') {
            return false;
        }
        previous = b;
    }
    true
}

/// `text.trim()`, answered without the Unicode tables when the text starts and ends with a
/// visible ASCII character (nearly every cell of an export).
pub fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// A short, stable, non-reversible tag for an e-mail address or phone number, for logs.
pub fn redact(value: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(value.trim().to_lowercase().as_bytes());
    format!("h:{}", hex::encode(&digest[..6]))
}

/// `text` with every e-mail address in it replaced by its [`redact`] tag, for logging error
/// texts of other services (SES names the addresses it refuses).
pub fn redact_addresses(text: &str) -> String {
    let local = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let domain = |c: char| c.is_ascii_alphanumeric() || ".-".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let start = rest[..at].rfind(|c: char| !local(c)).map_or(0, |i| i + rest[i..].chars().next().map_or(1, char::len_utf8));
        let mut end = rest[at + 1..].find(|c: char| !domain(c)).map_or(rest.len(), |i| at + 1 + i);
        // A sentence's full stop after the address is not part of it.
        while end > at + 1 && rest[..end].ends_with('.') {
            end -= 1;
        }
        let candidate = &rest[start..end];
        out.push_str(&rest[..start]);
        if start < at && rest[at + 1..end].contains('.') {
            out.push_str(&redact(candidate));
        } else {
            out.push_str(candidate);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Cuts a value for display in a message, so a 10 MB cell does not become a 10 MB message.
pub fn preview(value: &str, max_chars: usize) -> String {
    if value.chars().count() <= max_chars {
        return value.to_string();
    }
    let cut: String = value.chars().take(max_chars).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_keys_ignore_case_space_and_punctuation() {
        assert_eq!(header_key(" E-mail Address "), "emailaddress");
        assert_eq!(header_key("Role(s)"), "roles");
        assert_eq!(header_key("Building_Assignments"), "buildingassignments");
    }

    #[test]
    fn single_line_removes_line_breaks_and_controls() {
        assert_eq!(single_line("  Ada\r\nBcc: x@y.z\t Lovelace\0 "), "Ada Bcc: x@y.z Lovelace");
        assert_eq!(single_line("\n\n"), "");
    }

    #[test]
    fn the_fast_paths_agree_with_the_general_rules() {
        let texts = [
            "",
            " a ",
            "a  b",
            "Ada Lovelace",
            "Zoë  Ng\t",
            "x\r\ny",
            "One-Market Plaza",
            "é",
            "  ",
            "a\u{a0}b",
            &"Ab-".repeat(30),
            "Søren Ng",
            "Søren\u{85}",
            "\u{2003}é",
            "é ",
            " é",
            "é  ø",
            "é\u{9f}",
            "\u{7f}",
        ];
        for text in texts {
            assert_eq!(single_line_cow(text), single_line(text), "{text:?}");
            assert_eq!(with_header_key(text, str::to_string), header_key(text), "{text:?}");
        }
    }

    #[test]
    fn the_trim_shortcut_is_trim() {
        for text in ["", " ", "a", " a", "a ", "\u{a0}a", "a\u{2003}", "é", "ab", "\ta\n", "~"] {
            assert_eq!(trim(text), text.trim(), "{text:?}");
        }
    }

    #[test]
    fn spreadsheet_safe_neutralises_formula_starts() {
        for bad in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(spreadsheet_safe(bad).starts_with('\''), "{bad:?}");
        }
        assert_eq!(spreadsheet_safe("Ada"), "Ada");
        assert_eq!(spreadsheet_safe("+14155552671"), "+14155552671");
        assert_eq!(spreadsheet_safe("+1+1"), "'+1+1");
        assert_eq!(spreadsheet_safe(""), "");
    }

    #[test]
    fn split_multi_accepts_every_separator() {
        let parts: Vec<_> = split_multi(" Host; Admin|Coordinator ,\nGuest,, ").collect();
        assert_eq!(parts, ["Host", "Admin", "Coordinator", "Guest"]);
        for cell in ["", ";", "a", "Zoë;\u{a0}Ø|x", ",,a,,", "é,\r\n\u{2003}b\u{2003}"] {
            let expected: Vec<_> = cell.split([';', '|', ',', '\n', '\r']).map(str::trim).filter(|p| !p.is_empty()).collect();
            assert_eq!(split_multi(cell).collect::<Vec<_>>(), expected, "{cell:?}");
        }
    }

    #[test]
    fn addresses_in_error_texts_are_redacted() {
        let text = redact_addresses("identities failed the check: ops@example.com, Ada.L+x@acme.example. Retry @ 5");
        assert!(!text.contains("ops@") && !text.contains("acme.example"), "{text}");
        assert!(text.starts_with("identities failed the check: h:") && text.ends_with(". Retry @ 5"), "{text}");
        assert_eq!(redact_addresses("no address, é@ here"), "no address, é@ here");
    }

    #[test]
    fn redact_is_stable_and_hides_the_value() {
        let tag = redact("Ada@Example.com");
        assert_eq!(tag, redact(" ada@example.com"));
        assert!(!tag.contains("ada"));
        assert_eq!(preview("abcdef", 3), "abc…");
    }
}
