//! An outbox folder of `.eml` files standing in for SES. Sending the same key twice writes one
//! file, so the outbox is also the proof of "every e-mail exactly once".
//!
//! Like SES's mailbox simulator, each new message also leaves SES's delivery events for each
//! recipient in `feedback/` (SES's own JSON): bounce@simulator.amazonses.com bounces,
//! complaint@ complains, suppressionlist@ bounces as suppressed, every other address is
//! delivered. [`Outbox::deliver_feedback`] hands them to the same use case the feedback function
//! runs on AWS, so the local loop and the deployed one are the same.

use crate::app::delivery::FeedbackOutcome;
use crate::app::{self, AppResult, Services};
use crate::domain::config::Config;
use crate::domain::delivery;
use crate::domain::mail::OutgoingMail;
use crate::ports::{Mailer, PortError, PortResult};
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

pub struct Outbox {
    dir: PathBuf,
    rate: f64,
}

impl Outbox {
    pub fn new(dir: PathBuf) -> PortResult<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| PortError::Unexpected(format!("{}: {e}", dir.display())))?;
        Ok(Self { dir, rate: 1000.0 })
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The `.eml` files written so far.
    pub fn messages(&self) -> PortResult<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(|e| PortError::Unexpected(e.to_string()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        files.sort();
        Ok(files)
    }

    fn file_name(key: &str) -> (String, String) {
        let digest = hex::encode(&Sha256::digest(key.as_bytes())[..12]);
        let kind: String = key.split('#').next().unwrap_or("mail").chars().filter(|c| c.is_ascii_alphanumeric()).take(20).collect();
        (format!("{kind}-{digest}.eml"), format!("<{digest}@outbox.onboard.local>"))
    }
}

#[async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: &OutgoingMail) -> PortResult<String> {
        let (name, message_id) = Self::file_name(&mail.key);
        let path = self.dir.join(&name);
        if path.exists() {
            return Ok(message_id);
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let temp = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&temp, mail.to_rfc5322(&message_id, now)).map_err(|e| PortError::Unexpected(e.to_string()))?;
        // The events first: a crash between leaves events for a message that is not there yet,
        // and the re-send that follows writes the message under the same id.
        self.simulate_events(&message_id, mail)?;
        std::fs::rename(&temp, &path).map_err(|e| PortError::Unexpected(e.to_string()))?;
        Ok(message_id)
    }

    async fn max_send_rate(&self) -> PortResult<f64> {
        Ok(self.rate)
    }

    fn deduplicates(&self) -> bool {
        true
    }

    /// Like SES's mailbox simulator: its suppression-list address is always suppressed.
    async fn suppressed(&self, email: &crate::domain::values::Email) -> PortResult<Option<String>> {
        Ok((email.as_str() == SIMULATOR_SUPPRESSED).then(|| "on the suppression list (mailbox simulator)".to_string()))
    }
}

impl Outbox {
    fn feedback_dir(&self) -> PathBuf {
        self.dir.join("feedback")
    }

    /// Writes the events SES's mailbox simulator would publish for `mail`, one file each.
    fn simulate_events(&self, message_id: &str, mail: &OutgoingMail) -> PortResult<()> {
        let dir = self.feedback_dir();
        std::fs::create_dir_all(&dir).map_err(|e| PortError::Unexpected(format!("{}: {e}", dir.display())))?;
        let now = time::OffsetDateTime::now_utc();
        let digest = hex::encode(&Sha256::digest(message_id.as_bytes())[..8]);
        for (r, recipient) in mail.to.iter().chain(&mail.cc).enumerate() {
            for (n, (state, detail)) in delivery::simulated_events(recipient.as_str()).into_iter().enumerate() {
                let at = now + time::Duration::milliseconds(n as i64);
                let json = delivery::ses_event_json(message_id, recipient.as_str(), state, at, detail);
                let name = format!("{}-{digest}-{r:03}-{n}.json", now.unix_timestamp_nanos());
                std::fs::write(dir.join(name), json).map_err(|e| PortError::Unexpected(e.to_string()))?;
            }
        }
        Ok(())
    }

    /// Records every waiting event through the feedback use case, oldest first, removing each
    /// file once recorded. Answers what each event did.
    pub async fn deliver_feedback(&self, svc: Services<'_>, config: &Config) -> AppResult<Vec<FeedbackOutcome>> {
        let dir = self.feedback_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(Vec::new()) };
        let mut files: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
        files.sort();
        let mut outcomes = Vec::with_capacity(files.len());
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| PortError::Unexpected(format!("{}: {e}", file.display())))?;
            match delivery::parse_ses_event(&text) {
                Ok(event) => outcomes.push(app::delivery::record_event(svc, config, &event).await?),
                Err(error) => tracing::warn!(file = %file.display(), %error, "an unreadable delivery event is skipped"),
            }
            std::fs::remove_file(&file).map_err(|e| PortError::Unexpected(format!("{}: {e}", file.display())))?;
        }
        Ok(outcomes)
    }
}

/// SES's mailbox-simulator address that behaves as if it were on the suppression list.
pub const SIMULATOR_SUPPRESSED: &str = "suppressionlist@simulator.amazonses.com";
