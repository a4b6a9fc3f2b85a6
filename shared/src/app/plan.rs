//! User-migration export → plan: validate, dedupe, map roles, compare with existing users, and
//! write plan.csv, issues.csv, summary.json, report.html (and plan.jsonl for apply). Writes
//! nothing to user data.

use super::read_ahead::ReadAhead;
use super::{file_stem, json_bytes, rfc3339, AppResult, Progress, Services};
use crate::domain::building::{BuildingDirectory, BuildingState};
use crate::domain::config::Config;
use crate::domain::flows;
use crate::domain::html::{plan_report, MAX_HTML_ROWS};
use crate::domain::intake::{open_sheet, FileKind};
use crate::domain::issue::{FileRejection, Issue, RejectionCode, Severity};
use crate::domain::issue_log::IssueLog;
use crate::domain::migration::MigrationState;
use crate::domain::migration::{user_from_row, Deduper, MergedView, RowOutcome};
use crate::domain::plan::PlanSummary;
use crate::domain::plan::{issues_csv_part, plan_line_into, Action, PlanCsv, PlanEntry, PlanLine};
use crate::domain::values::{Email, MigrationId};
use crate::ports::{MigrationRecord, ObjectVersion, ObjectWriter, PortError, PortResult, UserTable, USERS_PER_LOOKUP};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The first line of `plan.jsonl`: what apply needs besides the entries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanHeader {
    pub migration: MigrationId,
    pub extra_headers: Vec<String>,
    /// Known only once every line is written, so a streamed plan.jsonl leaves it out; plans
    /// written before streaming carry it. [`verified_plan`] fills it in from the entries.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plan_sha256: String,
}

/// Where the plan's lines go as they are decided: see [`Export::plan`]. A closure is one.
#[async_trait::async_trait]
pub trait PlanOutput: Send {
    fn line(&mut self, line: &PlanLine<'_>) -> std::io::Result<()>;
    /// Called between batches of users: a chance to hand what was written on to the store.
    async fn drain(&mut self) -> PortResult<()> {
        Ok(())
    }
}

#[async_trait::async_trait]
impl<F: FnMut(&PlanLine<'_>) -> std::io::Result<()> + Send> PlanOutput for F {
    fn line(&mut self, line: &PlanLine<'_>) -> std::io::Result<()> {
        self(line)
    }
}

pub fn report_folder(migration: &MigrationId) -> String {
    crate::domain::keys::user_report_folder(migration)
}

/// A user-migration export read, validated and deduplicated: what planning starts from.
pub struct Export {
    /// Counts so far (rows, rejected, duplicates merged).
    pub summary: PlanSummary,
    /// Row issues so far, in row order.
    pub issues: IssueLog,
    /// The export's columns the flow does not know, kept for plan.csv.
    pub extra_headers: Vec<String>,
    users: Deduper,
}

/// Reads the export at `key`: intake, row validation, dedupe by address. Streams the file, read
/// on a thread of its own a few batches of rows ahead (see [`ReadAhead`]); the merged users are
/// held compactly (see [`Deduper`]).
pub async fn read_export(svc: Services<'_>, config: &Config, migration: &MigrationId, key: &str) -> AppResult<Export> {
    let limits = config.intake_limits();
    let input = svc.objects.open(key).await?;
    let sheet = open_sheet(input, FileKind::Users, limits, flows::looks_like_header)?;
    let map = flows::resolve(FileKind::Users, &sheet.headers)?;
    let mut summary = PlanSummary {
        migration: migration.to_string(),
        source: key.to_string(),
        columns_read_as: map.reading_texts(),
        ..PlanSummary::default()
    };
    let mut issues = IssueLog::from(map.reading_issues());
    let mut users = Deduper::default();
    // The file is read on a thread of its own while its rows are checked and merged here.
    let mut rows = ReadAhead::start(sheet)?;
    while let Some(batch) = rows.next_batch()? {
        for row in batch.rows() {
            summary.rows += 1;
            match user_from_row(&map, row, limits.max_cell_chars) {
                RowOutcome::Usable(user, row_issues) => {
                    let (merged, row_issues) = users.add(user, row_issues);
                    if merged {
                        summary.duplicates_merged += 1;
                    }
                    issues.extend(row_issues);
                }
                RowOutcome::Rejected(row_issues) => {
                    summary.rejected += 1;
                    issues.extend(row_issues);
                }
            }
            if summary.rows.is_multiple_of(10_000) {
                svc.progress.advance("rows read", summary.rows);
            }
        }
        rows.recycle(batch);
    }
    svc.progress.finish("rows read");
    if summary.rows == 0 {
        return Err(FileRejection::new(RejectionCode::NoRows, "The export has a header row but no users. Export the users again.").into());
    }
    Ok(Export { summary, issues, extra_headers: map.extra_headers(), users })
}

impl Export {
    /// Plans every user: existing users looked up 100 a call, roles mapped, buildings
    /// resolved, an action decided. `each` gets every line in plan.csv order (a user's first
    /// row) as it is decided; nothing is kept here but counts and issues. Returns the summary
    /// (without the SHA-256, outputs and time, which belong to the caller) and every issue,
    /// sorted by row.
    pub async fn plan<O: PlanOutput>(self, svc: Services<'_>, config: &Config, each: O) -> AppResult<(PlanSummary, IssueLog)> {
        let buildings = svc.table.list_buildings().await?;
        self.plan_over(&buildings, svc.table, svc.progress, config, each).await
    }

