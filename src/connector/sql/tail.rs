//! Group boundaries in a poll: with a `[group]` mapping, a poll that read as many rows as its
//! limit may have stopped inside a group. The rows of its last group are held back — neither
//! published nor passed by the watermark — so the next poll reads them again with the rest of
//! their group: a group is always published whole, and positions are saved only between groups.

use super::row::ReadRow;
use crate::mapping::group::object_key;

/// Why a full poll has no group boundary to stop at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {rows} rows of one poll all belong to one [group] (by {by}); raise the connector's \
     batch_size above the largest group's rows"
)]
pub struct GroupTooLarge {
    pub rows: usize,
    pub by: String,
}

/// Drops from `taken` the rows of its last group (the rows at the end whose `by` columns equal
/// the last row's). Returns how many were held back, or an error when every row is in it.
pub fn hold_back_last_group(
    taken: &mut Vec<ReadRow>,
    by: &[String],
) -> Result<usize, GroupTooLarge> {
    let Some(last) = taken.last().map(|row| key(row, by)) else {
        return Ok(0);
    };
    let kept = taken
        .iter()
        .rposition(|row| key(row, by) != last)
        .map_or(0, |i| i + 1);
    if kept == 0 {
        return Err(GroupTooLarge {
            rows: taken.len(),
            by: by.join(", "),
        });
    }
    let held = taken.len() - kept;
    taken.truncate(kept);
    Ok(held)
}

/// The group key of a row (of the columns read, for a row not wholly readable), as `[group]`
/// computes it; `None` for a row without the `by` columns, whose group fails anyway.
fn key(row: &ReadRow, by: &[String]) -> Option<Vec<String>> {
    let body = match &row.body {
        Ok(body) => body,
        Err(unreadable) => &unreadable.partial,
    };
    body.as_object()
        .and_then(|members| object_key(by, members).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::sql::row::Unreadable;
    use chrono::NaiveDateTime;
    use serde_json::json;

    fn rows(orders: &[&str]) -> Vec<ReadRow> {
        orders
            .iter()
            .enumerate()
            .map(|(i, order)| ReadRow {
                key: (NaiveDateTime::default(), i as i64 + 1),
                zoned: false,
                id: i as i64 + 1,
                body: Ok(json!({ "order_no": order, "line_no": i.to_string() })),
            })
            .collect()
    }

    fn by() -> Vec<String> {
        vec!["order_no".to_string()]
    }

    fn ids(taken: &[ReadRow]) -> Vec<i64> {
        taken.iter().map(|r| r.id).collect()
    }

    #[test]
    fn the_last_group_is_held_back() {
        let mut taken = rows(&["A", "A", "B", "C", "C"]);
        assert_eq!(hold_back_last_group(&mut taken, &by()), Ok(2));
        assert_eq!(ids(&taken), [1, 2, 3]);
    }

    #[test]
    fn the_boundary_is_where_group_sees_it_null_and_empty_alike() {
        let mut taken = rows(&["A", "", ""]);
        taken[2].body = Ok(json!({ "order_no": null, "line_no": "2" }));
        assert_eq!(hold_back_last_group(&mut taken, &by()), Ok(2));
        assert_eq!(ids(&taken), [1]);
    }

    #[test]
    fn an_unreadable_row_still_has_its_key() {
        let mut taken = rows(&["A", "B", "B"]);
        taken[1].body = Err(Unreadable {
            partial: json!({ "order_no": "B", "shape": null }),
            reason: "column \"shape\" has type GEOMETRY".into(),
        });
        assert_eq!(hold_back_last_group(&mut taken, &by()), Ok(2));
        assert_eq!(ids(&taken), [1]);
    }

    #[test]
    fn a_poll_of_one_group_cannot_stop_at_a_boundary() {
        let mut taken = rows(&["A", "A", "A"]);
        let err = hold_back_last_group(&mut taken, &by()).unwrap_err();
        assert!(
            err.to_string().contains("raise the connector's batch_size"),
            "{err}"
        );
        assert_eq!(taken.len(), 3);
        assert_eq!(hold_back_last_group(&mut Vec::new(), &by()), Ok(0));
    }
}
