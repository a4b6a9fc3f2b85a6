//! Reading a header the way a person reads it: the words, without case, punctuation,
//! annotations in brackets and markers such as `*` or "required"; without the word group that
//! most of a file's headers share ("Tenant Contact …"); and with each field's synonyms.

/// Words that mark a column rather than name it.
const MARKERS: &[&str] = &["optional", "required", "mandatory"];

/// How strongly a header names a field, strongest last (so `max` picks the best reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// A synonym once the shared word group is left out.
    StrippedSynonym,
    /// The field's own label once the shared word group is left out.
    Stripped,
    /// A synonym this flow knows for the field.
    Synonym,
    /// The field's own label (case, spacing, punctuation, annotations aside).
    Label,
}

impl Rule {
    /// The rules from strongest to weakest: the order columns are matched in.
    pub(crate) const STRONGEST_FIRST: [Rule; 4] = [Rule::Label, Rule::Synonym, Rule::Stripped, Rule::StrippedSynonym];
}

/// A header's words: lower case, split at spaces, punctuation and camelCase, with annotations in
/// brackets or parentheses and marker words left out. "E-mail" is one word, `email`.
pub fn words(header: &str) -> Vec<String> {
    let mut plain = String::with_capacity(header.len());
    let mut depth = 0usize;
    let mut previous = ' ';
    for c in header.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            _ => {
                if c.is_uppercase() && (previous.is_lowercase() || previous.is_ascii_digit()) {
                    plain.push(' ');
                }
                plain.push(c);
                previous = c;
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    for word in plain.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let word = word.to_lowercase();
        if MARKERS.contains(&word.as_str()) {
            continue;
        }
        match out.last_mut() {
            Some(last) if last == "e" && word == "mail" => *last = "email".into(),
            _ => out.push(word),
        }
    }
    out
}

/// The key two spellings of one name share: the words run together ("emailaddress").
pub fn key(words: &[String]) -> String {
    words.concat()
}

/// Every key a name answers to: its words run together, and (for labels like "Role(s)") its
/// letters and digits including the bracketed ones ("roles").
pub(crate) fn name_keys(name: &str) -> [String; 2] {
    [key(&words(name)), crate::text::header_key(name)]
}

/// The leading and the trailing word group (one to three words) that at least two headers and
/// at least half of the non-empty ones share, such as "Tenant Contact" in "Tenant Contact
/// Email", "Tenant Contact Phone Number" … Only groups that leave words behind count.
pub(crate) fn shared_groups(headers: &[Vec<String>]) -> (Vec<String>, Vec<String>) {
    let non_empty = headers.iter().filter(|h| !h.is_empty()).count();
    let most = |count: usize| count >= 2 && count * 2 >= non_empty;
    let pick = |leading: bool| {
        for len in (1..=3).rev() {
            let mut counts: std::collections::BTreeMap<&[String], usize> = Default::default();
            for header in headers.iter().filter(|h| h.len() > len) {
                let group = if leading { &header[..len] } else { &header[header.len() - len..] };
                *counts.entry(group).or_default() += 1;
            }
            // The most shared group of this length; ties go to the first in sort order, so the
            // choice never depends on the columns' order.
            if let Some((group, _)) = counts.iter().filter(|(_, n)| most(**n)).max_by_key(|(group, n)| (**n, std::cmp::Reverse(*group))) {
                return group.to_vec();
            }
        }
        Vec::new()
    };
    (pick(true), pick(false))
}

/// `words` without the shared leading and trailing groups (when it has them and keeps a word).
pub(crate) fn strip<'a>(words: &'a [String], leading: &[String], trailing: &[String]) -> &'a [String] {
    let mut rest = words;
    if !leading.is_empty() && rest.len() > leading.len() && rest.starts_with(leading) {
        rest = &rest[leading.len()..];
    }
    if !trailing.is_empty() && rest.len() > trailing.len() && rest.ends_with(trailing) {
        rest = &rest[..rest.len() - trailing.len()];
    }
    rest
}

