//! CSV decoding: the bytes of one delimited file → [`Record`]s, streaming.
//!
//! The file is charset-decoded first ([`DecodingReader`]; GBK and Big5 trail bytes include `|` and
//! `\`), then parsed with csv-core straight from the decoder's buffer. `skip_lines` drops the first
//! lines as they are (banners need not be valid CSV); the header, when the columns are not named
//! in the spec, is the first non-blank line after them. Blank lines are skipped. A record with
//! invalid bytes or the wrong number of fields is a [`RecordError`] and reading goes on; an I/O
//! error, an unusable header or a record too long to be real (an unclosed quote) ends the file.
//! Every record carries the line of its first line and the byte offset of its first byte in the
//! source file.
//!
//! csv-core rather than `csv::Reader`: the latter reports a record that follows blank lines at the
//! first blank line, and copies every byte into a buffer of its own.

use std::io::{BufRead, Read};
use std::sync::Arc;

use csv_core::ReadRecordResult;

use super::DecodeError;
use super::charset::DecodingReader;
use super::record::{Columns, Origin, Record, RecordError};
use crate::config::connector::{CsvColumns, CsvSpec};

/// Longest record accepted, in bytes of field text: past it the file is taken to be broken (an
/// unclosed quote turns the rest of a file into one field) rather than held in memory.
const MAX_RECORD_BYTES: usize = 16 << 20;
/// Most fields accepted in one record.
const MAX_FIELDS: usize = 1 << 16;

/// One parsed row, its fields in the decoder's field buffer.
struct Row {
    line: u64,
    offset: u64,
    /// Bytes of field text in the buffer.
    len: usize,
    /// Number of fields.
    fields: usize,
    /// A quote opened in the row was still open at the end of the file.
    unclosed_quote: bool,
}

