//! What ingesting one input came to: events published, records filtered out, failed or already
//! delivered (dedupe), why an input was refused part-way, and the failures' reasons (the first
//! [`MAX_REPORTED`]) for a file's report or a webhook's answer.

use crate::format::record::Origin;

/// Failures kept in memory; a report lists these and counts the rest.
pub const MAX_REPORTED: usize = 10_000;

/// What one input (a file, a message, a page, a batch of rows) came to.
#[derive(Debug, Default)]
pub struct Tally {
    pub published: u64,
    pub filtered: u64,
    pub failed: u64,
    /// Records not published again because the dedupe window shows them delivered.
    pub duplicates: u64,
    /// Why the input was refused part-way (it does not fit the connector): a file goes to
    /// `error/`, a webhook is answered 400.
    pub refused: Option<String>,
    lines: Vec<(u64, String)>,
}

impl Tally {
    /// Records the input held: published, filtered, failed or already delivered.
    pub fn records(&self) -> u64 {
        self.published + self.filtered + self.failed + self.duplicates
    }

    /// Counts a failed record and keeps its reason (the first [`MAX_REPORTED`]).
    pub fn failure(&mut self, origin: &Origin, reason: &str) {
        self.failed += 1;
        if self.lines.len() < MAX_REPORTED {
            self.lines.push((origin.line, reason.to_string()));
        }
    }

    /// Records that the rest of the input was refused at `origin` (the records before it are
    /// delivered), and why.
    pub fn refuse(&mut self, origin: &Origin, reason: &str) {
        self.refused = Some(reason.to_string());
        self.failure(origin, reason);
    }

    /// The failed records listed so far: line (or record number) and reason.
    pub fn failures(&self) -> &[(u64, String)] {
        &self.lines
    }

    /// Items (records and bad records) this run went through.
    pub fn rows(&self) -> u64 {
        self.published + self.filtered + self.failed + self.duplicates
    }
}
