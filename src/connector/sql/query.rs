//! The SQL a `sql` connector runs: the query built from `table` (and `columns`), or the ops' own
//! `query`, with its named parameters (`:since_ts`, `:since_id`, `:limit`) turned into the
//! database's placeholders — `$1`, `$2`… for PostgreSQL (one number per name, reused), `?` for
//! MySQL/MariaDB (one per occurrence) — and the order the values are bound in.
//!
//! The scan skips string literals, quoted identifiers, comments and PostgreSQL's `::` casts and
//! dollar-quoted strings, so a `:word` inside them is left alone.

/// Which database the connector reads, by its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
}

/// A named parameter of the poll query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// The watermark's timestamp (minus the commit lag when there is one).
    SinceTs,
    /// The watermark's id.
    SinceId,
    /// Rows read at most by one poll.
    Limit,
}

impl Param {
    const ALL: [Param; 3] = [Param::SinceTs, Param::SinceId, Param::Limit];

    fn name(self) -> &'static str {
        match self {
            Param::SinceTs => "since_ts",
            Param::SinceId => "since_id",
            Param::Limit => "limit",
        }
    }

    fn named(name: &str) -> Option<Param> {
        Param::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A query ready to run: its text with the dialect's placeholders, and the parameter each
/// placeholder binds, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub sql: String,
    pub binds: Vec<Param>,
}

/// Why a custom query cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("unknown parameter :{0} in query; the parameters are :since_ts, :since_id and :limit")]
    Unknown(String),
    #[error(
        "query must use :{0}: it must return the rows after the watermark, \
         `WHERE ts > :since_ts OR (ts = :since_ts AND id > :since_id)`, ordered by ts then id, \
         `LIMIT :limit`"
    )]
    Missing(&'static str),
}

/// The poll query over `table`: the rows after the watermark, ordered by timestamp then id, at
/// most `:limit` of them. `table` may be `schema.table`; every identifier is quoted.
pub fn table_query(
    dialect: Dialect,
    table: &str,
    columns: Option<&[String]>,
    ts: &str,
    id: &str,
) -> String {
    let table: Vec<String> = table.split('.').map(|p| quote(dialect, p)).collect();
    let columns = columns.map_or_else(
        || "*".to_string(),
        |cols| {
            let quoted: Vec<String> = cols.iter().map(|c| quote(dialect, c)).collect();
            quoted.join(", ")
        },
    );
    let (ts, id) = (quote(dialect, ts), quote(dialect, id));
    format!(
        "SELECT {columns} FROM {} WHERE {ts} > :since_ts OR ({ts} = :since_ts AND {id} > \
         :since_id) ORDER BY {ts}, {id} LIMIT :limit",
        table.join(".")
    )
}

/// An identifier quoted for `dialect`.
fn quote(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
        Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
    }
}

/// Replaces the named parameters of `sql` with `dialect`'s placeholders. Every parameter must
/// appear at least once: without them the query cannot follow the watermark.
pub fn translate(sql: &str, dialect: Dialect) -> Result<Prepared, QueryError> {
    let mut out = Prepared {
        sql: String::with_capacity(sql.len()),
        binds: Vec::new(),
    };
    let mut used: Vec<Param> = Vec::new();
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        let skip = passthrough(rest, dialect);
        if skip > 0 {
            out.sql.push_str(&rest[..skip]);
            rest = &rest[skip..];
            continue;
        }
        let name_len = if c == ':' { identifier(&rest[1..]) } else { 0 };
        if name_len == 0 {
            out.sql.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let name = &rest[1..=name_len];
        let param = Param::named(name).ok_or_else(|| QueryError::Unknown(name.to_string()))?;
        placeholder(dialect, param, &mut used, &mut out);
        rest = &rest[1 + name_len..];
    }
    match Param::ALL.into_iter().find(|p| !used.contains(p)) {
        Some(missing) => Err(QueryError::Missing(missing.name())),
        None => Ok(out),
    }
}

/// Writes the placeholder of `param`: PostgreSQL numbers each parameter once, MySQL binds each
/// occurrence.
fn placeholder(dialect: Dialect, param: Param, used: &mut Vec<Param>, out: &mut Prepared) {
    let first = !used.contains(&param);
    if first {
        used.push(param);
    }
    match dialect {
        Dialect::Postgres => {
            let n = used.iter().position(|p| *p == param).unwrap_or_default() + 1;
            out.sql.push_str(&format!("${n}"));
            if first {
                out.binds.push(param);
            }
        }
        Dialect::Mysql => {
            out.sql.push('?');
            out.binds.push(param);
        }
    }
}

/// Length of the text at the start of `sql` that holds no parameter: a literal, a quoted
/// identifier, a comment, a `::` cast; 0 when `sql` starts with none of them.
fn passthrough(sql: &str, dialect: Dialect) -> usize {
    let bytes = sql.as_bytes();
    match bytes {
        [b':', b':', ..] => 2,
        [b'\'', ..] => quoted(sql, b'\'', dialect == Dialect::Mysql),
        [b'"', ..] => quoted(sql, b'"', dialect == Dialect::Mysql),
        [b'`', ..] if dialect == Dialect::Mysql => quoted(sql, b'`', false),
        [b'-', b'-', ..] => sql.find('\n').map_or(sql.len(), |n| n + 1),
        [b'#', ..] if dialect == Dialect::Mysql => sql.find('\n').map_or(sql.len(), |n| n + 1),
        [b'/', b'*', ..] => sql[2..].find("*/").map_or(sql.len(), |n| n + 4),
        [b'$', ..] if dialect == Dialect::Postgres => dollar_quoted(sql),
        _ => 0,
    }
}