    /// [`Export::plan`] with the buildings given and the existing users looked up in `table`.
    pub async fn plan_over<O: PlanOutput>(
        self,
        buildings: &[BuildingState],
        table: &dyn UserTable,
        progress: &dyn Progress,
        config: &Config,
        mut each: O,
    ) -> AppResult<(PlanSummary, IssueLog)> {
        let Export { mut summary, mut issues, users, .. } = self;
        let directory = BuildingDirectory::new(buildings.iter().map(|b| &b.building));
        let mut counts = [0u64; Action::ALL.len()];
        // The old roles the file uses (as keys): capability gaps are reported for those only.
        let mut in_use: BTreeSet<String> = BTreeSet::new();
        let mut done = 0u64;
        // Reused from batch to batch: no allocation per user for reading it back.
        let mut chunk: Vec<MergedView<'_>> = Vec::with_capacity(USERS_PER_LOOKUP);
        let mut migrated_by = MigratedBy::default();
        // One user's issues, before they join the log.
        let mut raised: Vec<Issue> = Vec::new();
        let mut lookups = existing_users(&users, table);
        while let Some((start, emails, existing)) = lookups.next().await {
            let existing = existing?;
            chunk.resize_with(emails.len(), MergedView::default);
            for (at, user) in chunk.iter_mut().enumerate() {
                users.view_into(start + at, user);
            }
            lookups.recycle(emails);
            let mut line = PlanLine::default();
            for user in &chunk {
                let found = existing.get(user.email.as_str());
                plan_line_into(&mut line, user, &config.matrix, &directory, found, &mut raised);
                issues.extend(raised.drain(..));
                if let Some(other) = found.and_then(|f| f.created_by.as_ref()).filter(|m| m.as_str() != summary.migration) {
                    if matches!(line.action, Action::AddRoles | Action::NoChange) {
                        issues.push(already_migrated(&mut migrated_by, other, user.rows.first().copied().unwrap_or(0)));
                    }
                }
                counts[Action::ALL.iter().position(|a| *a == line.action).unwrap_or(0)] += 1;
                for role in &user.roles {
                    crate::domain::text::with_header_key(role, |key| {
                        if !in_use.contains(key) {
                            in_use.insert(key.to_string());
                        }
                    });
                }
                each.line(&line).map_err(unexpected)?;
            }
            each.drain().await?;
            done += chunk.len() as u64;
            if done % 10_000 < USERS_PER_LOOKUP as u64 {
                progress.advance("users planned", done);
            }
        }
        progress.finish("users planned");
        issues.extend(config.matrix.gap_issues(&in_use));
        summary.old_roles_used = config.matrix.used(&in_use).map(|m| m.old_role.clone()).collect();
        issues.sort_by_row();

        for (action, count) in Action::ALL.iter().zip(counts) {
            summary.actions.insert(action.as_str().to_string(), count);
        }
        summary.inactive_skipped = summary.actions.get(Action::SkipInactive.as_str()).copied().unwrap_or(0);
        summary.accepted = summary.rows - summary.rejected - summary.duplicates_merged - summary.inactive_skipped;
        let mut by_code: BTreeMap<String, u64> = BTreeMap::new();
        (summary.errors, summary.warnings) = (0, 0);
        for (code, severity) in issues.codes() {
            *by_code.entry(code.as_str().to_string()).or_default() += 1;
            match severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
            }
        }
        summary.issues_by_code = by_code;
        Ok((summary, issues))
    }
}

