//! What the CLI prints: text for people, one JSON object with `--json`; progress bars on a
//! terminal; exit codes 0 (processed), 2 (rejected input or arguments), 1 (unexpected).

use crate::runtime::Runtime;
use onboarding::app::{AppError, Progress};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Mutex;

#[derive(Debug)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
    pub exit: u8,
    /// Already in the JSON on stdout: a listing cut short by it ends with it (`"error"`).
    pub in_json: bool,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self { code: "invalid_arguments", message: message.into(), exit: 2, in_json: false }
    }

    pub fn unexpected(message: impl Into<String>) -> Self {
        Self { code: "unexpected", message: message.into(), exit: 1, in_json: false }
    }

    fn rejected(code: &'static str, message: String) -> Self {
        Self { code, message, exit: 2, in_json: false }
    }

    /// The failure as JSON, as `--json` prints it: `{"code", "message"}`.
    fn body(&self) -> serde_json::Value {
        serde_json::json!({ "code": self.code, "message": self.message })
    }
}

impl From<onboarding::domain::issue::FileRejection> for Failure {
    fn from(rejection: onboarding::domain::issue::FileRejection) -> Self {
        Self::rejected(rejection.code.as_str(), rejection.message)
    }
}

impl From<AppError> for Failure {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Rejected(rejection) => Self::rejected(rejection.code.as_str(), rejection.message),
            AppError::Port(error) => {
                Self::unexpected(format!("{error}. Nothing unfinished was recorded as done: run the command again to resume."))
            }
        }
    }
}

pub fn report_failure(failure: &Failure, json: bool) -> ExitCode {
    if json && !failure.in_json {
        println!("{}", serde_json::json!({ "error": failure.body() }));
    }
    eprintln!("error: {}", failure.message);
    ExitCode::from(failure.exit)
}

pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

/// Progress bars on stderr when it is a terminal and the output is for people.
pub struct Bars {
    current: Mutex<Option<(String, indicatif::ProgressBar)>>,
}

impl Bars {
    pub fn for_run(json: bool) -> Box<dyn Progress> {
        if json || !std::io::stderr().is_terminal() {
            Box::new(onboarding::app::NoProgress)
        } else {
            Box::new(Self { current: Mutex::new(None) })
        }
    }
}

impl Progress for Bars {
    fn advance(&self, stage: &str, done: u64) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_none_or(|(name, _)| name != stage) {
            if let Some((_, bar)) = current.take() {
                bar.finish_and_clear();
            }
            let bar = indicatif::ProgressBar::new_spinner();
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}: {pos} ({per_sec})") {
                bar.set_style(style);
            }
            bar.set_message(stage.to_string());
            *current = Some((stage.to_string(), bar));
        }
        if let Some((_, bar)) = current.as_ref() {
            bar.set_position(done);
        }
    }

    fn finish(&self, stage: &str) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_some_and(|(name, _)| name == stage) {
            if let Some((_, bar)) = current.take() {
                bar.finish_and_clear();
            }
        }
    }
}

/// Prints a result: the JSON value, or the text lines.
pub fn emit(json: bool, value: serde_json::Value, text: Vec<String>) {
    if json {
        println!("{value}");
    } else {
        for line in text {
            println!("{line}");
        }
    }
}

/// Items a command reports many of (a plan's issues, a migration's invites): written one at a
/// time after the rest of the report, as lines of text and, with `--json`, as the array `key`
/// of its object. Nothing holds them all as text or JSON at once: a million-row plan has a
/// quarter of a million issues, and its apply queues 750,000 invites.
pub struct Listing {
    pub key: &'static str,
    pub items: Items,
}

/// Where a listing's items come from.
pub enum Items {
    /// Items the command holds, each written from its index.
    Held {
        len: usize,
        /// Item `index` as a line of text; `None` when the text shows none of them.
        line: Option<Box<dyn Fn(usize) -> String + Send + Sync>>,
        /// Item `index` as JSON.
        item: Box<dyn Fn(usize) -> serde_json::Value + Send + Sync>,
    },
    /// Items read a few at a time while they are written, so none is held for long (a
    /// million-user migration's invites).
    Read(Box<dyn ReadItems>),
}

