//! The XLSX decoder (`[format] type = "xlsx"`): one worksheet of an Excel workbook → one flat
//! record per row, like CSV.
//!
//! calamine reads the workbook, which needs `Read + Seek`: an input that is not a file of its
//! own (a gzip stream, a zip entry) is first spooled to an anonymous temporary file, bounded by
//! what the compressed layer lets through; a workbook file is read in place ([`is_workbook`]).
//! The sheet ([`Sheet`]) is streamed cell by cell with calamine's cell reader, never loaded
//! whole (the shared strings table is). Its rows become records as CSV rows do: column names
//! from `header_row` or from `columns`, one text field per column (`cells` says how numbers,
//! dates and booleans are written), empty rows skipped (`rows`). A record's origin is its row
//! number as the line, offset 0, and the locator `Sheet1 row 7`.
//!
//! A row with an error cell (`#DIV/0!`) or a value past the last column is a [`RecordError`]
//! whose raw bytes are the row as a CSV line, with the columns, so `omnibus dlq replay` can
//! decode it again as CSV. An input that is not an XLSX workbook, a missing sheet, an unusable
//! header and a damaged worksheet are fatal.
//!
//! calamine's cell reader borrows the workbook it reads, so the two cannot live in one iterator
//! without `unsafe`: a helper thread owns both and hands records over a bounded channel. The
//! thread ends when the sheet does, or at its next record once the iterator is dropped.
//!
//! [`RecordError`]: super::record::RecordError

mod cells;
mod rows;
mod sheet;
mod spec;

#[cfg(test)]
#[path = "../../../tests/common/xlsx.rs"]
mod fixture;
#[cfg(test)]
mod tests;

pub use spec::{Sheet, XlsxSpec, parse_spec};

use std::fs::File;
use std::io::{self, Read, Seek};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use super::DecodeError;
use super::record::Record;
use sheet::Item;

/// Records the reading thread may have ready ahead of the decoder.
const QUEUE: usize = 256;

/// The records of one input, spooled to a temporary file first.
pub fn decoder<'a, R: Read + Send + 'a>(
    spec: &XlsxSpec,
    reader: R,
    connector: Arc<str>,
    file: Arc<str>,
) -> impl Iterator<Item = Result<Record, DecodeError>> + Send + 'a {
    XlsxDecoder {
        spec: spec.clone(),
        connector,
        file,
        stage: Stage::Unread(reader),
    }
}

/// The records of a workbook file, read in place.
pub fn workbook_decoder(
    spec: &XlsxSpec,
    source: File,
    connector: Arc<str>,
    file: Arc<str>,
) -> impl Iterator<Item = Result<Record, DecodeError>> + Send {
    XlsxDecoder::<File> {
        spec: spec.clone(),
        connector,
        file,
        stage: Stage::Ready(source),
    }
}

/// Whether `source` is a workbook itself — a zip archive holding the `[Content_Types].xml` of an
/// Office document (or the `mimetype` of an OpenDocument one, to be refused by name) — rather
/// than an archive of workbooks or something else. The file is rewound either way.
pub fn is_workbook(source: &mut File) -> bool {
    let document = zip::ZipArchive::new(&mut *source).is_ok_and(|archive| {
        ["[Content_Types].xml", "mimetype"]
            .iter()
            .any(|part| archive.index_for_name(part).is_some())
    });
    source.rewind().is_ok() && document
}

/// Streams the records of one input.
struct XlsxDecoder<R> {
    spec: XlsxSpec,
    connector: Arc<str>,
    file: Arc<str>,
    stage: Stage<R>,
}

enum Stage<R> {
    /// Not read yet: to be spooled.
    Unread(R),
    /// A file to open.
    Ready(File),
    Reading(Worker),
    Done,
}

/// The thread reading the workbook, and the records it sends.
struct Worker {
    records: Receiver<Item>,
    thread: Option<JoinHandle<()>>,
}

impl<R: Read> Iterator for XlsxDecoder<R> {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match std::mem::replace(&mut self.stage, Stage::Done) {
                Stage::Unread(reader) => match spool(reader) {
                    Ok(source) => self.stage = Stage::Ready(source),
                    Err(e) => return Some(Err(DecodeError::Io(e))),
                },
                Stage::Ready(source) => match self.start(source) {
                    Ok(worker) => self.stage = Stage::Reading(worker),
                    Err(e) => return Some(Err(DecodeError::Io(e))),
                },
                Stage::Reading(mut worker) => {
                    let item = worker.next();
                    if matches!(&item, Some(Ok(_) | Err(DecodeError::Record(_)))) {
                        self.stage = Stage::Reading(worker);
                    }
                    return item;
                }
                Stage::Done => return None,
            }
        }
    }
}

impl<R> XlsxDecoder<R> {
    /// Starts the thread that reads the workbook in `source`.
    fn start(&self, source: File) -> io::Result<Worker> {
        let (send, records) = sync_channel(QUEUE);
        let spec = self.spec.clone();
        let (connector, file) = (Arc::clone(&self.connector), Arc::clone(&self.file));
        let thread = std::thread::Builder::new()
            .name("xlsx-decoder".into())
            .spawn(move || {
                sheet::read(&spec, source, connector, file, &mut |item| {
                    send.send(item).is_ok()
                });
            })?;
        Ok(Worker {
            records,
            thread: Some(thread),
        })
    }
}

impl Worker {
    /// The next record; once the thread is done, `None`, or a fatal error if it panicked.
    fn next(&mut self) -> Option<Item> {
        if let Ok(item) = self.records.recv() {
            return Some(item);
        }
        let panicked = self.thread.take().is_some_and(|t| t.join().is_err());
        panicked.then(|| {
            Err(DecodeError::Input {
                line: 0,
                reason: "the XLSX reader failed on a malformed workbook; the records before \
                         this stand"
                    .to_string(),
            })
        })
    }
}

/// Copies `reader` to an anonymous temporary file, rewound.
fn spool<R: Read>(mut reader: R) -> io::Result<File> {
    let mut file = tempfile::tempfile()?;
    io::copy(&mut reader, &mut file)?;
    file.rewind()?;
    Ok(file)
}