/// How many lookups of existing users are in flight while users are planned. Each is a round
/// trip to the table (a DynamoDB BatchGetItem from Lambda takes some milliseconds), so a
/// million users waiting on ten thousand of them one after another would wait minutes; with
/// several in flight the wait hides behind the planning of the users already answered.
pub const LOOKUPS_IN_FLIGHT: usize = 8;

/// The users' existing records, looked up [`USERS_PER_LOOKUP`] a call with
/// [`LOOKUPS_IN_FLIGHT`] calls at once, answered in the users' order.
struct Lookups<'a> {
    next: usize,
    users: &'a Deduper,
    table: &'a dyn UserTable,
    in_flight: futures_util::stream::FuturesOrdered<futures_util::future::BoxFuture<'a, Lookup>>,
    /// Address lists given back, reused for the next calls.
    spare: Vec<Vec<Email>>,
}

/// A batch's first user, its addresses, and what the table answered for them.
type Lookup = (usize, Vec<Email>, PortResult<crate::ports::ExistingUsers>);

fn existing_users<'a>(users: &'a Deduper, table: &'a dyn UserTable) -> Lookups<'a> {
    Lookups { next: 0, users, table, in_flight: futures_util::stream::FuturesOrdered::new(), spare: Vec::new() }
}

impl<'a> Lookups<'a> {
    /// The next batch in order, once answered; `None` after the last user.
    async fn next(&mut self) -> Option<Lookup> {
        use futures_util::StreamExt;
        while self.in_flight.len() < LOOKUPS_IN_FLIGHT && self.next < self.users.len() {
            let start = self.next;
            let end = self.users.len().min(start + USERS_PER_LOOKUP);
            self.next = end;
            let mut emails = self.spare.pop().unwrap_or_default();
            emails.truncate(end - start);
            for (at, index) in (start..end).enumerate() {
                match emails.get_mut(at) {
                    Some(email) => email.set_normalized_with(|into| self.users.email_into(index, into)),
                    None => {
                        let mut address = String::new();
                        self.users.email_into(index, &mut address);
                        emails.push(Email::from_normalized(address));
                    }
                }
            }
            let table = self.table;
            self.in_flight.push_back(Box::pin(async move {
                let found = table.get_users(&emails).await;
                (start, emails, found)
            }));
        }
        self.in_flight.next().await
    }

    fn recycle(&mut self, emails: Vec<Email>) {
        self.spare.push(emails);
    }
}

/// The last message of [`already_migrated`], copied exactly (a formatted string holds about
/// twice its length, and an export can have a hundred thousand of these).
#[derive(Default)]
struct MigratedBy(Option<(MigrationId, String)>);

/// A plan line for someone another migration created (and invited) already.
fn already_migrated(last: &mut MigratedBy, other: &MigrationId, row: u64) -> Issue {
    let message = match &last.0 {
        Some((migration, message)) if migration == other => message.clone(),
        _ => {
            let message = format!("This person was already created and invited by migration “{other}”: this plan only adds the roles and buildings they lack, and sends no second invite.");
            last.0 = Some((other.clone(), message.clone()));
            message
        }
    };
    Issue::warning(crate::domain::issue::IssueCode::AlreadyMigrated, message).at_row(row).in_column("Email")
}

fn unexpected(error: impl std::fmt::Display) -> PortError {
    PortError::Unexpected(format!("writing the plan: {error}"))
}

