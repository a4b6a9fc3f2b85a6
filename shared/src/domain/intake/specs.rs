//! What a flow says about its columns: each field's label, synonyms and name part, the shared
//! vocabularies, and how a reading of a file's column is reported.

/// A column a flow knows: its display label, the other names people give it (natural
/// phrases: "email address", "work email"), whether a file must have it, and whether it is part
/// of a person's name (a full name splits into first and last; first and last join).
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    pub label: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
    pub name_part: Option<NamePart>,
}

impl ColumnSpec {
    pub const fn new(label: &'static str, aliases: &'static [&'static str], required: bool) -> Self {
        Self { label, aliases, required, name_part: None }
    }

    /// A part of a person's name.
    pub const fn name(label: &'static str, aliases: &'static [&'static str], part: NamePart) -> Self {
        Self { label, aliases, required: true, name_part: Some(part) }
    }
}

/// Which part of a person's name a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamePart {
    Full,
    First,
    Last,
}

/// The names of e-mail address columns, in every flow.
pub(crate) const EMAIL_NAMES: &[&str] =
    &["mail", "email address", "e-mail address", "work email", "business email", "login", "user email", "contact email"];
/// The names of full-name columns.
pub(crate) const FULL_NAMES: &[&str] = &["name", "full name", "display name", "contact name", "employee name", "person name"];
pub const FIRST_NAMES: &[&str] = &["first name", "given name", "forename", "first", "firstname"];
pub const LAST_NAMES: &[&str] = &["last name", "surname", "family name", "last", "lastname"];
pub(crate) const PHONE_NAMES: &[&str] = &[
    "phone",
    "mobile",
    "cell",
    "cell phone",
    "mobile phone",
    "mobile number",
    "telephone",
    "work phone",
    "phone number",
    "telephone number",
];

/// How a file's column became one of the flow's fields, when it was not by the field's own
/// label: each is listed in the outputs, so nobody is surprised by what was read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ColumnReading {
    /// The field's label, e.g. "Email".
    pub field: &'static str,
    /// The file's header(s) it was read from.
    pub headers: Vec<String>,
    /// What was done, in words.
    pub how: String,
}

/// Where a field's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Missing,
    Column(usize),
    /// One part of a full-name column.
    Split(usize, NamePart),
    /// First and last name columns, joined.
    Joined(usize, usize),
}

/// `0` → `A`, `27` → `AB`: how a spreadsheet names a column.
pub(crate) fn column_letter(index: usize) -> String {
    let mut n = index + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// How a message names a column by position: `column C`.
pub(crate) fn column_label(index: usize) -> String {
    format!("column {}", column_letter(index))
}