/// The next few items as they are written, read from the store: see [`Items::Read`].
pub trait ReadItems: Send {
    /// The next few items, read through `runtime`, each as a line of text or (`json`) as its
    /// JSON text; none after the last.
    fn next_items<'a>(&'a mut self, runtime: &'a Runtime, json: bool) -> ItemsRead<'a>;
    /// What follows the items, once all were read: lines of text, and fields of the JSON object
    /// (a count, known only then).
    fn closing(&self) -> (Vec<String>, serde_json::Map<String, serde_json::Value>);
}

pub type ItemsRead<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<String>, Failure>> + Send + 'a>>;

impl Listing {
    /// Every held item as one JSON array (for the demo's one value, whose lists are short).
    pub fn to_value(&self) -> serde_json::Value {
        match &self.items {
            Items::Held { len, item, .. } => serde_json::Value::Array((0..*len).map(item).collect()),
            Items::Read(_) => serde_json::Value::Null,
        }
    }

    /// Every held item as a line of text, if the text shows them.
    pub fn lines(&self) -> Vec<String> {
        match &self.items {
            Items::Held { len, line: Some(line), .. } => (0..*len).map(line).collect(),
            _ => Vec::new(),
        }
    }
}

/// Prints a result with its listing: the JSON object with the listing's items written into
/// it one at a time, or the text lines followed by the listing's. Fails only when items read
/// while they are written could not be read: what was read is printed first and, with
/// `--json`, the object is closed with the failure as its `"error"`, so it stays one object.
pub async fn emit_listed(
    runtime: &Runtime,
    json: bool,
    value: serde_json::Value,
    text: Vec<String>,
    listing: Option<Listing>,
) -> Result<(), Failure> {
    let Some(listing) = listing else {
        emit(json, value, text);
        return Ok(());
    };
    // A JSON value other than an object has no place for the items.
    if json && !value.is_object() {
        emit(json, value, text);
        return Ok(());
    }
    let items: Box<dyn ReadItems> = match listing.items {
        Items::Held { len, line, item } => Box::new(HeldItems { len, line, item, next: 0 }),
        Items::Read(items) => items,
    };
    let mut out = std::io::BufWriter::new(std::io::stdout());
    emit_read(&mut out, runtime, json, value, text, listing.key, items).await
}

/// Held items, given to [`emit_read`] a thousand at a time.
struct HeldItems {
    len: usize,
    line: Option<Box<dyn Fn(usize) -> String + Send + Sync>>,
    item: Box<dyn Fn(usize) -> serde_json::Value + Send + Sync>,
    /// The index of the next item to give.
    next: usize,
}

impl ReadItems for HeldItems {
    fn next_items<'a>(&'a mut self, _: &'a Runtime, json: bool) -> ItemsRead<'a> {
        let end = self.len.min(self.next + 1000);
        let items = match (json, &self.line) {
            (true, _) => (self.next..end).map(|index| (self.item)(index).to_string()).collect(),
            (false, Some(line)) => (self.next..end).map(line).collect(),
            // The text shows none of them.
            (false, None) => Vec::new(),
        };
        self.next = end;
        Box::pin(std::future::ready(Ok(items)))
    }

    fn closing(&self) -> (Vec<String>, serde_json::Map<String, serde_json::Value>) {
        (Vec::new(), serde_json::Map::new())
    }
}

/// [`emit_listed`]'s writing, a batch of items at a time. With `--json`, the object is written
/// field by field: its fields, the items' array, then the closing fields.
async fn emit_read(
    out: &mut impl std::io::Write,
    runtime: &Runtime,
    json: bool,
    value: serde_json::Value,
    text: Vec<String>,
    key: &str,
    mut items: Box<dyn ReadItems>,
) -> Result<(), Failure> {
    let fields = match value {
        serde_json::Value::Object(fields) => fields,
        _ => serde_json::Map::new(),
    };
    let mut head = String::new();
    if json {
        head.push('{');
        for (name, value) in fields.iter().filter(|(name, _)| name.as_str() != key) {
            head.push_str(&json_text(name));
            head.push(':');
            head.push_str(&json_text(value));
            head.push(',');
        }
        head.push_str(&json_text(&key.to_string()));
        head.push_str(":[");
    } else {
        for line in &text {
            head.push_str(line);
            head.push('\n');
        }
    }
    // A stdout closed early (a pager quit) stops the listing: nobody reads the rest.
    if out.write_all(head.as_bytes()).is_err() {
        return Ok(());
    }
    let mut first = true;
    loop {
        let read = items.next_items(runtime, json).await;
        let batch = match read {
            Ok(batch) => batch,
            Err(mut failure) => {
                if json {
                    let close = format!("],{}:{}}}\n", json_text(&"error"), json_text(&failure.body()));
                    failure.in_json = out.write_all(close.as_bytes()).is_ok();
                }
                let _ = out.flush();
                return Err(failure);
            }
        };
        if batch.is_empty() {
            break;
        }
        let mut chunk = String::new();
        for item in batch {
            if json && !first {
                chunk.push(',');
            }
            first = false;
            chunk.push_str(&item);
            if !json {
                chunk.push('\n');
            }
        }
        if out.write_all(chunk.as_bytes()).is_err() {
            return Ok(());
        }
    }
    let (lines, closing) = items.closing();
    let mut tail = String::new();
    if json {
        tail.push(']');
        for (name, value) in closing.iter() {
            tail.push(',');
            tail.push_str(&json_text(name));
            tail.push(':');
            tail.push_str(&json_text(value));
        }
        tail.push_str("}\n");
    } else {
        for line in lines {
            tail.push_str(&line);
            tail.push('\n');
        }
    }
    let _ = out.write_all(tail.as_bytes()).and_then(|()| out.flush());
    Ok(())
}

