//! A sheet read on a thread of its own, a few batches of rows ahead of the caller: reading the
//! file (the download, the CSV parser, the UTF-8 check, the cells' copies) runs on one core
//! while the caller checks and merges the rows already read on another. Rows arrive in file
//! order, exactly as [`Sheet::read_into`] gives them; the batches' buffers go back to the reader
//! to be filled again, so a million rows allocate no more than a few batches.

use super::AppResult;
use crate::domain::intake::{RawRow, Sheet};
use crate::domain::issue::FileRejection;
use crate::ports::PortError;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

/// Rows in one batch.
const BATCH_ROWS: usize = 1024;
/// Batches read and not yet taken: with the one being taken and the one being filled, at most
/// four batches are held.
const BATCHES_AHEAD: usize = 2;

/// Rows read, in file order.
pub struct Batch {
    rows: Vec<RawRow>,
    len: usize,
    /// Set on the last batch: the end of the sheet, or the rejection that stopped the reading.
    end: Option<Result<(), FileRejection>>,
}

impl Batch {
    pub fn rows(&self) -> &[RawRow] {
        self.rows.get(..self.len).unwrap_or_default()
    }
}

/// The sheet's rows, read on a thread of its own.
pub struct ReadAhead {
    full: Receiver<Batch>,
    spare: Sender<Vec<RawRow>>,
    finished: bool,
}

impl ReadAhead {
    /// Starts reading `sheet` on a new thread.
    pub fn start(sheet: Sheet) -> Result<Self, PortError> {
        let (full_sender, full) = mpsc::sync_channel(BATCHES_AHEAD);
        let (spare, spare_receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("sheet-reader".into())
            .spawn(move || read_batches(sheet, &full_sender, &spare_receiver))
            .map_err(|e| PortError::Unexpected(format!("starting the file's reader: {e}")))?;
        Ok(Self { full, spare, finished: false })
    }

    /// The next batch of rows; `None` after the last. A sheet the reader refused (a broken or
    /// too large file) answers its rejection instead of the rows of that batch.
    pub fn next_batch(&mut self) -> AppResult<Option<Batch>> {
        if self.finished {
            return Ok(None);
        }
        match self.full.recv() {
            Ok(mut batch) => match batch.end.take() {
                Some(Err(rejection)) => {
                    self.finished = true;
                    Err(rejection.into())
                }
                Some(Ok(())) => {
                    self.finished = true;
                    Ok(Some(batch))
                }
                None => Ok(Some(batch)),
            },
            // The reader stopped without saying the sheet ended: never taken as the end of the
            // file (rows would be lost).
            Err(_) => Err(PortError::Unexpected("the file's reader stopped before the end of the file".into()).into()),
        }
    }

    /// Gives a batch's buffers back to the reader.
    pub fn recycle(&mut self, batch: Batch) {
        // The reader may have finished: its buffers then just go.
        let _ = self.spare.send(batch.rows);
    }
}

/// The reader's thread: fills batches until the sheet ends, is refused, or nobody takes them.
fn read_batches(mut sheet: Sheet, full: &SyncSender<Batch>, spare: &Receiver<Vec<RawRow>>) {
    loop {
        let mut rows = spare.try_recv().unwrap_or_default();
        let mut len = 0;
        let mut end = None;
        while len < BATCH_ROWS {
            if rows.len() == len {
                rows.push(RawRow::default());
            }
            let Some(row) = rows.get_mut(len) else { break };
            match sheet.read_into(row) {
                None => {
                    end = Some(Ok(()));
                    break;
                }
                Some(Ok(())) => len += 1,
                Some(Err(rejection)) => {
                    end = Some(Err(rejection));
                    break;
                }
            }
        }
        let last = end.is_some();
        if full.send(Batch { rows, len, end }).is_err() || last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intake::{open_sheet, FileKind, IntakeLimits};

    fn sheet(csv: String, limits: IntakeLimits) -> Sheet {
        open_sheet(std::io::Cursor::new(csv.into_bytes()), FileKind::Users, limits, |h| h.first().is_some_and(|c| c == "Email")).unwrap()
    }

    fn numbered(rows: usize) -> String {
        let mut csv = String::from("Email,Name\n");
        for n in 0..rows {
            csv.push_str(&format!("user{n}@example.com,Name {n}\n"));
            if n % 1000 == 7 {
                csv.push_str(",\n"); // a blank row: skipped, but counted in the numbers
            }
        }
        csv
    }

    #[test]
    fn every_row_arrives_once_in_order_with_its_number() {
        for rows in [0, 1, BATCH_ROWS - 1, BATCH_ROWS, BATCH_ROWS + 1, 10 * BATCH_ROWS + 17] {
            let csv = numbered(rows);
            let inline: Vec<RawRow> = sheet(csv.clone(), IntakeLimits::default()).map(Result::unwrap).collect();
            let mut ahead = ReadAhead::start(sheet(csv, IntakeLimits::default())).unwrap();
            let mut read = Vec::new();
            while let Some(batch) = ahead.next_batch().unwrap() {
                read.extend(batch.rows().iter().cloned());
                ahead.recycle(batch);
            }
            assert_eq!(read.len(), rows);
            assert_eq!(read, inline, "{rows} rows");
            assert!(ahead.next_batch().unwrap().is_none());
        }
    }

    #[test]
    fn a_file_refused_part_way_answers_its_rejection() {
        let csv = numbered(5 * BATCH_ROWS);
        let limits = IntakeLimits { max_file_bytes: csv.len() as u64 / 2, ..IntakeLimits::default() };
        let mut ahead = ReadAhead::start(sheet(csv, limits)).unwrap();
        let mut read = 0;
        let error = loop {
            match ahead.next_batch() {
                Ok(Some(batch)) => {
                    read += batch.rows().len();
                    ahead.recycle(batch);
                }
                Ok(None) => panic!("the whole file was read past its limit"),
                Err(error) => break error,
            }
        };
        assert!(read < 5 * BATCH_ROWS);
        assert!(matches!(error, crate::app::AppError::Rejected(ref r) if r.code.as_str() == "file_too_large"), "{error}");
    }
}