pub async fn plan_migration(svc: Services<'_>, config: &Config, migration: &MigrationId, key: &str) -> AppResult<(PlanSummary, IssueLog)> {
    let export = read_export(svc, config, migration, key).await?;
    let extra_headers = export.extra_headers.clone();
    let folder = report_folder(migration);
    // plan.csv and plan.jsonl go to the store as they are written, a part at a time; a plan
    // that fails half-way leaves the previous plan's files in place.
    let header = PlanHeader { migration: migration.clone(), extra_headers: extra_headers.clone(), plan_sha256: String::new() };
    let mut jsonl = serde_json::to_vec(&header).map_err(unexpected)?;
    jsonl.push(b'\n');
    let mut files = PlanFiles {
        csv: PlanCsv::new(Vec::new(), &extra_headers).map_err(unexpected)?,
        jsonl,
        csv_out: svc.objects.create(&format!("{folder}/plan.csv"), "text/csv").await?,
        jsonl_out: svc.objects.create(&format!("{folder}/plan.jsonl"), "application/x-ndjson").await?,
        shown: Vec::new(),
        users: 0,
    };
    let (mut summary, issues) = export.plan(svc, config, &mut files).await?;
    let PlanFiles { csv, jsonl, mut csv_out, mut jsonl_out, shown, users } = files;
    let (rest, sha) = csv.finish().map_err(unexpected)?;
    csv_out.write(&rest).await?;
    jsonl_out.write(&jsonl).await?;
    summary.plan_sha256 = sha;
    let now = svc.clock.now();
    summary.planned_at = rfc3339(now);

    summary.outputs =
        ["plan.csv", "issues.csv", "summary.json", "report.html", "plan.jsonl"].iter().map(|f| format!("{folder}/{f}")).collect();
    jsonl_out.finish().await?;
    csv_out.finish().await?;
    write_issues_csv(svc, &format!("{folder}/issues.csv"), issues.iter()).await?;
    let report = plan_report(&summary, &config.matrix, &shown, users, &issues.first(MAX_HTML_ROWS + 1), issues.len());
    svc.objects.put(&format!("{folder}/report.html"), report.into_bytes(), "text/html").await?;
    svc.objects.put(&format!("{folder}/summary.json"), json_bytes(&summary), "application/json").await?;

    // Record the latest plan: only an approval quoting this SHA-256 can apply it.
    let previous = svc.table.get_migration(migration).await?;
    let record = MigrationRecord {
        id: migration.clone(),
        plan_sha256: summary.plan_sha256.clone(),
        plan_key: format!("{folder}/plan.jsonl"),
        planned_at: now,
        source: key.to_string(),
        state: match &previous {
            Some(p) if p.state == MigrationState::Applied && p.approved_sha256.as_deref() == Some(summary.plan_sha256.as_str()) => {
                MigrationState::Applied
            }
            _ => MigrationState::Planned,
        },
        approved_by: previous.as_ref().and_then(|p| p.approved_by.clone()),
        approved_sha256: previous.as_ref().and_then(|p| p.approved_sha256.clone()),
        invite_date: previous.as_ref().and_then(|p| p.invite_date.clone()),
        applied_at: previous.as_ref().and_then(|p| p.applied_at),
        excluded: previous.as_ref().map(|p| p.excluded.clone()).unwrap_or_default(),
    };
    svc.table.put_migration(&record).await?;
    tracing::info!(migration = %migration, rows = summary.rows, sha = %summary.plan_sha256, source = %file_stem(key), "migration planned");
    Ok((summary, issues))
}

/// The plan's files while they are written: lines gather here and go to the store in pieces
/// of [`DRAIN_BYTES`]; the report keeps the first [`MAX_HTML_ROWS`] lines.
struct PlanFiles<'a> {
    csv: PlanCsv<Vec<u8>>,
    jsonl: Vec<u8>,
    csv_out: Box<dyn ObjectWriter + 'a>,
    jsonl_out: Box<dyn ObjectWriter + 'a>,
    shown: Vec<PlanEntry>,
    users: usize,
}

/// How much of an output gathers before it is handed to the store's writer.
const DRAIN_BYTES: usize = 1024 * 1024;

#[async_trait::async_trait]
impl PlanOutput for &mut PlanFiles<'_> {
    fn line(&mut self, line: &PlanLine<'_>) -> std::io::Result<()> {
        self.csv.line(line)?;
        serde_json::to_writer(&mut self.jsonl, line)?;
        self.jsonl.push(b'\n');
        if self.shown.len() < MAX_HTML_ROWS {
            self.shown.push(line.to_entry());
        }
        self.users += 1;
        Ok(())
    }

    async fn drain(&mut self) -> PortResult<()> {
        if self.jsonl.len() >= DRAIN_BYTES {
            self.jsonl_out.write(&self.jsonl).await?;
            self.jsonl.clear();
        }
        let csv = self.csv.sink_mut();
        if csv.len() >= DRAIN_BYTES {
            self.csv_out.write(csv).await?;
            csv.clear();
        }
        Ok(())
    }
}

