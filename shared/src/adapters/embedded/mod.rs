//! The adapters `onboard` uses with no AWS account: a folder for the bucket, SQLite for the
//! table, an outbox folder of `.eml` files for SES.

mod folder;
mod outbox;
mod queue;
mod sqlite;

pub use folder::FolderStore;
pub use outbox::{Outbox, SIMULATOR_SUPPRESSED};
pub use queue::MemoryQueue;
pub use sqlite::SqliteTable;

use std::path::Path;

/// The three embedded adapters over one state folder (`bucket/`, `table.sqlite`, `outbox/`).
pub struct EmbeddedState {
    pub objects: FolderStore,
    pub table: SqliteTable,
    pub mailer: Outbox,
}

impl EmbeddedState {
    pub fn open(dir: &Path) -> Result<Self, crate::ports::PortError> {
        std::fs::create_dir_all(dir).map_err(|e| crate::ports::PortError::Unexpected(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Self {
            objects: FolderStore::new(dir.join("bucket"))?,
            table: SqliteTable::open(&dir.join("table.sqlite"))?,
            mailer: Outbox::new(dir.join("outbox"))?,
        })
    }
}
