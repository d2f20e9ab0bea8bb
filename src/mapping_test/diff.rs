//! A readable line diff: which lines of the expected text are kept, dropped or added in the
//! actual one (longest common subsequence), shown unified-style — `-` expected, `+` actual — in
//! hunks with a little context and `@@ -start,count +start,count @@` headers.

use std::fmt::{Display, Write};

/// Above this many cells (expected lines × actual lines, after the common start and end are cut
/// off) the middle is shown as wholly replaced instead of being aligned line by line.
const MAX_CELLS: usize = 4_000_000;

/// One step from the expected lines to the actual ones, by 0-based index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Same(usize, usize),
    Delete(usize),
    Insert(usize),
}

/// The steps that turn `old` into `new`, keeping as many lines as possible.
pub fn ops<T: PartialEq>(old: &[T], new: &[T]) -> Vec<Op> {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let suffix = old[prefix..]
        .iter()
        .rev()
        .zip(new[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out: Vec<Op> = (0..prefix).map(|i| Op::Same(i, i)).collect();
    let a = &old[prefix..old.len() - suffix];
    let b = &new[prefix..new.len() - suffix];
    middle(a, b, prefix, &mut out);
    let (old_tail, new_tail) = (old.len() - suffix, new.len() - suffix);
    out.extend((0..suffix).map(|k| Op::Same(old_tail + k, new_tail + k)));
    out
}

/// Aligns the differing middle `a` → `b`, both starting at line `at`.
fn middle<T: PartialEq>(a: &[T], b: &[T], at: usize, out: &mut Vec<Op>) {
    if a.len().saturating_mul(b.len()) > MAX_CELLS {
        out.extend((0..a.len()).map(|i| Op::Delete(at + i)));
        out.extend((0..b.len()).map(|j| Op::Insert(at + j)));
        return;
    }
    let w = b.len() + 1;
    // common[i * w + j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut common = vec![0u32; (a.len() + 1) * w];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            common[i * w + j] = match a[i] == b[j] {
                true => common[(i + 1) * w + j + 1] + 1,
                false => common[(i + 1) * w + j].max(common[i * w + j + 1]),
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(Op::Same(at + i, at + j));
            (i, j) = (i + 1, j + 1);
        } else if common[(i + 1) * w + j] >= common[i * w + j + 1] {
            out.push(Op::Delete(at + i));
            i += 1;
        } else {
            out.push(Op::Insert(at + j));
            j += 1;
        }
    }
    out.extend((i..a.len()).map(|i| Op::Delete(at + i)));
    out.extend((j..b.len()).map(|j| Op::Insert(at + j)));
}

/// The changes of `ops` as unified-diff hunks with `context` unchanged lines around each; empty
/// when nothing changed.
pub fn unified<T: Display>(old: &[T], new: &[T], ops: &[Op], context: usize) -> String {
    let mut out = String::new();
    for (start, end) in hunks(ops, context) {
        let hunk = &ops[start..end];
        let (old_start, new_start) = position(&ops[..start]);
        let old_count = hunk
            .iter()
            .filter(|op| !matches!(op, Op::Insert(_)))
            .count();
        let new_count = hunk
            .iter()
            .filter(|op| !matches!(op, Op::Delete(_)))
            .count();
        let _ = writeln!(
            out,
            "@@ -{} +{} @@",
            range(old_start, old_count),
            range(new_start, new_count)
        );
        for op in hunk {
            let _ = match *op {
                Op::Same(i, _) => writeln!(out, " {}", old[i]),
                Op::Delete(i) => writeln!(out, "-{}", old[i]),
                Op::Insert(j) => writeln!(out, "+{}", new[j]),
            };
        }
    }
    out
}

/// Ranges of `ops` (start, end) around the changes, merged when their context touches.
fn hunks(ops: &[Op], context: usize) -> Vec<(usize, usize)> {
    let mut hunks: Vec<(usize, usize)> = Vec::new();
    let changes = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| !matches!(op, Op::Same(..)));
    for (k, _) in changes {
        let start = k.saturating_sub(context);
        let end = (k + context + 1).min(ops.len());
        match hunks.last_mut() {
            Some(last) if start <= last.1 => last.1 = end,
            _ => hunks.push((start, end)),
        }
    }
    hunks
}

/// How many expected and actual lines `ops` cover.
fn position(ops: &[Op]) -> (usize, usize) {
    ops.iter().fold((0, 0), |(o, n), op| match op {
        Op::Same(..) => (o + 1, n + 1),
        Op::Delete(_) => (o + 1, n),
        Op::Insert(_) => (o, n + 1),
    })
}

/// `start,count` with 1-based `start`; an empty range names the line before it.
fn range(before: usize, count: usize) -> String {
    match count {
        0 => format!("{before},0"),
        _ => format!("{},{count}", before + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(old: &[&str], new: &[&str]) -> String {
        unified(old, new, &ops(old, new), 1)
    }

    #[test]
    fn equal_texts_have_no_hunks() {
        assert_eq!(diff(&["a", "b"], &["a", "b"]), "");
    }

    #[test]
    fn a_changed_line_is_shown_with_its_context_and_positions() {
        let old = ["a", "b", "c", "d", "e"];
        let new = ["a", "b", "X", "d", "e"];
        assert_eq!(diff(&old, &new), "@@ -2,3 +2,3 @@\n b\n-c\n+X\n d\n");
    }

    #[test]
    fn distant_changes_make_separate_hunks_and_insertions_keep_the_rest() {
        let old = ["1", "2", "3", "4", "5", "6", "7"];
        let new = ["0", "1", "2", "3", "4", "5", "7"];
        assert_eq!(
            diff(&old, &new),
            "@@ -1,1 +1,2 @@\n+0\n 1\n@@ -5,3 +6,2 @@\n 5\n-6\n 7\n"
        );
    }

    #[test]
    fn the_longest_common_lines_are_kept() {
        let old = ["x", "a", "y", "b"];
        let new = ["a", "b", "z"];
        assert_eq!(
            ops(&old, &new),
            vec![
                Op::Delete(0),
                Op::Same(1, 0),
                Op::Delete(2),
                Op::Same(3, 1),
                Op::Insert(2),
            ]
        );
    }
}