/// `issues.csv`, every issue, written ten thousand at a time.
pub(super) async fn write_issues_csv(svc: Services<'_>, key: &str, mut issues: impl Iterator<Item = Issue>) -> AppResult<()> {
    let mut out = svc.objects.create(key, "text/csv").await?;
    out.write(&issues_csv_part(&[], true)).await?;
    let mut part = Vec::with_capacity(10_000);
    loop {
        part.clear();
        part.extend(issues.by_ref().take(10_000));
        if part.is_empty() {
            break;
        }
        out.write(&issues_csv_part(&part, false)).await?;
    }
    out.finish().await?;
    Ok(())
}

/// The stored `plan.jsonl`, read a line at a time (see [`verified_plan`]).
pub struct StoredPlan {
    pub header: PlanHeader,
    lines: std::io::BufReader<Box<dyn std::io::Read + Send>>,
    buffer: Vec<u8>,
    migration: MigrationId,
    /// Bytes read so far, from where the reader began.
    offset: u64,
    /// Where the line last returned begins.
    line_start: u64,
}

/// Entries `start..end` (bytes) of a stored plan.jsonl: one part of a queued apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PlanRange {
    pub start: u64,
    pub end: u64,
    pub entries: u64,
}

fn unreadable(migration: &MigrationId) -> FileRejection {
    FileRejection::new(
        RejectionCode::PlanUnreadable,
        format!("The stored plan of migration {migration} cannot be read. Upload the export again to make a new plan."),
    )
}

impl StoredPlan {
    async fn open(svc: Services<'_>, migration: &MigrationId, version: Option<&ObjectVersion>) -> AppResult<Self> {
        let key = format!("{}/plan.jsonl", report_folder(migration));
        let input = match version {
            Some(version) => svc.objects.open_at(&key, version, u64::MAX).await?,
            None => svc.objects.open(&key).await?,
        };
        let mut plan = StoredPlan::over(migration, input, 0);
        let first = plan.next_line()?.ok_or_else(|| unreadable(migration))?;
        plan.header = serde_json::from_slice(first).map_err(|_| unreadable(migration))?;
        Ok(plan)
    }

    fn over(migration: &MigrationId, input: Box<dyn std::io::Read + Send>, offset: u64) -> Self {
        StoredPlan {
            header: PlanHeader { migration: migration.clone(), extra_headers: Vec::new(), plan_sha256: String::new() },
            lines: std::io::BufReader::with_capacity(256 * 1024, input),
            buffer: Vec::new(),
            migration: migration.clone(),
            offset,
            line_start: offset,
        }
    }

    /// The entries of one range of the plan at `version` (found by [`plan_ranges`]); its
    /// header is not read, so only `migration` is set in it.
    pub async fn range(svc: Services<'_>, migration: &MigrationId, version: Option<&ObjectVersion>, range: PlanRange) -> AppResult<Self> {
        let key = format!("{}/plan.jsonl", report_folder(migration));
        let input = svc.objects.open_range(&key, version, range.start, range.end).await?;
        Ok(StoredPlan::over(migration, input, range.start))
    }

    fn next_line(&mut self) -> Result<Option<&[u8]>, FileRejection> {
        use std::io::BufRead;
        loop {
            self.buffer.clear();
            self.line_start = self.offset;
            let read = self.lines.read_until(b'\n', &mut self.buffer).map_err(|_| unreadable(&self.migration))?;
            if read == 0 {
                return Ok(None);
            }
            self.offset += read as u64;
            while matches!(self.buffer.last(), Some(b'\n' | b'\r')) {
                self.buffer.pop();
            }
            if !self.buffer.is_empty() {
                return Ok(Some(&self.buffer));
            }
        }
    }

    /// The next entry, `None` after the last.
    pub fn next_entry(&mut self) -> Result<Option<PlanEntry>, FileRejection> {
        let migration = self.migration.clone();
        match self.next_line()? {
            Some(line) => serde_json::from_slice(line).map(Some).map_err(|_| unreadable(&migration)),
            None => Ok(None),
        }
    }

