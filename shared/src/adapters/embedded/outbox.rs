//! An outbox folder of `.eml` files standing in for SES. Sending the same key twice writes one
//! file, so the outbox is also the proof of "every e-mail exactly once".

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

/// SES's mailbox-simulator address that behaves as if it were on the suppression list.
pub const SIMULATOR_SUPPRESSED: &str = "suppressionlist@simulator.amazonses.com";
