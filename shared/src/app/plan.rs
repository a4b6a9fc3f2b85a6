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
use crate::domain::issue::{FileRejection, Issue, RejectionCode};
use crate::domain::issue_log::IssueLog;
use crate::domain::migration::MigrationState;
use crate::domain::migration::{user_from_shaped_row, Deduper, MergedView, RowOutcome, RowShape};
use crate::domain::plan::PlanSummary;
use crate::domain::plan::{issues_csv_part, plan_line_into, Action, CsvLines, PlanCsv, PlanEntry, PlanLine};
use crate::domain::roles::RoleMatrix;
use crate::domain::values::{Email, MigrationId};
use crate::ports::{MigrationRecord, ObjectVersion, ObjectWriter, PortError, PortResult, UserTable, USERS_PER_LOOKUP};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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

/// Where the plan's lines go. Lines are rendered on the planning threads, each thread into
/// parts of its own ([`PlanOutput::Part`], a batch of users' lines each), and the parts are
/// taken here one after another in plan order: what depends on the order (a hash, the
/// file's bytes) happens in `take`.
#[async_trait::async_trait]
pub trait PlanOutput: Send {
    /// A batch of lines rendered on a planning thread.
    type Part: Default + Send + 'static;
    /// Renders user `index`'s line (0-based, plan order) onto `part`.
    fn render(part: &mut Self::Part, index: usize, line: &PlanLine<'_>) -> std::io::Result<()>;
    /// Takes the next part in plan order, leaving it empty for reuse.
    fn take(&mut self, part: &mut Self::Part) -> std::io::Result<()>;
    /// Called between groups of batches: a chance to hand what was taken on to the store.
    async fn drain(&mut self) -> PortResult<()> {
        Ok(())
    }
}

/// A closure gets every line as an owned entry, in order (for tests and small tools).
#[async_trait::async_trait]
impl<F: FnMut(&PlanLine<'_>) -> std::io::Result<()> + Send> PlanOutput for F {
    type Part = Vec<PlanEntry>;
    fn render(part: &mut Vec<PlanEntry>, _: usize, line: &PlanLine<'_>) -> std::io::Result<()> {
        part.push(line.to_entry());
        Ok(())
    }
    fn take(&mut self, part: &mut Vec<PlanEntry>) -> std::io::Result<()> {
        part.drain(..).try_for_each(|entry| self(&entry.line()))
    }
}

/// plan.csv alone, written to `W` and hashed.
#[async_trait::async_trait]
impl<W: std::io::Write + Send> PlanOutput for &mut PlanCsv<W> {
    type Part = CsvLines;
    fn render(part: &mut CsvLines, _: usize, line: &PlanLine<'_>) -> std::io::Result<()> {
        part.push(line);
        Ok(())
    }
    fn take(&mut self, part: &mut CsvLines) -> std::io::Result<()> {
        PlanCsv::take(self, part)
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
    /// How many threads plan the users (see [`planning_threads`]).
    threads: usize,
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
    // The file is read on a thread of its own, which also looks at each row's cells (its
    // shape), while its rows are checked and merged here.
    let (look_map, max_cell_chars) = (map.clone(), limits.max_cell_chars);
    let mut rows = ReadAhead::start(sheet, move |row| RowShape::of(&look_map, row, max_cell_chars))?;
    while let Some(batch) = rows.next_batch()? {
        // The batch's rows are checked first, then their addresses' index entries fetched
        // together (`Deduper::warm`), then the rows merged in order.
        let checked: Vec<RowOutcome> =
            batch.rows().iter().zip(batch.looks()).map(|(row, &shape)| user_from_shaped_row(&map, row, max_cell_chars, shape)).collect();
        users.warm(checked.iter().filter_map(|outcome| match outcome {
            RowOutcome::Usable(user, _) => Some(user.email.as_ref()),
            RowOutcome::Rejected(_) => None,
        }));
        for outcome in checked {
            summary.rows += 1;
            match outcome {
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
    Ok(Export { summary, issues, extra_headers: map.extra_headers(), users, threads: planning_threads() })
}

/// The most threads that plan users at once.
pub const MAX_PLANNING_THREADS: usize = 8;

/// The threads this process plans users on: one per core it may use (Lambda gives a function a
/// share of a core per 1,769 MB of memory, up to six), at most [`MAX_PLANNING_THREADS`].
pub fn planning_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_PLANNING_THREADS)
}

impl Export {
    /// Plans on `threads` threads instead of one per core (at least one).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

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
    ///
    /// The lookups go [`LOOKUPS_IN_FLIGHT`] at once, here; their answers are gathered into
    /// batches of about [`USERS_PER_BATCH`] users, each planned on one of the export's threads
    /// (lines rendered, issues raised, actions counted) while the next batches are looked up,
    /// and the batches are taken back in plan order, so the outputs are the same bytes whatever
    /// the number of threads. With one thread, batches are planned here as they are answered.
    pub async fn plan_over<O: PlanOutput>(
        self,
        buildings: &[BuildingState],
        table: &dyn UserTable,
        progress: &dyn Progress,
        config: &Config,
        mut each: O,
    ) -> AppResult<(PlanSummary, IssueLog)> {
        let Export { mut summary, mut issues, users, threads, .. } = self;
        let context = Arc::new(PlanContext {
            users,
            matrix: config.matrix.clone(),
            directory: BuildingDirectory::new(buildings.iter().map(|b| &b.building)),
            migration: summary.migration.clone(),
        });
        let mut counts = [0u64; Action::ALL.len()];
        let mut done = 0u64;
        let mut planners = Planners::<O::Part>::start(&context, threads, O::render)?;
        let mut lookups = existing_users(&context.users, table);
        let mut lookups_done = false;
        // The users of a batch planned here, reused from batch to batch.
        let mut views = Vec::new();
        // Batches planned but not yet taken, by number; the next to take.
        let mut waiting: BTreeMap<usize, Batch<O::Part>> = BTreeMap::new();
        // Answered lookups' lists, emptied, for the next batches.
        let mut spare_answers = Vec::new();
        let (mut sent, mut next) = (0usize, 0usize);
        loop {
            // Keep the planners fed while there are users to look up: a batch is the next
            // lookups answered, up to [`USERS_PER_BATCH`] users.
            if !lookups_done && sent - next < planners.capacity() {
                let mut answered: Vec<Answered> = spare_answers.pop().unwrap_or_default();
                let mut users = 0;
                while users < USERS_PER_BATCH {
                    let Some((start, emails, existing)) = lookups.next().await else {
                        lookups_done = true;
                        break;
                    };
                    users += emails.len();
                    answered.push(Answered { start, emails, existing: existing? });
                }
                if !answered.is_empty() {
                    let batch = Batch { number: sent, answered, planned: Planned::default() };
                    if let Some(batch) = planners.plan(&context, &mut views, batch).map_err(unexpected)? {
                        waiting.insert(batch.number, batch);
                    }
                    sent += 1;
                }
                continue;
            }
            if next == sent {
                break;
            }
            if !waiting.contains_key(&next) {
                let batch = planners.planned().await?;
                waiting.insert(batch.number, batch);
                continue;
            }
            while let Some(mut batch) = waiting.remove(&next) {
                each.take(&mut batch.planned.part).map_err(unexpected)?;
                issues.extend(batch.planned.issues.drain(..));
                for (total, count) in counts.iter_mut().zip(batch.planned.counts) {
                    *total += count;
                }
                let before = done;
                for answer in batch.answered.drain(..) {
                    done += answer.emails.len() as u64;
                    lookups.recycle(answer.emails);
                }
                if done / 10_000 != before / 10_000 {
                    progress.advance("users planned", done);
                }
                spare_answers.push(batch.answered);
                planners.recycle(batch.planned);
                next += 1;
            }
            each.drain().await?;
        }
        drop(lookups);
        progress.finish("users planned");
        // The old roles the file uses (as keys): capability gaps are reported for those only.
        let in_use = planners.finish()?;
        issues.extend(config.matrix.gap_issues(&in_use));
        summary.old_roles_used = config.matrix.used(&in_use).map(|m| m.old_role.clone()).collect();
        issues.sort_by_row();

        for (action, count) in Action::ALL.iter().zip(counts) {
            summary.actions.insert(action.as_str().to_string(), count);
        }
        summary.inactive_skipped = summary.actions.get(Action::SkipInactive.as_str()).copied().unwrap_or(0);
        summary.accepted = summary.rows - summary.rejected - summary.duplicates_merged - summary.inactive_skipped;
        // Counted from the log's records (a quarter of a million issues at a million rows).
        let tally = issues.tally();
        (summary.errors, summary.warnings) = (tally.errors, tally.warnings);
        summary.issues_by_code = tally.by_code.into_iter().map(|(code, count)| (code.as_str().to_string(), count)).collect();
        Ok((summary, issues))
    }
}

/// What every planning thread reads.
struct PlanContext {
    users: Deduper,
    matrix: RoleMatrix,
    directory: BuildingDirectory,
    /// The migration being planned.
    migration: String,
}

/// How a planning thread renders a line: [`PlanOutput::render`].
type Render<P> = for<'l> fn(&mut P, usize, &PlanLine<'l>) -> std::io::Result<()>;

/// One batch of users planned: its lines rendered, its issues (in user order) and its counts
/// by action.
#[derive(Default)]
struct Planned<P> {
    part: P,
    issues: Vec<Issue>,
    counts: [u64; Action::ALL.len()],
}

/// A batch of users on its way through a planning thread: the `number`th, its users as the
/// lookups answered them (in order), and what planning made of it.
struct Batch<P> {
    number: usize,
    answered: Vec<Answered>,
    planned: Planned<P>,
}

/// One lookup's users: the first one's index, their addresses and their existing records.
struct Answered {
    start: usize,
    emails: Vec<Email>,
    existing: crate::ports::ExistingUsers,
}

/// About how many users a batch for a planning thread holds: several lookups' worth, so a
/// thread is woken once for a thousand users, not ten times. Each wake-up is a system call on
/// both sides: with a hundred users a batch, the plan core on two threads took about 7 % more
/// CPU at a million rows, side by side.
const USERS_PER_BATCH: usize = 1000;

/// A batch back from a planning thread, or why it is not.
type Answer<P> = Result<Batch<P>, String>;

/// The threads that plan batches: none (batches planned on the caller's thread as they come),
/// or a pool fed in turn, answering in any order.
enum Planners<P> {
    Here {
        worker: Worker,
        render: Render<P>,
        spare: Vec<Planned<P>>,
    },
    Pool {
        jobs: Vec<std::sync::mpsc::Sender<Batch<P>>>,
        answers: tokio::sync::mpsc::UnboundedReceiver<Answer<P>>,
        threads: Vec<std::thread::JoinHandle<BTreeSet<String>>>,
        spare: Vec<Planned<P>>,
        turn: usize,
    },
}

impl<P: Default + Send + 'static> Planners<P> {
    fn start(context: &Arc<PlanContext>, threads: usize, render: Render<P>) -> Result<Self, PortError> {
        if threads <= 1 {
            return Ok(Planners::Here { worker: Worker::default(), render, spare: Vec::new() });
        }
        let (answer, answers) = tokio::sync::mpsc::unbounded_channel();
        let mut jobs = Vec::with_capacity(threads);
        let mut handles = Vec::with_capacity(threads);
        for number in 0..threads {
            let (job, batches) = std::sync::mpsc::channel::<Batch<P>>();
            let (context, answer) = (context.clone(), answer.clone());
            let thread = std::thread::Builder::new().name(format!("planner-{number}")).spawn(move || {
                let mut worker = Worker::default();
                let mut views = Vec::new();
                for mut batch in batches {
                    let planned =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| worker.plan(&context, &mut views, render, &mut batch)));
                    let reply = match planned {
                        Ok(Ok(())) => Ok(batch),
                        Ok(Err(error)) => Err(error.to_string()),
                        Err(_) => Err("a planning thread stopped".to_string()),
                    };
                    if answer.send(reply).is_err() {
                        break;
                    }
                }
                worker.in_use
            });
            // Threads already started end when their job senders go.
            handles.push(thread.map_err(|e| PortError::Unexpected(format!("starting a planning thread: {e}")))?);
            jobs.push(job);
        }
        Ok(Planners::Pool { jobs, answers, threads: handles, spare: Vec::new(), turn: 0 })
    }

    /// How many batches may be planned or waiting at once.
    fn capacity(&self) -> usize {
        match self {
            Planners::Here { .. } => 1,
            Planners::Pool { jobs, .. } => 2 * jobs.len() + 1,
        }
    }

    /// Plans `batch`: here at once (and answers it), or on the next thread in turn. `views`
    /// is what planning here reuses from batch to batch.
    fn plan<'c>(
        &mut self,
        context: &'c PlanContext,
        views: &mut Vec<MergedView<'c>>,
        mut batch: Batch<P>,
    ) -> std::io::Result<Option<Batch<P>>> {
        match self {
            Planners::Here { worker, render, spare } => {
                batch.planned = spare.pop().unwrap_or_default();
                worker.plan(context, views, *render, &mut batch)?;
                Ok(Some(batch))
            }
            Planners::Pool { jobs, spare, turn, .. } => {
                batch.planned = spare.pop().unwrap_or_default();
                *turn = (*turn + 1) % jobs.len();
                // A thread that is gone answers nothing; `planned` notices when every one is.
                let _ = jobs[*turn].send(batch);
                Ok(None)
            }
        }
    }

    /// The next batch a thread answers, in any order.
    async fn planned(&mut self) -> AppResult<Batch<P>> {
        match self {
            // Batches planned here are answered at once: none is ever awaited.
            Planners::Here { .. } => Err(unexpected("no batch is being planned").into()),
            Planners::Pool { answers, .. } => match answers.recv().await {
                Some(Ok(batch)) => Ok(batch),
                Some(Err(error)) => Err(unexpected(error).into()),
                None => Err(unexpected("the planning threads stopped").into()),
            },
        }
    }

    fn recycle(&mut self, mut planned: Planned<P>) {
        planned.counts = [0; Action::ALL.len()];
        match self {
            Planners::Here { spare, .. } | Planners::Pool { spare, .. } => spare.push(planned),
        }
    }

    /// Stops the threads and answers the old roles (as keys) their users named.
    fn finish(self) -> AppResult<BTreeSet<String>> {
        match self {
            Planners::Here { worker, .. } => Ok(worker.in_use),
            Planners::Pool { jobs, threads, .. } => {
                drop(jobs);
                let mut in_use = BTreeSet::new();
                for thread in threads {
                    in_use.extend(thread.join().map_err(|_| unexpected("a planning thread stopped"))?);
                }
                Ok(in_use)
            }
        }
    }
}