    /// Up to `count` next entries (none after the last).
    pub fn next_chunk(&mut self, count: usize) -> Result<Vec<PlanEntry>, FileRejection> {
        let mut chunk = Vec::with_capacity(count);
        while chunk.len() < count {
            match self.next_entry()? {
                Some(entry) => chunk.push(entry),
                None => break,
            }
        }
        Ok(chunk)
    }
}

/// The stored plan of `migration`, proven to be the plan with `expected_sha` and ready to be
/// read from its first entry. Two passes over the file, never held whole: the first renders the
/// CSV again from the entries and hashes it; the second is the returned reader, pinned to the
/// version the first pass read (a plan replaced in between is refused, not mixed).
pub async fn verified_plan(svc: Services<'_>, migration: &MigrationId, expected_sha: &str) -> AppResult<StoredPlan> {
    let key = format!("{}/plan.jsonl", report_folder(migration));
    let version = svc.objects.current_version(&key).await?;
    verify_plan(svc, migration, version.as_ref(), expected_sha, u64::MAX).await?;
    let mut plan = match StoredPlan::open(svc, migration, version.as_ref()).await {
        Err(super::AppError::Port(PortError::Superseded(_))) => {
            return Err(FileRejection::new(
                RejectionCode::StalePlan,
                format!(
                    "The plan of migration {migration} was replaced while it was read. Review the latest report and approve its SHA-256."
                ),
            )
            .into())
        }
        other => other?,
    };
    plan.header.plan_sha256 = expected_sha.to_string();
    Ok(plan)
}

/// The stored plan of `migration`, proven to be the plan with `expected_sha` (one pass, as
/// [`verified_plan`]'s first), cut into ranges of `entries_per_range` entries for a queued
/// apply, with the version every range is to be read at.
pub async fn plan_ranges(
    svc: Services<'_>,
    migration: &MigrationId,
    expected_sha: &str,
    entries_per_range: u64,
) -> AppResult<(Option<ObjectVersion>, Vec<PlanRange>)> {
    let key = format!("{}/plan.jsonl", report_folder(migration));
    let version = svc.objects.current_version(&key).await?;
    let ranges = verify_plan(svc, migration, version.as_ref(), expected_sha, entries_per_range).await?;
    Ok((version, ranges))
}

/// Reads the plan once: renders the CSV again from the entries and checks its SHA-256, noting
/// where each run of `entries_per_range` entries begins and ends.
async fn verify_plan(
    svc: Services<'_>,
    migration: &MigrationId,
    version: Option<&ObjectVersion>,
    expected_sha: &str,
    entries_per_range: u64,
) -> AppResult<Vec<PlanRange>> {
    let mut plan = StoredPlan::open(svc, migration, version).await?;
    let mut csv = PlanCsv::new(std::io::sink(), &plan.header.extra_headers).map_err(|_| unreadable(migration))?;
    let mut ranges = Vec::new();
    let mut current: Option<PlanRange> = None;
    while let Some(entry) = plan.next_entry()? {
        csv.line(&entry.line()).map_err(|_| unreadable(migration))?;
        let range = current.get_or_insert(PlanRange { start: plan.line_start, end: plan.offset, entries: 0 });
        range.end = plan.offset;
        range.entries += 1;
        if range.entries >= entries_per_range {
            ranges.extend(current.take());
        }
    }
    ranges.extend(current);
    let (_, sha) = csv.finish().map_err(|_| unreadable(migration))?;
    if sha != expected_sha {
        return Err(FileRejection::new(
            RejectionCode::StalePlan,
            format!(
                "The stored plan of migration {migration} does not match SHA-256 {expected_sha}. Plan again and approve the new SHA-256."
            ),
        )
        .into());
    }
    Ok(ranges)
}

