//! The adapters a run uses: embedded (a state folder) or AWS.

use crate::args::Cli;
use crate::output::Failure;
use onboarding::adapters::embedded::EmbeddedState;
use onboarding::app::{Progress, Services};
use onboarding::ports::{Clock, Mailer, ObjectStore, SystemClock, Table};
use std::path::PathBuf;

pub struct Runtime {
    pub objects: Box<dyn ObjectStore>,
    pub table: Box<dyn Table>,
    pub mailer: Box<dyn Mailer>,
    pub clock: SystemClock,
    pub progress: Box<dyn Progress>,
    /// Where things are, for the human output.
    pub locations: Locations,
}

pub struct Locations {
    pub bucket: String,
    pub outbox: Option<PathBuf>,
    pub local_root: Option<PathBuf>,
}

impl Runtime {
    pub async fn open(cli: &Cli, progress: Box<dyn Progress>) -> Result<Self, Failure> {
        if cli.aws {
            return Self::open_aws(cli, progress).await;
        }
        let state = cli.state.as_path();
        let embedded = EmbeddedState::open(state)
            .map_err(|e| Failure::unexpected(format!("cannot open the state folder {}: {e}", state.display())))?;
        let locations = Locations {
            bucket: embedded.objects.root().display().to_string(),
            outbox: Some(embedded.mailer.dir().to_path_buf()),
            local_root: Some(embedded.objects.root().to_path_buf()),
        };
        Ok(Self {
            objects: Box::new(embedded.objects),
            table: Box::new(embedded.table),
            mailer: Box::new(embedded.mailer),
            clock: SystemClock,
            progress,
            locations,
        })
    }

    async fn open_aws(cli: &Cli, progress: Box<dyn Progress>) -> Result<Self, Failure> {
        let need = |value: &Option<String>, flag: &str, env: &str| {
            value.clone().filter(|v| !v.is_empty()).ok_or_else(|| {
                Failure::usage(format!(
                    "--aws needs {flag} (or {env}): the stack's bucket and table names, see README → The onboard command."
                ))
            })
        };
        let bucket = need(&cli.bucket, "--bucket", "ONBOARD_BUCKET")?;
        let table = need(&cli.table, "--table", "ONBOARD_TABLE")?;
        let aws = onboarding::adapters::aws::AwsState::from_env(bucket.clone(), table).await;
        Ok(Self {
            objects: Box::new(aws.objects),
            table: Box::new(aws.table),
            mailer: Box::new(aws.mailer),
            clock: SystemClock,
            progress,
            locations: Locations { bucket: format!("s3://{bucket}"), outbox: None, local_root: None },
        })
    }

    pub fn services(&self) -> Services<'_> {
        Services {
            objects: self.objects.as_ref(),
            table: self.table.as_ref(),
            mailer: self.mailer.as_ref(),
            clock: &self.clock as &dyn Clock,
            progress: self.progress.as_ref(),
            queue: None,
        }
    }

    /// Where an object key can be found by a person.
    pub fn locate(&self, key: &str) -> String {
        match &self.locations.local_root {
            Some(root) => root.join(key).display().to_string(),
            None => format!("{}/{key}", self.locations.bucket),
        }
    }
}