/// Streams the records of one CSV file: `Iterator<Item = Result<Record, DecodeError>>`.
///
/// An I/O error, an unusable header or an overlong record is fatal ([`DecodeError::is_fatal`])
/// and ends the iterator.
pub struct CsvDecoder<R> {
    input: DecodingReader<R>,
    parser: csv_core::Reader,
    quote: u8,
    connector: Arc<str>,
    file: Arc<str>,
    delimiter: u8,
    skip_lines: usize,
    named: CsvColumns,
    /// Set once the skipped lines and the header are behind.
    columns: Option<Arc<Columns>>,
    /// The header ended with a delimiter (`A|B|C|`), as many legacy exports write every line:
    /// each row's empty last field is dropped.
    trailing_delimiter: bool,
    done: bool,
    /// Line breaks consumed outside the parser (skipped lines, blank lines).
    newlines: u64,
    /// Unescaped text of the current row's fields, and where each field ends in it.
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl<R: Read> CsvDecoder<R> {
    /// Decodes `reader`, the file `file` of connector `connector`, as `spec` says.
    pub fn new(reader: R, spec: &CsvSpec, connector: Arc<str>, file: Arc<str>) -> Self {
        let parser = csv_core::ReaderBuilder::new()
            .delimiter(spec.delimiter)
            .quote(spec.quote)
            .terminator(csv_core::Terminator::Any(b'\n'))
            .build();
        Self {
            input: DecodingReader::new(reader, spec.encoding).with_invalid_bytes(
                spec.charset.invalid,
                &connector,
                &file,
            ),
            parser,
            quote: spec.quote,
            connector,
            file,
            delimiter: spec.delimiter,
            skip_lines: spec.skip_lines,
            named: spec.columns.clone(),
            columns: None,
            trailing_delimiter: false,
            done: false,
            newlines: 0,
            text: vec![0; 4096],
            ends: vec![0; 64],
        }
    }

    fn next_record(&mut self) -> Result<Option<Record>, DecodeError> {
        let columns = match &self.columns {
            Some(columns) => Arc::clone(columns),
            None => match self.start()? {
                Some(columns) => columns,
                None => return Ok(None),
            },
        };
        loop {
            let Some(row) = self.read_row()? else {
                return Ok(None);
            };
            if columns.len() == 1 || !self.is_blank(&row) {
                return self.record(row, columns).map(Some);
            }
        }
    }

    /// Skips the leading lines and reads the header; `None` for a file with no header and no
    /// content.
    fn start(&mut self) -> Result<Option<Arc<Columns>>, DecodeError> {
        let banner = self.skip_lines()?;
        let names = match &self.named {
            CsvColumns::Named(names) => names.clone(),
            CsvColumns::Header => match self.header(banner)? {
                Some(names) => names,
                None => return Ok(None),
            },
        };
        let columns = Arc::new(Columns::new(names, self.delimiter));
        self.columns = Some(Arc::clone(&columns));
        Ok(Some(columns))
    }

    /// Drops the first `skip_lines` lines; true if any of them had visible text.
    fn skip_lines(&mut self) -> Result<bool, DecodeError> {
        let mut remaining = self.skip_lines;
        let mut visible = false;
        while remaining > 0 {
            let buf = self.input.fill_buf().map_err(DecodeError::Io)?;
            if buf.is_empty() {
                break;
            }
            let (n, complete) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            visible |= buf[..n].iter().any(|b| !b.is_ascii_whitespace());
            self.input.consume(n);
            if complete {
                remaining -= 1;
                self.newlines += 1;
            }
        }
        self.input.take_malformations().for_each(drop);
        Ok(visible)
    }

    /// Reads the header's column names; `None` when the file has nothing but blank lines.
    fn header(&mut self, banner: bool) -> Result<Option<Vec<String>>, DecodeError> {
        let row = loop {
            match self.read_row()? {
                Some(row) if self.is_blank(&row) => {}
                Some(row) => break row,
                None if banner => {
                    let line = self.newlines + self.parser.line();
                    let reason = format!(
                        "no header line after the {} lines `skip_lines` drops",
                        self.skip_lines
                    );
                    return Err(header_error(line, reason));
                }
                None => return Ok(None),
            }
        };
        if let Some(malformation) = self.input.take_malformations().next() {
            return Err(header_error(row.line, format!("header: {malformation}")));
        }
        let mut row = row;
        self.trailing_delimiter = row.fields > 1 && self.last_field_is_empty(&row);
        if self.trailing_delimiter {
            row.fields -= 1;
        }
        let fields = self.string_record(&row);
        header_names(&fields)
            .map(Some)
            .map_err(|reason| header_error(row.line, reason))
    }

    /// Parses the next row, after any blank lines; `None` at the end of the file.
    ///
    /// Only LF ends a row (a CR before it is dropped from the last field), so a lone CR inside a
    /// row stays data instead of inventing a record.
    fn read_row(&mut self) -> Result<Option<Row>, DecodeError> {
        self.skip_line_breaks()?;
        let line = self.newlines + self.parser.line();
        let offset = self.input.source_position();
        let (mut len, mut fields, mut quotes) = (0, 0, 0usize);
        loop {
            let buf = self.input.fill_buf().map_err(DecodeError::Io)?;
            let at_end = buf.is_empty();
            let (result, read, written, ended) =
                self.parser
                    .read_record(buf, &mut self.text[len..], &mut self.ends[fields..]);
            quotes += buf[..read].iter().filter(|&&b| b == self.quote).count();
            self.input.consume(read);
            len += written;
            fields += ended;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull if grow(&mut self.text, MAX_RECORD_BYTES) => {}
                ReadRecordResult::OutputEndsFull if grow(&mut self.ends, MAX_FIELDS) => {}
                ReadRecordResult::OutputFull => {
                    let reason = format!(
                        "the record that starts here is longer than {} MiB: is a quote left \
                         open?",
                        MAX_RECORD_BYTES >> 20
                    );
                    return Err(DecodeError::Oversized { line, reason });
                }
                ReadRecordResult::OutputEndsFull => {
                    let reason =
                        format!("the record that starts here has over {MAX_FIELDS} fields");
                    return Err(DecodeError::Oversized { line, reason });
                }
                ReadRecordResult::Record => {
                    let len = self.drop_carriage_return(len, fields);
                    return Ok(Some(Row {
                        line,
                        offset,
                        len,
                        fields,
                        unclosed_quote: at_end && quotes % 2 == 1,
                    }));
                }
                ReadRecordResult::End => return Ok(None),
            }
        }
    }

