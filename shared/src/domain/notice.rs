//! The e-mail that tells people what became of an upload, so nobody has to watch the bucket:
//! processed or refused, the counts, the first issues, where the reports are (bucket keys, and
//! links), and what to do next (how to approve a plan; the fix of a refused file).

use crate::config::{Config, UploadKind};
use crate::issue::{Issue, Severity};
use crate::mail::OutgoingMail;
use crate::text::{preview, single_line};
use maud::html;
use sha2::{Digest, Sha256};

/// How many issues a notification lists; issues.csv has them all.
pub const FIRST_ISSUES: usize = 5;

/// What to tell about one upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: UploadKind,
    /// The uploaded key.
    pub key: String,
    pub refused: bool,
    /// One line: what happened ("Tenant contacts processed", "Plan ready for approval", ...).
    pub headline: String,
    pub counts: Vec<(&'static str, u64)>,
    /// The first [`FIRST_ISSUES`] issues, errors first, each on one line.
    pub issues: Vec<String>,
    pub issues_total: u64,
    /// What to do next, one step a line.
    pub next: Vec<String>,
    pub files: Vec<NoticeFile>,
}

/// A file the notification points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeFile {
    pub label: &'static str,
    /// Its bucket key (always given: it works for anyone who may read the bucket).
    pub key: String,
    /// A link to open it, when the store can make one.
    pub link: Option<String>,
}

impl NoticeFile {
    pub fn new(label: &'static str, key: impl Into<String>) -> Self {
        Self { label, key: key.into(), link: None }
    }
}

/// The ledger key of the notification about one object version (`event_key` is
/// `<key>#<version>`): one e-mail per version, whatever the retries.
pub fn notice_key(event_key: &str) -> String {
    let digest = Sha256::digest(event_key.as_bytes());
    format!("notice#{}", &hex::encode(digest)[..32])
}

/// The version of a file handed to the CLI: its content's SHA-256 (as an unversioned bucket's
/// ETag names its content), so the same file given twice is one upload to tell about.
pub fn content_version(bytes: &[u8]) -> String {
    let mut version = ContentVersion::default();
    version.update(bytes);
    version.finish()
}

/// [`content_version`] of a file read a piece at a time (a large export is never held whole).
#[derive(Default)]
pub struct ContentVersion(Sha256);

