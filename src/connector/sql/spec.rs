//! `[source] type = "sql"`: its keys (`url`, `table` + `columns` or `query`,
//! `timestamp_column`, `id_column`, `interval`, `batch_size`, `commit_lag`, `initial`), their
//! defaults and checks. The poll query is built (or translated) here, so `omnibus check` reports
//! a custom query's unknown or missing parameters at the query.

use serde::Deserialize;
use std::time::Duration;
use toml::Spanned;
use toml::de::DeValue;

use super::query::{self, Dialect, Prepared};
use super::watermark::Stamp;
use crate::config::Diagnostics;
use crate::config::connector_file::{duration, positive_duration};
use crate::config::diagnostic::keep;
use crate::config::env::{Secret, expand};
use crate::config::toml_de::Source;

const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
const DEFAULT_BATCH_SIZE: u32 = 1000;
/// Rows one poll reads at most, whatever `batch_size` says: a batch is held in memory.
const MAX_BATCH_SIZE: i64 = 100_000;

/// `[source]` for polling a table or query, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlSourceSpec {
    /// `postgres://…` or `mysql://…` (`mariadb://` is read as `mysql://`), `${NAME}`s expanded.
    pub url: Secret,
    pub dialect: Dialect,
    /// The poll query, with the dialect's placeholders.
    pub query: Prepared,
    /// How records are named in origins: `sql:<table>`, or `sql:query` for a custom query.
    pub name: String,
    pub timestamp_column: String,
    pub id_column: String,
    /// Wait between two polls that found less than a full batch.
    pub interval: Duration,
    /// Rows taken by one poll at most.
    pub batch_size: u32,
    /// How much older than the newest row taken a row committed late may be and still be found.
    pub commit_lag: Duration,
    /// Where a connector with no saved watermark starts (inclusive).
    pub initial: Stamp,
}

/// `[source] type = "sql"`, without its `type` key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlSourceFile {
    url: Spanned<String>,
    table: Option<Spanned<String>>,
    columns: Option<Spanned<Vec<String>>>,
    query: Option<Spanned<String>>,
    timestamp_column: Spanned<String>,
    id_column: Spanned<String>,
    interval: Option<Spanned<String>>,
    batch_size: Option<Spanned<i64>>,
    commit_lag: Option<Spanned<String>>,
    initial: Option<Spanned<String>>,
}

/// Reads and checks the `[source]` keys after `type`.
pub fn parse_spec(
    src: &Source<'_>,
    rest: Spanned<DeValue<'_>>,
) -> Result<SqlSourceSpec, Diagnostics> {
    let file: SqlSourceFile = src.deserialize(rest, "source")?;
    let mut found = Diagnostics::default();
    let url = keep(&mut found, url(src, &file.url));
    for key in [&file.timestamp_column, &file.id_column] {
        if key.get_ref().trim().is_empty() {
            found.push(src.diagnostic(key.span().start, "must name a column of the rows"));
        }
    }
    let query = url
        .as_ref()
        .and_then(|(_, dialect)| keep(&mut found, poll_query(src, &file, *dialect)));
    let interval = keep(
        &mut found,
        positive_duration(src, "interval", file.interval, DEFAULT_INTERVAL),
    );
    let batch_size = keep(&mut found, batch_size(src, file.batch_size));
    let commit_lag = keep(
        &mut found,
        duration(src, "commit_lag", file.commit_lag, Duration::ZERO),
    );
    let initial = keep(&mut found, initial(src, file.initial));
    match (url, query, interval, batch_size, commit_lag, initial) {
        (
            Some((url, dialect)),
            Some((query, name)),
            Some(interval),
            Some(batch_size),
            Some(commit_lag),
            Some(initial),
        ) if found.is_empty() => Ok(SqlSourceSpec {
            url,
            dialect,
            query,
            name,
            timestamp_column: file.timestamp_column.into_inner(),
            id_column: file.id_column.into_inner(),
            interval,
            batch_size,
            commit_lag,
            initial,
        }),
        _ => Err(found),
    }
}

