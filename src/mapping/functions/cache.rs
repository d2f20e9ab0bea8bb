//! A bounded cache of compiled regular expressions, keyed by pattern text, so that a pattern in a
//! mapping is compiled once, not once per record. Patterns built from record values cannot make
//! it grow without bound: when full, it starts afresh.

use regex::{Regex, RegexBuilder};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

/// Patterns kept; a mapping has a handful.
const CAPACITY: usize = 256;

/// Most memory one compiled pattern may take.
const SIZE_LIMIT: usize = 1 << 20;

/// The cache the regex functions share.
static PATTERNS: LazyLock<RegexCache> = LazyLock::new(|| RegexCache::new(CAPACITY));

/// The compiled form of `pattern`, from the shared cache; the error is regex's reason, one line.
pub(super) fn regex(pattern: &str) -> Result<Arc<Regex>, String> {
    PATTERNS.get(pattern)
}

/// Compiled patterns by their text, at most `capacity` of them.
struct RegexCache {
    capacity: usize,
    compiled: Mutex<HashMap<Box<str>, Arc<Regex>>>,
}

impl RegexCache {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            compiled: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, pattern: &str) -> Result<Arc<Regex>, String> {
        if let Some(regex) = self.lock().get(pattern) {
            return Ok(Arc::clone(regex));
        }
        let regex = RegexBuilder::new(pattern)
            .size_limit(SIZE_LIMIT)
            .build()
            .map(Arc::new)
            .map_err(|e| reason(&e))?;
        let mut compiled = self.lock();
        if compiled.len() >= self.capacity {
            compiled.clear();
        }
        compiled.insert(pattern.into(), Arc::clone(&regex));
        Ok(regex)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Arc<Regex>>> {
        self.compiled.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The last line of regex's message (`unclosed group`), without the pattern drawn above it.
fn reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or_default();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_is_compiled_once() {
        let cache = RegexCache::new(4);
        let first = cache.get(r"\d+").unwrap();
        let again = cache.get(r"\d+").unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(cache.lock().len(), 1);
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = RegexCache::new(4);
        for n in 0..10 {
            cache.get(&format!("a{{{n}}}")).unwrap();
            assert!(cache.lock().len() <= 4);
        }
        assert!(cache.get("a{9}").unwrap().is_match("aaaaaaaaa"));
    }

    #[test]
    fn bad_patterns_give_a_one_line_reason_and_are_not_kept() {
        let cache = RegexCache::new(4);
        assert_eq!(cache.get("(ab").unwrap_err(), "unclosed group");
        assert!(
            cache
                .get("a{99999}{99999}")
                .unwrap_err()
                .contains("size limit")
        );
        assert!(cache.lock().is_empty());
    }
}
