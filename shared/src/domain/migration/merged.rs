//! A user after merging every row of their address, borrowed from the store ([`MergedView`],
//! what planning reads); the tests also hold them owned (`MergedUser`).

#[cfg(test)]
use crate::values::Email;
use crate::values::Status;

/// A user after merging every row with their address, owned (for the tests).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MergedUser {
    pub email: Email,
    pub first_name: String,
    pub last_name: String,
    pub roles: Vec<String>,
    pub buildings: Vec<String>,
    pub status: Option<Status>,
    /// Rows of the file this user came from, first one first.
    pub rows: Vec<u64>,
    pub extras: Vec<String>,
    /// Error issues of the user's rows: any of them puts the user on hold.
    pub blocking: Vec<String>,
}

/// A merged user as the deduper holds it, borrowed (what planning reads).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MergedView<'a> {
    /// The normalised address (as [`Email::as_str`] gives it); owned, as the store keeps the
    /// domain apart.
    pub email: String,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub roles: Vec<&'a str>,
    pub buildings: Vec<&'a str>,
    pub status: Option<Status>,
    pub rows: Vec<u64>,
    pub extras: Vec<&'a str>,
    pub blocking: Vec<&'a str>,
}

#[cfg(test)]
impl MergedUser {
    pub fn view(&self) -> MergedView<'_> {
        fn strs(values: &[String]) -> Vec<&str> {
            values.iter().map(String::as_str).collect()
        }
        MergedView {
            email: self.email.as_str().to_string(),
            first_name: &self.first_name,
            last_name: &self.last_name,
            roles: strs(&self.roles),
            buildings: strs(&self.buildings),
            status: self.status,
            rows: self.rows.clone(),
            extras: strs(&self.extras),
            blocking: strs(&self.blocking),
        }
    }
}

#[cfg(test)]
impl MergedView<'_> {
    pub(crate) fn to_user(&self) -> MergedUser {
        let strings = |values: &[&str]| values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        MergedUser {
            email: Email::from_normalized(self.email.to_string()),
            first_name: self.first_name.to_string(),
            last_name: self.last_name.to_string(),
            roles: strings(&self.roles),
            buildings: strings(&self.buildings),
            status: self.status,
            rows: self.rows.clone(),
            extras: strings(&self.extras),
            blocking: strings(&self.blocking),
        }
    }
}
