//! The command line.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "onboard", version, about = "Visitor onboarding: buildings, tenant contacts and user migrations, locally or on AWS.")]
pub struct Cli {
    /// Folder holding the local state (bucket/, table.sqlite, outbox/).
    #[arg(long, global = true, default_value = ".onboard", env = "ONBOARD_STATE")]
    pub state: PathBuf,
    /// Print one JSON object on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Use S3, DynamoDB and SES (standard AWS environment; AWS_ENDPOINT_URL for an emulator)
    /// with ONBOARD_BUCKET and ONBOARD_TABLE.
    #[arg(long, global = true)]
    pub aws: bool,
    /// With --aws: the uploads bucket (the stack's BucketName output).
    #[arg(long, global = true, env = "ONBOARD_BUCKET")]
    pub bucket: Option<String>,
    /// With --aws: the DynamoDB table (the stack's TableName output).
    #[arg(long, global = true, env = "ONBOARD_TABLE")]
    pub table: Option<String>,
    /// Log progress details to stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load the example configuration and files from infra/examples and run every flow.
    Demo,
    /// Read a buildings, tenant-contacts or user-migration file.
    #[command(subcommand)]
    Ingest(Ingest),
    /// Approve a migration plan by its SHA-256 and apply it.
    Approve(Approve),
    /// Send the invites that are due, at the mail service's rate.
    Dispatch {
        /// Send at most this many.
        #[arg(long, default_value_t = 10_000)]
        limit: usize,
    },
    /// Write the validation report (reports/validation/<date>/) and mail its summary.
    Report,
    /// May this person see the Visitor Registration tile?
    Check {
        #[arg(long)]
        building: String,
        /// One or more addresses (repeat, or separate with commas).
        #[arg(long, required = true, value_delimiter = ',')]
        email: Vec<String>,
    },
    /// A migration's invites: list them, put failed or unconfirmed ones back in the queue.
    #[command(subcommand)]
    Invites(InvitesCommand),
    /// Buildings.
    #[command(subcommand)]
    Building(BuildingCommand),
    /// Configuration (settings.json, role-guide.csv, role-matrix.csv).
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum Ingest {
    /// A buildings file: upsert buildings, send kickstart e-mails once.
    Buildings {
        file: PathBuf,
        /// Send the kickstart e-mail again, even to buildings that had it.
        #[arg(long)]
        resend: bool,
    },
    /// A tenant-contacts file for one building: grants and the Envoy import file.
    Tenants {
        #[arg(long)]
        building: String,
        /// Also revoke contacts missing from the file.
        #[arg(long)]
        replace: bool,
        /// Revoke even past the configured share.
        #[arg(long, requires = "replace")]
        force: bool,
        file: PathBuf,
    },
    /// A user-migration export: plan it (nothing is written to users).
    Users {
        #[arg(long)]
        migration: String,
        file: PathBuf,
    },
    /// A platform-users export (a snapshot of the platform's current users): plans then give
    /// them add_roles or no_change, never an invite. Replaces the last snapshot.
    PlatformUsers {
        /// Forget more of the last snapshot's users than the revoke threshold allows.
        #[arg(long)]
        force: bool,
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct Approve {
    #[arg(long)]
    pub migration: String,
    /// The SHA-256 printed with the plan.
    #[arg(long = "plan-sha256")]
    pub plan_sha256: String,
    /// Send invites from this day on (YYYY-MM-DD); default: now.
    #[arg(long)]
    pub invite_date: Option<String>,
    #[arg(long, default_value = "onboard CLI")]
    pub approved_by: String,
    /// Leave this user out (repeatable).
    #[arg(long)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum InvitesCommand {
    /// List a migration's invites with their state (pending, sending, sent, failed, unconfirmed)
    /// and, once sent, what SES said of it (accepted, delayed, delivered, soft_bounced,
    /// bounced, rejected, complained).
    List {
        #[arg(long)]
        migration: String,
        /// Only invites in this state, or in this delivery state.
        #[arg(long)]
        status: Option<String>,
    },
    /// Lift a pause that bounces or a complaint put on invites, and start the bounce count again.
    /// Look at what bounced first (`invites list --status bounced`, the validation report).
    Resume,
    /// Take an address off the suppression list, on purpose (it was fixed at the mailbox's end).
    Unsuppress {
        #[arg(long)]
        email: String,
    },
    /// Put failed or unconfirmed invites back in the queue (a new attempt in the mail ledger).
    /// Check first that an unconfirmed invite did not arrive: it may have been sent.
    Retry {
        #[arg(long)]
        migration: String,
        /// Only this person's invite.
        #[arg(long)]
        email: Option<String>,
    },
    /// Move every unsent invite of a migration to another day (sent ones are counted and left
    /// alone; a past date is refused).
    Reschedule {
        #[arg(long)]
        migration: String,
        /// The new day, YYYY-MM-DD (UTC).
        #[arg(long)]
        date: String,
    },
    /// Send one person's invite again, on purpose, as a new message (refused for an invite not
    /// sent yet and for an address on a suppression list).
    Resend {
        #[arg(long)]
        migration: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BuildingCommand {
    /// Set a building's phase: new, kickstart_sent, account_setup, testing, live. Until a
    /// building is live nobody sees its tile; `live` is refused for a permissioned building with
    /// no tenant contacts unless forced.
    Phase {
        building: String,
        phase: String,
        /// Go live even though a permissioned building has no tenant contacts (nobody sees the tile).
        #[arg(long)]
        force: bool,
    },
    /// List buildings with their phase and policy.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check and load settings.json, role-guide.csv and role-matrix.csv from a folder.
    Load { dir: PathBuf },
}
