//! Compressed input: a `.gz` file is read through gzip, a `.zip` archive entry by entry (each
//! entry an input of its own, named `archive.zip!entry`), anything else as it is. Detected by the
//! magic bytes, so a misnamed file is still read right. Inflation is bounded: an input that
//! inflates past the limit fails with an error instead of filling memory or disk (a zip bomb).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::path::{Component, Path};
use std::sync::Arc;

/// Inflated bytes one input may reach when the source sets no limit: 4 GiB.
pub const DEFAULT_MAX_INFLATED: u64 = 4 << 30;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZIP_MAGIC: [u8; 4] = *b"PK\x03\x04";

/// One input of a file: its name (for origins) and its bytes, or why it cannot be read.
pub type Each<'f> = dyn FnMut(Arc<str>, Result<&mut (dyn Read + Send), String>) -> bool + 'f;

/// Calls `each` with every input `file` holds, in order, until it returns `false`: the file
/// itself, its gzip content, or each entry of a zip archive (an entry whose name has `..` or is
/// absolute is refused: `each` gets the reason instead of a reader). `name` is the file's name.
pub fn for_each_input(
    file: File,
    name: &Arc<str>,
    max_inflated: u64,
    each: &mut Each<'_>,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let head = reader.fill_buf()?;
    if head.starts_with(&GZIP_MAGIC) {
        let inflated = flate2::bufread::MultiGzDecoder::new(reader);
        let mut limited = Limited::new(inflated, max_inflated);
        each(Arc::clone(name), Ok(&mut limited));
        return Ok(());
    }
    if head.starts_with(&ZIP_MAGIC) {
        return zip_entries(reader, name, max_inflated, each);
    }
    each(Arc::clone(name), Ok(&mut reader));
    Ok(())
}

fn zip_entries<R: Read + Seek + Send>(
    reader: R,
    name: &Arc<str>,
    max_inflated: u64,
    each: &mut Each<'_>,
) -> io::Result<()> {
    let mut archive = zip::ZipArchive::new(reader).map_err(io::Error::other)?;
    for index in 0..archive.len() {
        let entry = match archive.by_index(index) {
            Ok(entry) => entry,
            Err(e) => {
                let reason = format!("entry {index} cannot be read: {e}");
                if !each(Arc::clone(name), Err(reason)) {
                    return Ok(());
                }
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let go_on = match entry.name().map(|n| n.into_owned()) {
            Ok(inner) => {
                let entry_name: Arc<str> = format!("{name}!{inner}").into();
                match safe_name(&inner) {
                    Ok(()) => {
                        let mut limited = Limited::new(entry, max_inflated);
                        each(entry_name, Ok(&mut limited))
                    }
                    Err(reason) => each(entry_name, Err(reason)),
                }
            }
            Err(e) => each(
                Arc::clone(name),
                Err(format!("entry {index} has an unreadable name: {e}")),
            ),
        };
        if !go_on {
            return Ok(());
        }
    }
    Ok(())
}

/// An entry name that stays inside the archive: relative, without `..`.
fn safe_name(name: &str) -> Result<(), String> {
    let path = Path::new(name);
    let escapes = path.components().any(|c| {
        matches!(
            c,
            Component::ParentDir | Component::RootDir | Component::Prefix(_)
        )
    });
    if escapes || name.starts_with('/') || name.starts_with('\\') {
        return Err(format!(
            "zip entry \"{name}\" is refused: its name is absolute or climbs out with \"..\""
        ));
    }
    Ok(())
}

/// A reader that fails once more than `left` bytes came through.
struct Limited<R> {
    inner: R,
    limit: u64,
    left: u64,
}

impl<R> Limited<R> {
    fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            limit,
            left: limit,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the input inflates past max_inflated_bytes ({} bytes); raise it in [source] if \
                     the file is genuine",
                    self.limit
                ),
            )
        })?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn inputs(path: &Path, limit: u64) -> Vec<(String, Result<String, String>)> {
        let file = File::open(path).unwrap();
        let mut out = Vec::new();
        for_each_input(file, &Arc::from("f"), limit, &mut |name, input| {
            let text = input.and_then(|r| {
                let mut s = String::new();
                r.read_to_string(&mut s)
                    .map(|_| s)
                    .map_err(|e| e.to_string())
            });
            out.push((name.to_string(), text));
            true
        })
        .unwrap();
        out
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(text).unwrap();
        enc.finish().unwrap()
    }

    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        for (name, body) in entries {
            w.start_file(*name, options).unwrap();
            w.write_all(body).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn plain_gzip_and_zip_inputs_are_read_by_their_magic_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.csv");
        std::fs::write(&plain, "a,b\n").unwrap();
        assert_eq!(
            inputs(&plain, 100),
            [("f".to_string(), Ok("a,b\n".to_string()))]
        );
        let gz = dir.path().join("misnamed.csv");
        std::fs::write(&gz, gzip(b"x\ny\n")).unwrap();
        assert_eq!(
            inputs(&gz, 100),
            [("f".to_string(), Ok("x\ny\n".to_string()))]
        );
        let archive = dir.path().join("b.zip");
        std::fs::write(
            &archive,
            zip(&[("one.csv", b"1\n"), ("sub/two.csv", b"2\n")]),
        )
        .unwrap();
        assert_eq!(
            inputs(&archive, 100),
            [
                ("f!one.csv".to_string(), Ok("1\n".to_string())),
                ("f!sub/two.csv".to_string(), Ok("2\n".to_string()))
            ]
        );
    }

    #[test]
    fn escaping_entry_names_are_refused_and_the_others_read() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("evil.zip");
        std::fs::write(
            &archive,
            zip(&[("../x.csv", b"no\n"), ("ok.csv", b"yes\n")]),
        )
        .unwrap();
        let got = inputs(&archive, 100);
        assert!(
            got[0].1.as_ref().unwrap_err().contains("climbs out"),
            "{got:?}"
        );
        assert_eq!(got[1], ("f!ok.csv".to_string(), Ok("yes\n".to_string())));
    }

    #[test]
    fn inflating_past_the_limit_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let bomb = dir.path().join("bomb.gz");
        std::fs::write(&bomb, gzip(&vec![b'0'; 1 << 20])).unwrap();
        assert!(std::fs::metadata(&bomb).unwrap().len() < 50_000);
        let got = inputs(&bomb, 1000);
        assert!(
            got[0]
                .1
                .as_ref()
                .unwrap_err()
                .contains("inflates past max_inflated_bytes")
        );
        let archive = dir.path().join("bomb.zip");
        std::fs::write(&archive, zip(&[("big.csv", &vec![b'0'; 1 << 20])])).unwrap();
        let got = inputs(&archive, 1000);
        assert!(got[0].1.as_ref().unwrap_err().contains("inflates past"));
    }
}
