//! A sheet read on a thread of its own, a few batches of rows ahead of the caller: reading the
//! file (the download, the CSV parser, the UTF-8 check, the cells' copies) and a first look at
//! each row (a small value the caller's checks start from) run on one core while the caller
//! checks and merges the rows already read on another. Rows arrive in file order, exactly as
//! [`Sheet::read_into`] gives them; the batches' buffers go back to the reader to be filled
//! again, so a million rows allocate no more than a few batches.

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

/// Rows read, in file order, each with the reader's look at it.
pub struct Batch<T> {
    rows: Vec<RawRow>,
    looks: Vec<T>,
    len: usize,
    /// Set on the last batch: the end of the sheet, or the rejection that stopped the reading.
    end: Option<Result<(), FileRejection>>,
}

impl<T> Batch<T> {
    pub fn rows(&self) -> &[RawRow] {
        self.rows.get(..self.len).unwrap_or_default()
    }

    /// The look at each row, in the same order as [`Batch::rows`].
    pub fn looks(&self) -> &[T] {
        &self.looks
    }
}

/// The sheet's rows, read on a thread of its own.
pub struct ReadAhead<T> {
    full: Receiver<Batch<T>>,
    spare: Sender<(Vec<RawRow>, Vec<T>)>,
    finished: bool,
}

impl<T: Send + 'static> ReadAhead<T> {
    /// Starts reading `sheet` on a new thread, which also takes `look` at every row it reads.
    pub fn start(sheet: Sheet, look: impl FnMut(&RawRow) -> T + Send + 'static) -> Result<Self, PortError> {
        let (full_sender, full) = mpsc::sync_channel(BATCHES_AHEAD);
        let (spare, spare_receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("sheet-reader".into())
            .spawn(move || read_batches(sheet, look, &full_sender, &spare_receiver))
            .map_err(|e| PortError::Unexpected(format!("starting the file's reader: {e}")))?;
        Ok(Self { full, spare, finished: false })
    }

    /// The next batch of rows; `None` after the last. A sheet the reader refused (a broken or
    /// too large file) answers its rejection instead of the rows of that batch.
    pub fn next_batch(&mut self) -> AppResult<Option<Batch<T>>> {
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
    pub fn recycle(&mut self, batch: Batch<T>) {
        // The reader may have finished: its buffers then just go.
        let _ = self.spare.send((batch.rows, batch.looks));
    }
}

/// The reader's thread: fills batches until the sheet ends, is refused, or nobody takes them.
fn read_batches<T>(
    mut sheet: Sheet,
    mut look: impl FnMut(&RawRow) -> T,
    full: &SyncSender<Batch<T>>,
    spare: &Receiver<(Vec<RawRow>, Vec<T>)>,
) {
    loop {
        let (mut rows, mut looks) = spare.try_recv().unwrap_or_default();
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
        looks.clear();
        looks.extend(rows.iter().take(len).map(&mut look));
        let last = end.is_some();
        if full.send(Batch { rows, looks, len, end }).is_err() || last {
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
            // The look taken on the reader's thread: the row's number and its first cell.
            let mut ahead = ReadAhead::start(sheet(csv, IntakeLimits::default()), |row| (row.number, row.cells[0].clone())).unwrap();
            let mut read = Vec::new();
            while let Some(batch) = ahead.next_batch().unwrap() {
                assert_eq!(batch.looks().len(), batch.rows().len());
                for (row, (number, first)) in batch.rows().iter().zip(batch.looks()) {
                    assert_eq!((row.number, &row.cells[0]), (*number, first), "a look at another row");
                }
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
        let mut ahead = ReadAhead::start(sheet(csv, limits), |_| ()).unwrap();
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
