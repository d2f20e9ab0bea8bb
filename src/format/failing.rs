//! A reader for the decoders' tests: some bytes, then a read error.

use std::io::{self, Read};

/// Hands out `data` on the first read, then fails every read with "disk on fire".
pub struct FailingAfter(pub &'static [u8], bool);

impl FailingAfter {
    pub fn new(data: &'static [u8]) -> Self {
        Self(data, false)
    }
}

impl Read for FailingAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if std::mem::replace(&mut self.1, true) {
            return Err(io::Error::other("disk on fire"));
        }
        buf[..self.0.len()].copy_from_slice(self.0);
        Ok(self.0.len())
    }
}