/// A value as JSON text.
fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Issues as text lines, at most `max` of them.
pub fn issue_lines(issues: &[onboarding::domain::issue::Issue], max: usize) -> Vec<String> {
    issue_lines_of(issues, issues.len(), max)
}

/// [`issue_lines`] of the first `issues` of `total`.
pub fn issue_lines_of(issues: &[onboarding::domain::issue::Issue], total: usize, max: usize) -> Vec<String> {
    let mut lines: Vec<String> = issues
        .iter()
        .take(max)
        .map(|i| {
            let place = match (i.row, &i.column) {
                (Some(row), Some(column)) => format!("row {row}, {column}"),
                (Some(row), None) => format!("row {row}"),
                (None, Some(column)) => column.to_string(),
                (None, None) => "file".into(),
            };
            let value = if i.value.is_empty() { String::new() } else { format!(" [{}]", i.value) };
            let severity = if i.is_error() { "error" } else { "warning" };
            format!("  {severity:7} {place}: {}{value} ({})", i.message, i.code.as_str())
        })
        .collect();
    if total > max {
        lines.push(format!("  … and {} more in issues.csv", total - max));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Gives `batches` of items, then fails.
    struct CutShort {
        batches: Vec<Vec<String>>,
    }

    impl ReadItems for CutShort {
        fn next_items<'a>(&'a mut self, _: &'a Runtime, _: bool) -> ItemsRead<'a> {
            Box::pin(async move {
                if self.batches.is_empty() {
                    return Err(Failure::unexpected("the table stopped answering"));
                }
                Ok(self.batches.remove(0))
            })
        }

        fn closing(&self) -> (Vec<String>, serde_json::Map<String, serde_json::Value>) {
            (vec!["never reached".into()], serde_json::Map::new())
        }
    }

    async fn cut_short(dir: &std::path::Path, json: bool) -> (String, Failure) {
        let cli = crate::args::Cli::parse_from(["onboard", "--state", dir.to_str().unwrap(), "building", "list"]);
        let runtime = Runtime::open(&cli, Box::new(onboarding::app::NoProgress)).await.unwrap();
        let items = Box::new(CutShort { batches: vec![vec![if json { r#"{"n":1}"# } else { "one" }.to_string()]] });
        let mut out = Vec::new();
        let value = serde_json::json!({ "migration": "m" });
        let failure = emit_read(&mut out, &runtime, json, value, vec!["Heading".into()], "items", items).await.unwrap_err();
        (String::from_utf8(out).unwrap(), failure)
    }

    #[tokio::test]
    async fn a_listing_cut_short_stays_one_json_object_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let (out, failure) = cut_short(dir.path(), true).await;
        let value: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(value["migration"], "m");
        assert_eq!(value["items"], serde_json::json!([{ "n": 1 }]), "what was read is kept: {out}");
        assert_eq!(value["error"]["code"], "unexpected");
        assert_eq!(value["error"]["message"], "the table stopped answering");
        assert!(failure.in_json, "the error is not printed a second time");
        // As text: what was read, and the failure left to be told on stderr.
        let (out, failure) = cut_short(dir.path(), false).await;
        assert_eq!(out, "Heading\none\n");
        assert!(!failure.in_json);
    }
}