    /// Drops the CR of a CRLF line end from the row's last field; returns the row's text length.
    fn drop_carriage_return(&mut self, len: usize, fields: usize) -> usize {
        if fields == 0 || len == 0 || self.text[len - 1] != b'\r' {
            return len;
        }
        self.ends[fields - 1] -= 1;
        len - 1
    }

    /// Consumes the line breaks before a row, counting lines.
    fn skip_line_breaks(&mut self) -> Result<(), DecodeError> {
        loop {
            let buf = self.input.fill_buf().map_err(DecodeError::Io)?;
            let n = buf
                .iter()
                .position(|&b| b != b'\n' && b != b'\r')
                .unwrap_or(buf.len());
            let rest = buf.len() - n;
            self.newlines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            self.input.consume(n);
            if rest > 0 || n == 0 {
                return Ok(());
            }
        }
    }

    /// A line of nothing but spaces or tabs.
    fn is_blank(&self, row: &Row) -> bool {
        row.fields == 1 && self.text[..row.len].iter().all(u8::is_ascii_whitespace)
    }

    /// Whether the row's last field is empty.
    fn last_field_is_empty(&self, row: &Row) -> bool {
        let end = self.ends[row.fields - 1];
        let start = if row.fields > 1 {
            self.ends[row.fields - 2]
        } else {
            0
        };
        start == end
    }

    /// The row as a record, or a record error if it had invalid bytes or the wrong field count.
    fn record(&mut self, mut row: Row, columns: Arc<Columns>) -> Result<Record, DecodeError> {
        if self.trailing_delimiter
            && row.fields == columns.len() + 1
            && self.last_field_is_empty(&row)
        {
            row.fields -= 1;
        }
        let invalid = self.invalid_bytes();
        let origin = Origin {
            connector: Arc::clone(&self.connector),
            file: Arc::clone(&self.file),
            line: row.line,
            offset: row.offset,
            locator: None,
        };
        let fields = self.string_record(&row);
        let reason = match invalid {
            Some(reason) => reason,
            None if row.unclosed_quote => format!(
                "a quote opened in this record is never closed: the rest of the file, from line \
                 {}, was read into it",
                row.line
            ),
            None if fields.len() == columns.len() => {
                return Ok(Record::row(origin, columns, fields));
            }
            None => format!("expected {} fields, found {}", columns.len(), fields.len()),
        };
        let record = Record::row(origin, columns, fields);
        Err(DecodeError::Record(RecordError {
            raw: record.raw(),
            columns: record.columns().cloned(),
            origin: record.origin,
            reason,
        }))
    }

    /// Describes the malformed byte sequences in the row just read, if any.
    fn invalid_bytes(&mut self) -> Option<String> {
        let mut malformations = self.input.take_malformations();
        let first = malformations.next()?;
        let more = malformations.count();
        Some(match more {
            0 => first.to_string(),
            _ => format!("{first} (and {more} more in this record)"),
        })
    }

    fn string_record(&self, row: &Row) -> csv::StringRecord {
        let mut record = csv::StringRecord::with_capacity(row.len, row.fields);
        let mut start = 0;
        for &end in &self.ends[..row.fields] {
            record.push_field(&String::from_utf8_lossy(&self.text[start..end]));
            start = end;
        }
        record
    }
}

impl<R: Read> Iterator for CsvDecoder<R> {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_record();
        super::item(next, &mut self.done)
    }
}

/// Doubles `buffer` unless it would grow past `limit` items; false if it is already that big.
fn grow<T: Copy + Default>(buffer: &mut Vec<T>, limit: usize) -> bool {
    let len = buffer.len();
    if len >= limit {
        return false;
    }
    buffer.resize((len * 2).min(limit), T::default());
    true
}

fn header_error(line: u64, reason: String) -> DecodeError {
    DecodeError::Header { line, reason }
}