/// The database URL and the dialect its scheme names.
fn url(src: &Source<'_>, url: &Spanned<String>) -> Result<(Secret, Dialect), Diagnostics> {
    let at = url.span().start;
    let text = expand(url.get_ref()).map_err(|m| src.diagnostic(at, m))?;
    let Some((scheme, rest)) = text.split_once("://") else {
        let message = "url must be a database URL: postgres://user:password@host:5432/db or \
                       mysql://user:password@host:3306/db (mariadb:// works too)";
        return Err(src.diagnostic(at, message).into());
    };
    match scheme {
        "postgres" | "postgresql" => Ok((Secret::new(text), Dialect::Postgres)),
        "mysql" => Ok((Secret::new(text), Dialect::Mysql)),
        "mariadb" => Ok((Secret::new(format!("mysql://{rest}")), Dialect::Mysql)),
        other => {
            let message = format!(
                "url scheme \"{other}\" is not a database this source reads; use postgres://, \
                 mysql:// or mariadb://"
            );
            Err(src.diagnostic(at, message).into())
        }
    }
}

/// The poll query and the name of its records: from `table` (and `columns`) or `query`.
fn poll_query(
    src: &Source<'_>,
    file: &SqlSourceFile,
    dialect: Dialect,
) -> Result<(Prepared, String), Diagnostics> {
    match (&file.table, &file.query) {
        (Some(table), None) => table_query(src, file, table, dialect),
        (None, Some(query)) => {
            if let Some(columns) = &file.columns {
                let message = "columns goes with table; a custom query selects its own columns";
                return Err(src.diagnostic(columns.span().start, message).into());
            }
            let prepared = query::translate(query.get_ref(), dialect)
                .map_err(|e| src.diagnostic(query.span().start, e.to_string()))?;
            Ok((prepared, "sql:query".to_string()))
        }
        (Some(table), Some(_)) => {
            let message = "table and query exclude each other: poll a table (with \
                           timestamp_column and id_column) or run your own query";
            Err(src.diagnostic(table.span().start, message).into())
        }
        (None, None) => {
            let message = "a sql source needs table = \"...\" or query = \"...\"";
            Err(src.diagnostic(file.url.span().start, message).into())
        }
    }
}

fn table_query(
    src: &Source<'_>,
    file: &SqlSourceFile,
    table: &Spanned<String>,
    dialect: Dialect,
) -> Result<(Prepared, String), Diagnostics> {
    let name = table.get_ref();
    if name.split('.').any(|part| part.trim().is_empty()) {
        let message = "table must name a table (or schema.table)";
        return Err(src.diagnostic(table.span().start, message).into());
    }
    if let Some(columns) = &file.columns {
        let keys = [file.timestamp_column.get_ref(), file.id_column.get_ref()];
        if let Some(missing) = keys.iter().find(|k| !columns.get_ref().contains(k)) {
            let message = format!(
                "columns must include \"{missing}\": the watermark follows timestamp_column and \
                 id_column"
            );
            return Err(src.diagnostic(columns.span().start, message).into());
        }
    }
    let sql = query::table_query(
        dialect,
        name,
        file.columns.as_ref().map(|c| c.get_ref().as_slice()),
        file.timestamp_column.get_ref(),
        file.id_column.get_ref(),
    );
    let prepared = query::translate(&sql, dialect)
        .map_err(|e| src.diagnostic(table.span().start, e.to_string()))?;
    Ok((prepared, format!("sql:{name}")))
}

fn batch_size(src: &Source<'_>, value: Option<Spanned<i64>>) -> Result<u32, Diagnostics> {
    let Some(value) = value else {
        return Ok(DEFAULT_BATCH_SIZE);
    };
    match *value.get_ref() {
        n @ 1..=MAX_BATCH_SIZE => Ok(u32::try_from(n).unwrap_or(DEFAULT_BATCH_SIZE)),
        n => {
            let message = format!("batch_size must be from 1 to {MAX_BATCH_SIZE}, got {n}");
            Err(src.diagnostic(value.span().start, message).into())
        }
    }
}

fn initial(src: &Source<'_>, value: Option<Spanned<String>>) -> Result<Stamp, Diagnostics> {
    let Some(value) = value else {
        return Ok(Stamp::epoch());
    };
    Stamp::parse(value.get_ref()).map_err(|m| {
        src.diagnostic(value.span().start, format!("initial: {m}"))
            .into()
    })
}

#[cfg(test)]
mod tests {
    use super::super::query::Param;
    use crate::config::connector::SourceSpec;