/// The whole verified plan in memory: for small plans and tests; apply and the validation
/// report read it with [`verified_plan`] a chunk at a time.
pub async fn load_plan(svc: Services<'_>, migration: &MigrationId, expected_sha: &str) -> AppResult<(PlanHeader, Vec<PlanEntry>)> {
    let mut plan = verified_plan(svc, migration, expected_sha).await?;
    let mut entries = Vec::new();
    while let Some(entry) = plan.next_entry()? {
        entries.push(entry);
    }
    Ok((plan.header, entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::Settings;
    use crate::domain::migration::UserRow;
    use crate::domain::plan::ExistingUser;
    use crate::domain::roles::{RoleGuide, RoleMatrix};
    use crate::domain::values::{BuildingId, Status};
    use crate::ports::NewUser;
    use std::borrow::Cow;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// A table that answers each lookup after a delay, counting the lookups in flight; every
    /// third user (by number) exists, with a role named after its number.
    #[derive(Default)]
    struct SlowTable {
        in_flight: AtomicUsize,
        most: AtomicUsize,
        asked: Mutex<Vec<String>>,
    }

    fn number(email: &Email) -> usize {
        email.as_str().trim_start_matches("user").split('@').next().and_then(|n| n.parse().ok()).unwrap_or(usize::MAX)
    }

    #[async_trait::async_trait]
    impl UserTable for SlowTable {
        async fn get_users(&self, emails: &[Email]) -> PortResult<crate::ports::ExistingUsers> {
            assert!(emails.len() <= USERS_PER_LOOKUP);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            self.asked.lock().unwrap().extend(emails.iter().map(|e| e.to_string()));
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let answer = |e: &Email| ExistingUser { roles: [format!("Role {}", number(e))].into(), ..ExistingUser::default() };
            Ok(emails.iter().filter(|e| number(e).is_multiple_of(3)).map(|e| (e.clone(), answer(e))).collect())
        }
        async fn create_users(&self, _: &[NewUser]) -> PortResult<HashMap<Email, Option<MigrationId>>> {
            Err(PortError::Unexpected("not planned".into()))
        }
        async fn grant_access(&self, _: &Email, _: &[String], _: &[BuildingId]) -> PortResult<()> {
            Err(PortError::Unexpected("not planned".into()))
        }
        async fn platform_members(&self) -> PortResult<Vec<crate::domain::platform_users::PlatformMember>> {
            Err(PortError::Unexpected("not planned".into()))
        }
        async fn load_platform_users(&self, _: &[crate::domain::platform_users::PlatformUser]) -> PortResult<()> {
            Err(PortError::Unexpected("not planned".into()))
        }
        async fn drop_platform_users(&self, _: &[Email]) -> PortResult<()> {
            Err(PortError::Unexpected("not planned".into()))
        }
    }

    fn export(users: usize) -> Export {
        let mut deduper = Deduper::default();
        for n in 0..users {
            let row = UserRow {
                row: n as u64 + 2,
                email: Email::parse(&format!("user{n}@example.com")).unwrap(),
                first_name: Cow::Borrowed("Ann"),
                last_name: Cow::Borrowed("Lee"),
                roles: Default::default(),
                buildings: Default::default(),
                status: Some(Status::Active),
                extras: Default::default(),
            };
            deduper.add(row, Vec::new());
        }
        Export {
            summary: PlanSummary { rows: users as u64, ..PlanSummary::default() },
            issues: IssueLog::default(),
            extra_headers: Vec::new(),
            users: deduper,
        }
    }

    #[tokio::test]
    async fn existing_users_are_looked_up_several_calls_at_once_and_planned_in_order() {
        let users = 2_050;
        let table = SlowTable::default();
        let config = Config::new(Settings::default(), RoleGuide::default(), RoleMatrix::default()).unwrap();
        let mut lines: Vec<(String, Vec<String>)> = Vec::new();
        let each = |line: &PlanLine<'_>| {
            lines.push((line.email.to_string(), line.current_roles.iter().map(|r| r.to_string()).collect()));
            Ok(())
        };
        let (summary, _) = export(users).plan_over(&[], &table, &crate::app::NoProgress, &config, each).await.unwrap();

        let most = table.most.load(Ordering::SeqCst);
        assert!(most > 1 && most == LOOKUPS_IN_FLIGHT, "{most} lookups in flight at once, {LOOKUPS_IN_FLIGHT} expected");
        // Every user asked for once, in order, and planned in order with its own answer.
        let expected: Vec<String> = (0..users).map(|n| format!("user{n}@example.com")).collect();
        assert_eq!(*table.asked.lock().unwrap(), expected);
        assert_eq!(lines.iter().map(|(email, _)| email.clone()).collect::<Vec<_>>(), expected);
        for (n, (email, roles)) in lines.iter().enumerate() {
            let answered: Vec<String> = if n.is_multiple_of(3) { vec![format!("Role {n}")] } else { Vec::new() };
            assert_eq!(*roles, answered, "{email}");
        }
        assert_eq!(summary.actions.values().sum::<u64>(), users as u64);
    }
}