/// Splits a full name into first and last name: "Last, First" at the comma; otherwise the last
/// word is the last name, with the particles before it ("van der Berg", "de la Cruz"). One word
/// is a first name with no last name. Borrowed from the cell.
pub(crate) fn split_full_name(name: &str) -> (&str, &str) {
    const PARTICLES: &[&str] = &["van", "von", "der", "den", "de", "del", "della", "da", "di", "du", "la", "le", "ter", "ten", "bin", "al"];
    let name = name.trim();
    if let Some((last, first)) = name.split_once(',') {
        return (first.trim(), last.trim());
    }
    // The last word starts after the last space; each word before it that is a particle (never
    // the first word) joins the last name. Read in place: this runs for every row of a file.
    let word_start = |text: &str| text.char_indices().rev().find(|(_, c)| c.is_whitespace()).map(|(at, c)| at + c.len_utf8());
    let Some(mut start) = word_start(name) else { return (name, "") };
    loop {
        let before = name[..start].trim_end();
        match word_start(before) {
            Some(at) if PARTICLES.iter().any(|p| p.eq_ignore_ascii_case(&before[at..])) => start = at,
            _ => break,
        }
    }
    let first = name[..start].trim_end();
    let last = name[start..].trim_start();
    (first, last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(header: &str) -> Vec<String> {
        words(header)
    }

    #[test]
    fn case_punctuation_spacing_and_camel_case_are_one_spelling() {
        assert_eq!(w("  E-MAIL_address "), ["email", "address"]);
        assert_eq!(w("firstName"), ["first", "name"]);
        assert_eq!(w("Phone#2"), ["phone", "2"]);
        assert_eq!(key(&w("E-mail Address")), key(&w("email address")));
    }

    #[test]
    fn annotations_and_markers_are_left_out() {
        assert_eq!(w("Email (Tenant)"), ["email"]);
        assert_eq!(w("Phone [optional]"), ["phone"]);
        assert_eq!(w("* Email *"), ["email"]);
        assert_eq!(w("Full Name - required"), ["full", "name"]);
        assert_eq!(w("Mandatory: Email"), ["email"]);
        assert_eq!(w("Role(s)"), ["role"]);
        assert!(w("(blank)").is_empty());
        assert_eq!(name_keys("Role(s)"), ["role".to_string(), "roles".to_string()]);
    }

    #[test]
    fn the_group_most_headers_share_is_found_at_either_end() {
        let guide: Vec<_> = ["Tenant Contact Full Name", "Tenant Contact Email", "Tenant Contact Phone Number"].map(w).into();
        assert_eq!(shared_groups(&guide), (w("tenant contact"), Vec::new()));
        assert_eq!(strip(&guide[0], &w("tenant contact"), &[]), w("full name"));
        let trailing: Vec<_> = ["Email Member", "Name Member", "Status"].map(w).into();
        assert_eq!(shared_groups(&trailing), (Vec::new(), w("member")));
        // Two of six headers is not "most".
        let few: Vec<_> = ["Building UUID", "Building Name", "Address", "Envoy CSM Email", "Tile Policy", "Aliases"].map(w).into();
        assert_eq!(shared_groups(&few), (Vec::new(), Vec::new()));
        // A header that is only the group keeps its words.
        assert_eq!(strip(&w("Contact"), &w("contact"), &[]), w("contact"));
    }

    #[test]
    fn full_names_split_at_the_comma_or_before_the_last_name() {
        assert_eq!(split_full_name("Ada Lovelace"), ("Ada", "Lovelace"));
        assert_eq!(split_full_name(" Lovelace,  Ada "), ("Ada", "Lovelace"));
        assert_eq!(split_full_name("Mary Ann Smith"), ("Mary Ann", "Smith"));
        assert_eq!(split_full_name("Jan van der Berg"), ("Jan", "van der Berg"));
        assert_eq!(split_full_name("Cher"), ("Cher", ""));
        assert_eq!(split_full_name("Van Morrison"), ("Van", "Morrison"));
        assert_eq!(split_full_name(""), ("", ""));
    }
}