    fn load(source: &str, format: &str) -> Result<SourceSpec, String> {
        crate::config::load::load_test_source("crm", "sql", source, format)
    }

    fn spec(source: &str) -> super::SqlSourceSpec {
        match load(source, "").unwrap() {
            SourceSpec::Sql(spec) => spec,
            _ => panic!("a sql source"),
        }
    }

    #[test]
    fn a_table_gets_defaults_and_a_built_query() {
        let s = spec(
            "url = \"mariadb://root@127.0.0.1/crm\"\ntable = \"members\"\n\
             timestamp_column = \"updated_at\"\nid_column = \"id\"",
        );
        assert_eq!(s.url.expose(), "mysql://root@127.0.0.1/crm");
        assert_eq!(s.dialect, super::Dialect::Mysql);
        assert_eq!(s.name, "sql:members");
        assert!(
            s.query.sql.ends_with("ORDER BY `updated_at`, `id` LIMIT ?"),
            "{}",
            s.query.sql
        );
        assert_eq!((s.interval.as_secs(), s.batch_size), (10, 1000));
        assert!(s.commit_lag.is_zero());
        assert_eq!(s.initial, super::Stamp::epoch());
    }

    #[test]
    fn a_custom_query_is_translated() {
        let s = spec(
            "url = \"postgres://postgres@127.0.0.1/wms\"\ntimestamp_column = \"at\"\n\
             id_column = \"id\"\nquery = \"SELECT * FROM stock WHERE at > :since_ts OR (at = \
             :since_ts AND id > :since_id) ORDER BY at, id LIMIT :limit\"\n\
             commit_lag = \"30s\"\nbatch_size = 2\ninitial = \"2024-03-01T00:00:00+08:00\"",
        );
        assert_eq!(s.name, "sql:query");
        assert_eq!(
            s.query.binds,
            [Param::SinceTs, Param::SinceId, Param::Limit]
        );
        assert!(s.query.sql.contains("at > $1 OR (at = $1 AND id > $2)"));
        assert_eq!((s.commit_lag.as_secs(), s.batch_size), (30, 2));
        assert_eq!(s.initial.to_string(), "2024-02-29T16:00:00Z");
    }

    #[test]
    fn mistakes_are_reported_at_their_keys() {
        let err = load(
            "url = \"mysql://u:${OMNIBUS_TEST_UNSET_SQL}@h/db\"\ntable = \"t\"\n\
             timestamp_column = \"at\"\nid_column = \"\"\nbatch_size = 0\ninitial = \"soon\"",
            "",
        )
        .unwrap_err();
        for expected in [
            "crm.toml:5:7",
            "OMNIBUS_TEST_UNSET_SQL is not set",
            "crm.toml:8:13: must name a column",
            "batch_size must be from 1 to 100000",
            "initial: \"soon\" is not a timestamp",
        ] {
            assert!(err.contains(expected), "{expected} in {err}");
        }
        let err = load(
            "url = \"sqlite://x\"\ntable = \"t\"\nquery = \"SELECT 1\"\n\
             timestamp_column = \"at\"\nid_column = \"id\"",
            "",
        )
        .unwrap_err();
        assert!(err.contains("scheme \"sqlite\""), "{err}");
        let err = load(
            "url = \"postgres://h/db\"\ntable = \"t\"\ncolumns = [\"id\"]\n\
             timestamp_column = \"at\"\nid_column = \"id\"",
            "",
        )
        .unwrap_err();
        assert!(err.contains("columns must include \"at\""), "{err}");
        let err = load(
            "url = \"postgres://h/db\"\nquery = \"SELECT * WHERE a > :since_ts LIMIT :limit\"\n\
             timestamp_column = \"at\"\nid_column = \"id\"",
            "",
        )
        .unwrap_err();
        assert!(
            err.contains("crm.toml:6:9: query must use :since_id"),
            "{err}"
        );
    }

    #[test]
    fn a_format_does_not_apply() {
        let err = load(
            "url = \"postgres://h/db\"\ntable = \"t\"\ntimestamp_column = \"at\"\nid_column = \"id\"",
            "[format]\ntype = \"csv\"\n",
        )
        .unwrap_err();
        assert!(
            err.contains("[format] does not apply to a sql source"),
            "{err}"
        );
    }
}