impl ContentVersion {
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// One issue on one line: where (row, column, value) and what to do.
pub(crate) fn issue_line(issue: &Issue) -> String {
    let mut place = Vec::new();
    if let Some(row) = issue.row {
        place.push(format!("row {row}"));
    }
    if let Some(column) = &issue.column {
        place.push(format!("column {}", preview(&single_line(column), 40)));
    }
    if !issue.value.is_empty() {
        place.push(format!("value “{}”", preview(&single_line(&issue.value), 60)));
    }
    let message = preview(&single_line(&issue.message), 300);
    if place.is_empty() {
        message
    } else {
        format!("{}: {message}", place.join(", "))
    }
}

/// The first [`FIRST_ISSUES`] issues as lines, errors before warnings, each in file order.
pub fn first_issues(issues: &[Issue]) -> Vec<String> {
    let errors = issues.iter().filter(|i| i.severity == Severity::Error);
    let warnings = issues.iter().filter(|i| i.severity == Severity::Warning);
    errors.chain(warnings).take(FIRST_ISSUES).map(issue_line).collect()
}

/// The notification to the people configured for the notice's kind, or `None` when nobody is.
pub fn notice_mail(config: &Config, event_key: &str, notice: &Notice) -> Option<OutgoingMail> {
    let recipients = config.notify(notice.kind);
    if recipients.is_empty() {
        return None;
    }
    let file = preview(&single_line(notice.key.rsplit('/').next().unwrap_or(&notice.key)), 80);
    let verdict = if notice.refused { "Refused" } else { "Processed" };
    let subject = format!("{verdict}: {file} ({})", notice.kind.as_str());
    let mut mail = OutgoingMail::new(notice_key(event_key), &config.sender, &subject);
    mail.to = recipients.to_vec();
    let headline = single_line(&notice.headline);
    let uploaded = single_line(&notice.key);
    let more = notice.issues_total.saturating_sub(notice.issues.len() as u64);

    let mut text = format!("{headline}\n\nUpload: {uploaded}\n");
    if !notice.counts.is_empty() {
        text.push('\n');
        for (label, count) in &notice.counts {
            text.push_str(&format!("{label}: {count}\n"));
        }
    }
    if !notice.next.is_empty() {
        text.push_str("\nWhat to do next:\n");
        for step in &notice.next {
            text.push_str(&format!("- {step}\n"));
        }
    }
    if !notice.issues.is_empty() {
        text.push_str(&format!("\nIssues ({} in all):\n", notice.issues_total));
        for issue in &notice.issues {
            text.push_str(&format!("- {issue}\n"));
        }
        if more > 0 {
            text.push_str(&format!("… and {more} more in issues.csv.\n"));
        }
    }
    if !notice.files.is_empty() {
        text.push_str("\nFiles (bucket keys):\n");
        for file in &notice.files {
            text.push_str(&format!("- {}: {}\n", file.label, file.key));
            if let Some(link) = &file.link {
                text.push_str(&format!("  {link}\n"));
            }
        }
    }
    mail.text = text;
    mail.html = html! {
        p { strong { (headline) } }
        p { "Upload: " code { (uploaded) } }
        @if !notice.counts.is_empty() {
            table cellpadding="4" {
                @for (label, count) in &notice.counts { tr { th align="left" { (label) } td align="right" { (count) } } }
            }
        }
        @if !notice.next.is_empty() {
            p { strong { "What to do next" } }
            ul { @for step in &notice.next { li { (step) } } }
        }
        @if !notice.issues.is_empty() {
            p { strong { "Issues (" (notice.issues_total) " in all)" } }
            ul { @for issue in &notice.issues { li { (issue) } } }
            @if more > 0 { p { "… and " (more) " more in issues.csv." } }
        }
        @if !notice.files.is_empty() {
            p { strong { "Files" } }
            ul {
                @for file in &notice.files {
                    li {
                        (file.label) ": "
                        @if let Some(link) = &file.link { a href=(link) { code { (file.key) } } } @else { code { (file.key) } }
                    }
                }
            }
        }
    }
    .into_string();
    Some(mail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::issue::IssueCode;
    use crate::roles::{RoleGuide, RoleMatrix};

    #[test]
    fn a_file_read_in_pieces_has_the_version_of_the_whole() {
        let file: Vec<u8> = (0..5000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut pieces = ContentVersion::default();
        for piece in file.chunks(777) {
            pieces.update(piece);
        }
        let whole = content_version(&file);
        assert_eq!(pieces.finish(), whole);
        assert_eq!(whole.len(), 64);
        assert_ne!(whole, content_version(&file[1..]));
    }

    fn config(users: &[&str]) -> Config {
        let mut settings = Settings::default();
        settings.notify.users = users.iter().map(|s| s.to_string()).collect();
        Config::new(settings, RoleGuide::default(), RoleMatrix::default()).unwrap()
    }

    fn notice() -> Notice {
        Notice {
            kind: UploadKind::Users,
            key: "inbox/users/acme-2026/export <b>.csv".into(),
            refused: false,
            headline: "Plan ready for approval: acme-2026".into(),
            counts: vec![("Rows", 7), ("Create and invite", 3)],
            issues: vec!["row 4, column Email, value “bob@”: not an e-mail address".into()],
            issues_total: 9,
            next: vec!["Approve: onboard approve --migration acme-2026 --plan-sha256 ab12".into()],
            files: vec![NoticeFile {
                label: "Report",
                key: "reports/users/acme-2026/report.html".into(),
                link: Some("https://x.example/r?a=1&b=2".into()),
            }],
        }
    }

    #[test]
    fn a_notice_goes_to_its_kinds_list_and_says_everything_once() {
        assert!(notice_mail(&config(&[]), "k#v1", &notice()).is_none(), "nobody configured: no mail");
        let mail = notice_mail(&config(&["pm@example.com"]), "inbox/users/acme-2026/export.csv#v1", &notice()).unwrap();
        assert_eq!(mail.to.iter().map(|e| e.as_str()).collect::<Vec<_>>(), ["pm@example.com"]);
        assert_eq!(mail.subject, "Processed: export <b>.csv (users)");
        for part in
            ["Rows: 7", "Create and invite: 3", "Issues (9 in all)", "… and 8 more in issues.csv.", "onboard approve --migration acme-2026"]
        {
            assert!(mail.text.contains(part), "{part} missing from {}", mail.text);
        }
        assert!(mail.text.contains("- Report: reports/users/acme-2026/report.html\n  https://x.example/r?a=1&b=2"), "{}", mail.text);
        assert!(mail.html.contains("export &lt;b&gt;.csv") && !mail.html.contains("<b>.csv"), "escaped: {}", mail.html);
        assert!(mail.html.contains(r#"href="https://x.example/r?a=1&amp;b=2""#), "{}", mail.html);
    }

    #[test]
    fn each_object_version_has_its_own_key() {
        assert_eq!(notice_key("inbox/a.csv#v1"), notice_key("inbox/a.csv#v1"));
        assert_ne!(notice_key("inbox/a.csv#v1"), notice_key("inbox/a.csv#v2"));
        assert!(notice_key("inbox/a.csv#v1").starts_with("notice#"));
    }

    #[test]
    fn errors_come_first_and_lines_say_where() {
        let issues = vec![
            Issue::warning(IssueCode::ColumnReadAs, "Column “Work E-mail” read as Email."),
            Issue::error(IssueCode::InvalidEmail, "Not an e-mail address. Fix it in the file and upload it again.")
                .at_row(4)
                .in_column("Email")
                .with_value("bob@"),
        ];
        let lines = first_issues(&issues);
        assert_eq!(lines[0], "row 4, column Email, value “bob@”: Not an e-mail address. Fix it in the file and upload it again.");
        assert_eq!(lines[1], "Column “Work E-mail” read as Email.");
        let many: Vec<Issue> = (0..20).map(|r| Issue::error(IssueCode::InvalidEmail, "x").at_row(r)).collect();
        assert_eq!(first_issues(&many).len(), FIRST_ISSUES);
    }
}