/// A planning thread's own state, kept from batch to batch.
#[derive(Default)]
struct Worker {
    /// The old roles its users named, as keys.
    in_use: BTreeSet<String>,
    /// The old roles its users named, as written: a role is turned into its key (and looked up
    /// in `in_use`) the first time only.
    seen: std::collections::HashSet<String, foldhash::fast::RandomState>,
    migrated_by: MigratedBy,
}

impl Worker {
    /// Plans `batch`'s users in order into `batch.planned`; `views` holds them read back
    /// (reused from batch to batch: no allocation per user).
    fn plan<'c, P>(
        &mut self,
        context: &'c PlanContext,
        views: &mut Vec<MergedView<'c>>,
        render: Render<P>,
        batch: &mut Batch<P>,
    ) -> std::io::Result<()> {
        let Batch { answered, planned: out, .. } = batch;
        for answer in answered.iter() {
            self.plan_users(context, views, render, answer, out)?;
        }
        Ok(())
    }

    /// Plans the users one lookup answered.
    fn plan_users<'c, P>(
        &mut self,
        context: &'c PlanContext,
        views: &mut Vec<MergedView<'c>>,
        render: Render<P>,
        Answered { start, emails, existing }: &Answered,
        out: &mut Planned<P>,
    ) -> std::io::Result<()> {
        views.resize_with(emails.len(), MergedView::default);
        for (at, view) in views.iter_mut().enumerate() {
            context.users.view_into(*start + at, view);
        }
        let mut line = PlanLine::default();
        for (at, user) in views.iter().enumerate() {
            let found = existing.get(user.email.as_str());
            plan_line_into(&mut line, user, &context.matrix, &context.directory, found, &mut out.issues);
            if let Some(other) = found.and_then(|f| f.created_by.as_ref()).filter(|m| m.as_str() != context.migration) {
                if matches!(line.action, Action::AddRoles | Action::NoChange) {
                    out.issues.push(already_migrated(&mut self.migrated_by, other, user.rows.first().copied().unwrap_or(0)));
                }
            }
            out.counts[Action::ALL.iter().position(|a| *a == line.action).unwrap_or(0)] += 1;
            for &role in &user.roles {
                if self.seen.contains(role) {
                    continue;
                }
                self.seen.insert(role.to_string());
                crate::domain::text::with_header_key(role, |key| {
                    if !self.in_use.contains(key) {
                        self.in_use.insert(key.to_string());
                    }
                });
            }
            render(&mut out.part, *start + at, &line)?;
        }
        Ok(())
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

/// A batch of the plan's lines as a planning thread renders them.
#[derive(Default)]
struct FilesPart {
    csv: CsvLines,
    jsonl: Vec<u8>,
    /// Its lines among the report's first [`MAX_HTML_ROWS`].
    shown: Vec<PlanEntry>,
    lines: usize,
}

#[async_trait::async_trait]
impl PlanOutput for &mut PlanFiles<'_> {
    type Part = FilesPart;

    fn render(part: &mut FilesPart, index: usize, line: &PlanLine<'_>) -> std::io::Result<()> {
        part.csv.push(line);
        serde_json::to_writer(&mut part.jsonl, line)?;
        part.jsonl.push(b'\n');
        if index < MAX_HTML_ROWS {
            part.shown.push(line.to_entry());
        }
        part.lines += 1;
        Ok(())
    }

    fn take(&mut self, part: &mut FilesPart) -> std::io::Result<()> {
        self.csv.take(&mut part.csv)?;
        self.jsonl.extend_from_slice(&part.jsonl);
        part.jsonl.clear();
        self.shown.append(&mut part.shown);
        self.users += std::mem::take(&mut part.lines);
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
                email: format!("user{n}@example.com").into(),
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
            threads: 1,
        }
    }

    /// An export with a bit of everything: mapped, unmapped and missing roles, a known building
    /// by name, alias and UUID, unknown ones, inactive and unknown statuses, duplicates.
    fn varied_export(users: usize) -> Export {
        let mut deduper = Deduper::default();
        let mut issues = IssueLog::default();
        let roles = [&["Host"][..], &["Admin", "host"], &[], &["Janitor"]];
        let buildings = [&["One Market"][..], &["1MKT", "Nowhere"], &["3F2B8C1E-0D4A-4C8E-9A51-2F6D7E8B9C10"], &[]];
        let mut rows = 0u64;
        for n in 0..users {
            // Every tenth user appears twice (the second time under another role).
            for copy in 0..if n % 10 == 0 { 2 } else { 1 } {
                rows += 1;
                let row = UserRow {
                    row: rows + 1,
                    email: format!("user{n}@example.com").into(),
                    first_name: Cow::Owned(format!("Ann {}", n % 7)),
                    last_name: Cow::Borrowed(if n % 13 == 0 { "" } else { "Lee" }),
                    roles: roles[(n + copy) % roles.len()].iter().map(|r| Cow::Borrowed(*r)).collect(),
                    buildings: buildings[n % buildings.len()].iter().map(|b| Cow::Borrowed(*b)).collect(),
                    status: [Some(Status::Active), Some(Status::Active), Some(Status::Inactive), None][n % 4],
                    extras: [["R&D", "=1+1"][n % 2]].into_iter().collect(),
                };
                let (_, raised) = deduper.add(row, Vec::new());
                issues.extend(raised);
            }
        }
        Export {
            summary: PlanSummary { rows, migration: "m-now".into(), ..PlanSummary::default() },
            issues,
            extra_headers: vec!["Department".into()],
            users: deduper,
            threads: 1,
        }
    }

    fn matrix_config() -> Config {
        use crate::domain::intake::{ColumnMap, RawRow};
        use crate::domain::roles::{GUIDE_COLUMNS, MATRIX_COLUMNS};
        let rows = |data: &[&[&str]]| -> Vec<RawRow> {
            data.iter()
                .enumerate()
                .map(|(i, c)| RawRow { number: i as u64 + 2, cells: c.iter().map(|s| s.to_string()).collect() })
                .collect()
        };
        let gmap = ColumnMap::resolve(GUIDE_COLUMNS, &["Role".into(), "Capabilities".into()]).unwrap();
        let guide = RoleGuide::from_rows(&gmap, rows(&[&["VR Host", "register"], &["VR Admin", "register; manage"]])).unwrap();
        let mmap = ColumnMap::resolve(MATRIX_COLUMNS, &["Old Role".into(), "Platform Roles".into()]).unwrap();
        let matrix = RoleMatrix::from_rows(&mmap, rows(&[&["Host", "VR Host"], &["Admin", "VR Admin; VR Host"]]), &guide).unwrap();
        Config::new(Settings::default(), guide, matrix).unwrap()
    }

    fn one_market() -> BuildingState {
        use crate::domain::building::{Building, Phase, TilePolicy};
        BuildingState {
            building: Building {
                id: BuildingId::parse("3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10").unwrap(),
                name: "One Market".into(),
                address: "1 Market St".into(),
                envoy_csm: Email::parse("csm@envoy.com").unwrap(),
                envoy_account_executive: None,
                platform_csm: None,
                tile_policy: TilePolicy::Permissioned,
                aliases: vec!["1MKT".into()],
                time_zone: None,
            },
            phase: Phase::default(),
            phase_changed_at: time::OffsetDateTime::UNIX_EPOCH,
            kickstart_message_id: None,
        }
    }

    /// Records the lines in the order they were taken, and which thread rendered each batch.
    #[derive(Default)]
    struct ThreadsSeen {
        lines: Vec<(usize, String)>,
        threads: Vec<std::thread::ThreadId>,
    }

    #[async_trait::async_trait]
    impl PlanOutput for &mut ThreadsSeen {
        type Part = Vec<(usize, String, Option<std::thread::ThreadId>)>;
        fn render(part: &mut Self::Part, index: usize, line: &PlanLine<'_>) -> std::io::Result<()> {
            let first = part.is_empty().then(|| std::thread::current().id());
            part.push((index, line.email.to_string(), first));
            Ok(())
        }
        fn take(&mut self, part: &mut Self::Part) -> std::io::Result<()> {
            for (index, email, thread) in part.drain(..) {
                self.threads.extend(thread);
                self.lines.push((index, email));
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn planning_on_several_threads_writes_the_same_plan_as_on_one() {
        let users = 5_000;
        let config = matrix_config();
        let buildings = [one_market()];
        let plan = |threads: usize| {
            let (config, buildings) = (&config, &buildings);
            async move {
                let table = SlowTable::default();
                let mut csv = PlanCsv::new(Vec::new(), &["Department".to_string()]).unwrap();
                let (summary, issues) = varied_export(users)
                    .with_threads(threads)
                    .plan_over(buildings, &table, &crate::app::NoProgress, config, &mut csv)
                    .await
                    .unwrap();
                let (bytes, sha) = csv.finish().unwrap();
                (String::from_utf8(bytes).unwrap(), sha, serde_json::to_string(&summary).unwrap(), issues.to_vec())
            }
        };
        let one = plan(1).await;
        // Sanity: the plan has every kind of line and issue the threads must keep in order.
        for action in ["create_and_invite", "add_roles", "skip_inactive", "hold"] {
            assert!(one.0.contains(action), "no {action} line");
        }
        assert!(one.0.contains("unmapped role “Janitor”") && one.0.contains("'=1+1"), "{}", &one.0[..2000]);
        assert!(one.3.len() > users, "{} issues", one.3.len());
        // The summary counts the issues by code, as they are.
        let mut counted = BTreeMap::<String, u64>::new();
        for issue in &one.3 {
            *counted.entry(issue.code.as_str().to_string()).or_default() += 1;
        }
        let summary: serde_json::Value = serde_json::from_str(&one.2).unwrap();
        assert_eq!(serde_json::to_value(&counted).unwrap(), summary["issues_by_code"]);
        assert!(counted.len() > 3, "{counted:?}");
        for threads in [2, 3, MAX_PLANNING_THREADS] {
            let many = plan(threads).await;
            assert_eq!(many.1, one.1, "plan.csv's SHA-256 on {threads} threads");
            assert_eq!(many.0, one.0, "plan.csv on {threads} threads");
            assert_eq!(many.2, one.2, "summary on {threads} threads");
            assert_eq!(many.3, one.3, "issues on {threads} threads");
        }

        // The lines really are rendered on several threads, and taken in plan order.
        let mut seen = ThreadsSeen::default();
        let table = SlowTable::default();
        varied_export(users).with_threads(3).plan_over(&buildings, &table, &crate::app::NoProgress, &config, &mut seen).await.unwrap();
        // A batch is several lookups' users (a thread is woken once for them all), and the
        // batches go to the 3 threads in turn.
        assert_eq!(seen.threads.len(), users.div_ceil(USERS_PER_BATCH), "batches planned");
        for group in seen.threads.windows(3) {
            let distinct: std::collections::HashSet<_> = group.iter().collect();
            assert_eq!(distinct.len(), 3, "threads that rendered three batches in a row");
        }
        assert!(seen.lines.iter().enumerate().all(|(at, (index, email))| at == *index && *email == format!("user{at}@example.com")));
        assert_eq!(seen.lines.len(), users);
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