/// Length of a literal or identifier opened by `quote` at the start of `sql`, up to and with
/// its closing quote (a doubled quote is part of it; so is a backslash-escaped character when
/// `backslash`); the rest of `sql` when it is not closed.
fn quoted(sql: &str, quote: u8, backslash: bool) -> usize {
    let bytes = sql.as_bytes();
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash => i += 2,
            b if b == quote && bytes.get(i + 1) == Some(&quote) => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    sql.len()
}

/// Length of a PostgreSQL dollar-quoted string (`$$...$$`, `$tag$...$tag$`) at the start of
/// `sql`; 0 when the `$` opens none (a `$1` placeholder).
fn dollar_quoted(sql: &str) -> usize {
    let tag_len = identifier(&sql[1..]);
    if sql.as_bytes().get(1 + tag_len) != Some(&b'$') || sql[1..].starts_with(char::is_numeric) {
        return 0;
    }
    let tag = &sql[..tag_len + 2];
    sql[tag.len()..]
        .find(tag)
        .map_or(sql.len(), |n| tag.len() + n + tag.len())
}

/// Length of the identifier (`[A-Za-z_][A-Za-z0-9_]*`) at the start of `text`, 0 if none.
fn identifier(text: &str) -> usize {
    let bytes = text.as_bytes();
    if !bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return 0;
    }
    bytes
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .unwrap_or(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &str = "SELECT s.sku, s.qty::text AS qty, ':x' AS lit, \"a:b\" FROM stock s \
        -- :comment\n WHERE s.at > :since_ts OR (s.at = :since_ts AND s.id > :since_id) \
        /* :block */ ORDER BY s.at, s.id LIMIT :limit";

    #[test]
    fn postgres_numbers_each_name_once() {
        let p = translate(QUERY, Dialect::Postgres).unwrap();
        assert_eq!(
            p.sql,
            "SELECT s.sku, s.qty::text AS qty, ':x' AS lit, \"a:b\" FROM stock s \
             -- :comment\n WHERE s.at > $1 OR (s.at = $1 AND s.id > $2) \
             /* :block */ ORDER BY s.at, s.id LIMIT $3"
        );
        assert_eq!(p.binds, [Param::SinceTs, Param::SinceId, Param::Limit]);
    }

    #[test]
    fn mysql_binds_every_occurrence() {
        let sql = "SELECT * FROM `t:x` WHERE note <> 'it\\'s :no' AND (ts > :since_ts OR \
                   (ts = :since_ts AND id > :since_id)) # :hash\nLIMIT :limit";
        let p = translate(sql, Dialect::Mysql).unwrap();
        assert_eq!(
            p.sql,
            "SELECT * FROM `t:x` WHERE note <> 'it\\'s :no' AND (ts > ? OR \
             (ts = ? AND id > ?)) # :hash\nLIMIT ?"
        );
        assert_eq!(
            p.binds,
            [Param::SinceTs, Param::SinceTs, Param::SinceId, Param::Limit]
        );
    }

    #[test]
    fn dollar_quotes_are_skipped_and_placeholders_are_not_quotes() {
        let sql =
            "SELECT $$:since_ts$$, $t$ :x $t$ WHERE a > :since_ts AND b > :since_id LIMIT :limit";
        let p = translate(sql, Dialect::Postgres).unwrap();
        assert!(
            p.sql
                .starts_with("SELECT $$:since_ts$$, $t$ :x $t$ WHERE a > $1")
        );
        assert_eq!(dollar_quoted("$1 AND"), 0);
    }

    #[test]
    fn unknown_and_missing_parameters_are_named() {
        let err = translate("SELECT * WHERE a > :since LIMIT :limit", Dialect::Mysql);
        assert_eq!(err, Err(QueryError::Unknown("since".into())));
        let err = translate("SELECT * WHERE a > :since_ts LIMIT :limit", Dialect::Mysql);
        assert_eq!(err, Err(QueryError::Missing("since_id")));
        let message = QueryError::Missing("limit").to_string();
        assert!(message.contains("LIMIT :limit"), "{message}");
    }

    #[test]
    fn the_table_query_quotes_identifiers() {
        let cols = ["id".to_string(), "updated_at".to_string()];
        let sql = table_query(
            Dialect::Mysql,
            "crm.members",
            Some(&cols),
            "updated_at",
            "id",
        );
        assert_eq!(
            sql,
            "SELECT `id`, `updated_at` FROM `crm`.`members` WHERE `updated_at` > :since_ts OR \
             (`updated_at` = :since_ts AND `id` > :since_id) ORDER BY `updated_at`, `id` LIMIT :limit"
        );
        let pg = table_query(Dialect::Postgres, "stock", None, "at", "i\"d");
        assert!(
            pg.starts_with("SELECT * FROM \"stock\" WHERE \"at\" > :since_ts"),
            "{pg}"
        );
        assert!(pg.contains("\"i\"\"d\" > :since_id"), "{pg}");
        assert!(translate(&pg, Dialect::Postgres).is_ok());
    }
}