/// Trimmed header names; an empty or repeated name is an error.
fn header_names(fields: &csv::StringRecord) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::with_capacity(fields.len());
    for (index, field) in fields.iter().enumerate() {
        let name = field.trim();
        if name.is_empty() {
            return Err(format!(
                "header column {} has no name; name it, or list the columns under [format] \
                 with `columns = [...]`",
                index + 1
            ));
        }
        if let Some(first) = names.iter().position(|n| n == name) {
            return Err(format!(
                "header column {} repeats the name \"{name}\" of column {}; column names must \
                 be unique",
                index + 1,
                first + 1
            ));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::record::Body;
    use encoding_rs::{BIG5, Encoding, GBK, SHIFT_JIS, UTF_8, WINDOWS_1252};
    use std::io;

    fn spec(encoding: &'static Encoding, delimiter: u8) -> CsvSpec {
        CsvSpec {
            encoding,
            charset: crate::format::charset::Charset::default(),
            delimiter,
            quote: b'"',
            columns: CsvColumns::Header,
            skip_lines: 0,
        }
    }

    fn decode(spec: &CsvSpec, bytes: &[u8]) -> Vec<Result<Record, DecodeError>> {
        CsvDecoder::new(bytes, spec, "erp".into(), "in.csv".into()).collect()
    }

    fn fields(record: &Record) -> Vec<&str> {
        match &record.body {
            Body::Row { row, .. } => row.iter().collect(),
            Body::Tree(_) => panic!("expected a row"),
        }
    }

    fn ok(item: &Result<Record, DecodeError>) -> &Record {
        match item {
            Ok(record) => record,
            Err(e) => panic!("expected a record, got {e}"),
        }
    }

    fn record_error(item: &Result<Record, DecodeError>) -> &RecordError {
        match item {
            Err(DecodeError::Record(e)) => e,
            other => panic!("expected a record error, got {other:?}"),
        }
    }

    fn offset_of(haystack: &[u8], needle: &[u8]) -> u64 {
        haystack
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap() as u64
    }

    #[test]
    fn utf8_with_bom() {
        let input = b"\xEF\xBB\xBFid,name\n1,caf\xC3\xA9\n";
        let items = decode(&spec(UTF_8, b','), input);
        assert_eq!(items.len(), 1);
        let record = ok(&items[0]);
        assert_eq!(record.columns().unwrap().names(), ["id", "name"]);
        assert_eq!(fields(record), ["1", "café"]);
        assert_eq!(record.origin.line, 2);
        assert_eq!(record.origin.offset, 11);
        assert_eq!(&*record.origin.connector, "erp");
        assert_eq!(&*record.origin.file, "in.csv");
    }

    #[test]
    fn gbk_trail_bytes_equal_to_the_delimiter_stay_inside_their_character() {
        let text = "编号|姓名\n1|和珅\n2|亅\n";
        let (input, _, unmappable) = GBK.encode(text);
        assert!(!unmappable);
        assert!(input.windows(2).any(|w| w == [0xAB, b'|']), "珅 is AB 7C");
        assert!(input.iter().filter(|&&b| b == b'|').count() > 3);
        let items = decode(&spec(GBK, b'|'), &input);
        assert_eq!(items.len(), 2);
        assert_eq!(ok(&items[0]).columns().unwrap().names(), ["编号", "姓名"]);
        assert_eq!(fields(ok(&items[0])), ["1", "和珅"]);
        assert_eq!(fields(ok(&items[1])), ["2", "亅"]);
        assert_eq!(ok(&items[1]).origin.line, 3);
        let (second, _, _) = GBK.encode("\n2|");
        assert_eq!(ok(&items[1]).origin.offset, offset_of(&input, &second) + 1);
    }

    #[test]
    fn big5() {
        let text = "品名,數量\n功夫,1\n許可,2\n";
        let (input, _, _) = BIG5.encode(text);
        assert!(input.contains(&b'\\'), "功 and 許 have 0x5C trail bytes");
        let items = decode(&spec(BIG5, b','), &input);
        assert_eq!(items.len(), 2);
        assert_eq!(ok(&items[0]).columns().unwrap().names(), ["品名", "數量"]);
        assert_eq!(fields(ok(&items[0])), ["功夫", "1"]);
        assert_eq!(fields(ok(&items[1])), ["許可", "2"]);
    }

    #[test]
    fn shift_jis_and_latin1() {
        let (input, _, _) = SHIFT_JIS.encode("品名,ソース\n表,能\n");
        let items = decode(&spec(SHIFT_JIS, b','), &input);
        assert_eq!(fields(ok(&items[0])), ["表", "能"]);
        let latin1 = Encoding::for_label(b"iso-8859-1").unwrap();
        let items = decode(&spec(latin1, b';'), b"name;city\nJos\xE9;M\xFCnchen\n");
        assert_eq!(latin1, WINDOWS_1252);
        assert_eq!(fields(ok(&items[0])), ["José", "München"]);
    }

    #[test]
    fn utf16_with_bom_as_excel_writes_unicode_text() {
        let text = "品名\t數量\r\n功夫\t1\r\n許可\t2\r\n";
        let input: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let items = decode(&spec(UTF_8, b'\t'), &input);
        assert_eq!(items.len(), 2);
        assert_eq!(fields(ok(&items[1])), ["許可", "2"]);
        assert_eq!(ok(&items[1]).origin.line, 3);
        assert_eq!(ok(&items[1]).origin.offset, 2 + 2 * 13);
    }

    #[test]
    fn a_row_with_invalid_bytes_is_an_error_and_its_neighbours_decode() {
        let (head, _, _) = GBK.encode("名|值\n1|和珅\n2|");
        let mut input = head.into_owned();
        let bad_at = input.len() as u64;
        input.extend_from_slice(b"\x81\x7Fz\n");
        input.extend_from_slice(&GBK.encode("3|乙\n").0);
        let items = decode(&spec(GBK, b'|'), &input);
        assert_eq!(items.len(), 3);
        assert_eq!(fields(ok(&items[0])), ["1", "和珅"]);
        let error = record_error(&items[1]);
        assert_eq!(error.origin.line, 3);
        assert_eq!(error.origin.offset, bad_at - 2);
        assert_eq!(
            error.reason,
            format!("invalid GBK byte sequence 0x81 at byte offset {bad_at}")
        );
        assert_eq!(error.raw, "2|\u{FFFD}\u{7F}z\n".as_bytes());
        assert_eq!(error.to_string(), format!("in.csv:3: {}", error.reason));
        assert_eq!(fields(ok(&items[2])), ["3", "乙"]);
        assert_eq!(ok(&items[2]).origin.line, 4);
    }

    #[test]
    fn several_invalid_sequences_in_one_row_are_counted() {
        let items = decode(&spec(UTF_8, b','), b"a,b\n\xFF,\xFE\xFD\n");
        let error = record_error(&items[0]);
        assert_eq!(
            error.reason,
            "invalid UTF-8 byte sequence 0xFF at byte offset 4 (and 2 more in this record)"
        );
    }

    #[test]
    fn a_wrong_field_count_is_an_error_with_its_line() {
        let items = decode(
            &spec(UTF_8, b','),
            b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n",
        );
        assert_eq!(items.len(), 4);
        let short = record_error(&items[1]);
        assert_eq!(short.reason, "expected 3 fields, found 2");
        assert_eq!(short.origin.line, 3);
        assert_eq!(short.origin.offset, 12);
        assert_eq!(short.raw, b"4,5\n");
        let columns = short.columns.as_deref().map(Columns::names);
        assert_eq!(columns, Some(&["a", "b", "c"].map(String::from)[..]));
        assert_eq!(record_error(&items[2]).reason, "expected 3 fields, found 4");
        assert_eq!(fields(ok(&items[3])), ["10", "11", "12"]);
        assert!(!items[1].as_ref().unwrap_err().is_fatal());
    }

    #[test]
    fn quoted_fields_hold_newlines_delimiters_and_quotes() {
        let input = b"a,b\n\"x\ny\",\"1,2\"\n\"say \"\"hi\"\"\",3\n4,5\n";
        let items = decode(&spec(UTF_8, b','), input);
        assert_eq!(items.len(), 3);
        assert_eq!(fields(ok(&items[0])), ["x\ny", "1,2"]);
        assert_eq!(ok(&items[0]).origin.line, 2);
        assert_eq!(fields(ok(&items[1])), ["say \"hi\"", "3"]);
        assert_eq!(ok(&items[1]).origin.line, 4);
        assert_eq!(ok(&items[1]).origin.offset, offset_of(input, b"\"say"));
        assert_eq!(ok(&items[2]).origin.line, 5);
        assert_eq!(ok(&items[2]).origin.offset, offset_of(input, b"4,5"));
    }

    #[test]
    fn skip_lines_drops_raw_lines_before_the_header() {
        let mut spec = spec(UTF_8, b',');
        spec.skip_lines = 2;
        let input = b"Stock report\nas of \"today\n\nid,qty\n1,2\n";
        let items = decode(&spec, input);
        assert_eq!(items.len(), 1);
        let record = ok(&items[0]);
        assert_eq!(record.columns().unwrap().names(), ["id", "qty"]);
        assert_eq!(record.origin.line, 5);
        assert_eq!(record.origin.offset, offset_of(input, b"1,2"));
    }

    #[test]
    fn named_columns_read_every_line_as_data() {
        let mut spec = spec(UTF_8, b'\t');
        spec.columns = CsvColumns::Named(vec!["a".into(), "b".into()]);
        spec.skip_lines = 1;
        let items = decode(&spec, b"banner\n1\t2\n3\t4");
        assert_eq!(items.len(), 2);
        assert_eq!(ok(&items[0]).columns().unwrap().names(), ["a", "b"]);
        assert_eq!(fields(ok(&items[0])), ["1", "2"]);
        assert_eq!(
            (ok(&items[0]).origin.line, ok(&items[1]).origin.line),
            (2, 3)
        );
        assert_eq!(fields(ok(&items[1])), ["3", "4"]);
        assert!(Arc::ptr_eq(
            ok(&items[0]).columns().unwrap(),
            ok(&items[1]).columns().unwrap()
        ));
    }

    #[test]
    fn empty_and_header_only_inputs_yield_nothing() {
        for input in [&b""[..], b"\n\r\n  \n", b"a,b\n", b"a,b", b"\xEF\xBB\xBF"] {
            assert!(decode(&spec(UTF_8, b','), input).is_empty(), "{input:?}");
        }
    }

    #[test]
    fn a_file_that_ends_in_its_skipped_lines_has_no_header() {
        let mut spec = spec(UTF_8, b',');
        spec.skip_lines = 2;
        let items = decode(&spec, b"Stock report\n");
        assert_eq!(items.len(), 1);
        let error = items[0].as_ref().unwrap_err();
        assert!(error.is_fatal());
        assert_eq!(
            error.to_string(),
            "line 2: no header line after the 2 lines `skip_lines` drops"
        );
    }

    #[test]
    fn crlf_line_ends() {
        let input = b"a,b\r\n1,2\r\n\r\n3,\"x\r\ny\"\r\n5,6\r\n";
        let items = decode(&spec(UTF_8, b','), input);
        assert_eq!(items.len(), 3);
        assert_eq!(fields(ok(&items[0])), ["1", "2"]);
        assert_eq!(fields(ok(&items[1])), ["3", "x\r\ny"]);
        assert_eq!(ok(&items[1]).origin.line, 4);
        assert_eq!(ok(&items[1]).origin.offset, offset_of(input, b"3,"));
        assert_eq!(ok(&items[2]).origin.line, 6);
        assert_eq!(ok(&items[2]).origin.offset, offset_of(input, b"5,6"));
    }

    #[test]
    fn a_lone_cr_inside_a_row_is_data_not_a_line_end() {
        let input = b"id,name\nz1,a\nz2,c\rd,e\nz3,f\n";
        let items = decode(&spec(UTF_8, b','), input);
        assert_eq!(items.len(), 3);
        assert_eq!(fields(ok(&items[0])), ["z1", "a"]);
        let split = record_error(&items[1]);
        assert_eq!(split.origin.line, 3);
        assert_eq!(split.reason, "expected 2 fields, found 3");
        assert_eq!(fields(ok(&items[2])), ["z3", "f"]);
    }

    #[test]
    fn a_quote_still_open_at_the_end_of_the_file_is_a_record_error() {
        let input = b"id,name\nq1,ok\nq2,\"never closed\nq3,more\n";
        let items = decode(&spec(UTF_8, b','), input);
        assert_eq!(items.len(), 2);
        assert_eq!(fields(ok(&items[0])), ["q1", "ok"]);
        let open = record_error(&items[1]);
        assert_eq!(open.origin.line, 3);
        assert!(open.reason.contains("never closed"), "{}", open.reason);
        let closed = decode(&spec(UTF_8, b','), b"id,name\nq1,\"a \"\"b\"\"\"");
        assert_eq!(fields(ok(&closed[0])), ["q1", "a \"b\""]);
    }

    #[test]
    fn blank_lines_are_skipped_and_lines_still_count() {
        let input = b"a,b\n1,2\n\n   \n\t\n3,4\n\n";
        let items = decode(&spec(UTF_8, b','), input);
        assert_eq!(items.len(), 2);
        assert_eq!(ok(&items[1]).origin.line, 6);
        assert_eq!(ok(&items[1]).origin.offset, offset_of(input, b"3,4"));
    }

    #[test]
    fn header_names_are_trimmed() {
        let items = decode(&spec(UTF_8, b','), b" id ,\tname \n1,x\n");
        assert_eq!(ok(&items[0]).columns().unwrap().names(), ["id", "name"]);
    }

    #[test]
    fn a_trailing_delimiter_on_every_line_is_tolerated() {
        let input = b"A|B|C|\n1|2|3|\n4|5|6\n7|8|9|x\n";
        let got = decode(&spec(UTF_8, b'|'), input);
        let rows: Vec<_> = got
            .iter()
            .map(|r| match r {
                Ok(r) => fields(r).join(","),
                Err(e) => e.to_string(),
            })
            .collect();
        assert_eq!(rows[0], "1,2,3");
        assert_eq!(rows[1], "4,5,6");
        assert!(rows[2].contains("expected 3 fields, found 4"), "{rows:?}");
    }

    #[test]
    fn duplicate_or_empty_header_names_end_the_file() {
        let items = decode(&spec(UTF_8, b','), b"\nid,name, id\n1,x,y\n");
        assert_eq!(items.len(), 1);
        assert_eq!(
            items[0].as_ref().unwrap_err().to_string(),
            "line 2: header column 3 repeats the name \"id\" of column 1; column names must be \
             unique"
        );
        let items = decode(&spec(UTF_8, b','), b"id,,name\n1,x,y\n");
        assert!(matches!(
            &items[..],
            [Err(DecodeError::Header { line: 1, reason })] if reason.contains("column 2 has no name")
        ));
    }

    #[test]
    fn invalid_bytes_in_the_header_end_the_file() {
        let items = decode(&spec(GBK, b','), b"id,\x81\x20\n1,2\n");
        assert!(matches!(
            &items[..],
            [Err(DecodeError::Header { line: 1, reason })]
                if reason == "header: invalid GBK byte sequence 0x81 at byte offset 3"
        ));
    }

    #[test]
    fn records_stream_through_one_byte_reads() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let text = format!("名|值\n{}", "和珅|\"亅\n乙\"\r\n".repeat(100));
        let (input, _, _) = GBK.encode(&text);
        let items: Vec<_> =
            CsvDecoder::new(Trickle(&input), &spec(GBK, b'|'), "c".into(), "f".into()).collect();
        assert_eq!(items.len(), 100);
        assert_eq!(fields(ok(&items[99])), ["和珅", "亅\n乙"]);
        assert_eq!(ok(&items[99]).origin.line, 2 + 2 * 99);
        let (head, _, _) = GBK.encode("名|值\n");
        let (row, _, _) = GBK.encode("和珅|\"亅\n乙\"\r\n");
        assert_eq!(
            ok(&items[99]).origin.offset,
            (head.len() + 99 * row.len()) as u64
        );
    }

    #[test]
    fn long_fields_and_many_fields_grow_the_buffers() {
        let long = "x".repeat(50_000);
        let wide: Vec<String> = (0..300).map(|i| format!("f{i}")).collect();
        let wide = wide.join(",");
        let input = format!("{wide}\n{}\n", vec![long.as_str(); 300].join(","));
        let items = decode(&spec(UTF_8, b','), input.as_bytes());
        assert_eq!(items.len(), 1);
        let record = ok(&items[0]);
        assert_eq!(fields(record).len(), 300);
        assert_eq!(fields(record)[299], long.as_str());
    }

    #[test]
    fn an_unclosed_quote_ends_the_file_instead_of_filling_memory() {
        let mut input = b"a,b\n1,2\n\"3,4\n".to_vec();
        input.extend(b"5,6\n".repeat(5 << 20));
        let items = decode(&spec(UTF_8, b','), &input);
        assert_eq!(items.len(), 2);
        assert!(matches!(
            &items[1],
            Err(DecodeError::Oversized { line: 3, reason }) if reason.contains("longer than 16 MiB")
        ));
        let items = decode(&spec(UTF_8, b','), ",".repeat(70_000).as_bytes());
        assert!(matches!(
            &items[..],
            [Err(DecodeError::Oversized { line: 1, reason })] if reason.contains("over 65536 fields")
        ));
    }

    #[test]
    fn a_read_error_ends_the_file_after_the_records_before_it() {
        let failing = crate::format::failing::FailingAfter::new(b"a,b\n1,2\n");
        let items: Vec<_> =
            CsvDecoder::new(failing, &spec(UTF_8, b','), "c".into(), "f".into()).collect();
        assert_eq!(items.len(), 2);
        assert_eq!(fields(ok(&items[0])), ["1", "2"]);
        let error = items[1].as_ref().unwrap_err();
        assert!(error.is_fatal());
        assert_eq!(error.to_string(), "cannot read the file: disk on fire");
    }

    #[test]
    fn detect_guesses_each_files_charset_and_replace_keeps_bad_rows() {
        use crate::config::connector::FormatSpec;
        use crate::format::charset::{Charset, InvalidBytes};
        let detecting = CsvSpec {
            charset: Charset {
                detect: true,
                invalid: InvalidBytes::Error,
            },
            ..spec(UTF_8, b',')
        };
        let text = "门店,商品名称,数量\n上海浦东世纪大道店,康师傅红烧牛肉面,12\n\
                    北京朝阳望京店,农夫山泉矿泉水550毫升,24\n广州天河体育西路店,伊利纯牛奶,6\n";
        let traditional = "門市,商品名稱,數量\n臺北信義忠孝東路店,康師傅紅燒牛肉麵,12\n\
                           高雄前鎮中華五路店,臺灣啤酒,24\n臺中西屯逢甲店,統一肉燥麵,6\n";
        let samples = [
            (GBK, GBK.encode(text).0, "康师傅红烧牛肉面"),
            (BIG5, BIG5.encode(traditional).0, "康師傅紅燒牛肉麵"),
        ];
        for (encoding, bytes, name) in samples {
            let decoded = crate::format::decode(
                &FormatSpec::Csv(detecting.clone()),
                &bytes[..],
                "pos".into(),
                "a.csv".into(),
            );
            let rows: Vec<_> = decoded.collect();
            assert_eq!(rows.len(), 3, "{}", encoding.name());
            assert_eq!(fields(ok(&rows[0]))[1], name, "{}", encoding.name());
        }
        let replacing = CsvSpec {
            charset: Charset {
                detect: false,
                invalid: InvalidBytes::Replace,
            },
            ..spec(UTF_8, b',')
        };
        let out = decode(&replacing, b"sku,name\nA1,caf\xE9\nA2,ok\n");
        assert_eq!(fields(ok(&out[0])), ["A1", "caf\u{FFFD}"]);
        assert_eq!(fields(ok(&out[1])), ["A2", "ok"]);
        let out = decode(&spec(UTF_8, b','), b"sku,name\nA1,caf\xE9\nA2,ok\n");
        assert!(record_error(&out[0]).reason.contains("at byte offset 15"));
    }
}
