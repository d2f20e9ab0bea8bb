//! The systems whose tables the hub polls: the database named in the connector's URL is created
//! when absent, and the system's SQL scripts (`<examples>/<system>/*.sql`) are run in it, statement
//! by statement. A script's own database statements (`CREATE DATABASE`, `USE`, psql's `\connect`
//! and `\gexec`) are left out, so the rows land in the connector's database whatever its name;
//! rows already there (a unique key violated) are left as they are.

use crate::connector::sql::{Dialect, SqlSourceSpec};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, Executor, MySqlConnection, PgConnection};
use std::path::Path;

/// What running a system's scripts did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Statements run.
    pub statements: usize,
    /// Statements whose rows were there already.
    pub present: usize,
}

/// Creates the connector's database when absent and runs `scripts` in it.
pub async fn load(spec: &SqlSourceSpec, scripts: &[&Path]) -> Result<Loaded, String> {
    let url = url::Url::parse(spec.url.expose()).map_err(|e| format!("{}: {e}", spec.url))?;
    let name = database_name(&url)?;
    let mut statements = Vec::new();
    for script in scripts {
        let text =
            std::fs::read_to_string(script).map_err(|e| format!("{}: {e}", script.display()))?;
        statements.extend(split(&text).into_iter().filter(|s| !is_database_level(s)));
    }
    match spec.dialect {
        Dialect::Mysql => {
            let mut server = MySqlConnection::connect(server_url(&url, "").as_str())
                .await
                .map_err(|e| connect_error(&url, e))?;
            let create = format!(
                "CREATE DATABASE IF NOT EXISTS `{name}` DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            );
            execute(&mut server, &create).await?;
            let mut conn = MySqlConnection::connect(url.as_str())
                .await
                .map_err(|e| connect_error(&url, e))?;
            run(&mut conn, &statements).await
        }
        Dialect::Postgres => {
            let mut server = pg_connect(&server_url(&url, "postgres")).await?;
            create_pg_database(&mut server, &name).await?;
            let mut conn = pg_connect(&url).await?;
            run(&mut conn, &statements).await
        }
    }
}

/// The database a URL names, checked to be a plain identifier.
fn database_name(url: &url::Url) -> Result<String, String> {
    let name = url.path().trim_start_matches('/');
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!(
            "the URL's database \"{name}\" must be letters, digits and _ for the demo to create it"
        ));
    }
    Ok(name.to_string())
}

/// The same server with `database` (or none) instead of the connector's.
fn server_url(url: &url::Url, database: &str) -> url::Url {
    let mut server = url.clone();
    server.set_path(&format!("/{database}"));
    server
}

fn connect_error(url: &url::Url, e: sqlx::Error) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    format!("connecting to {shown}: {e}")
}

/// A PostgreSQL connection that keeps its notices ("already exists, skipping") to itself.
async fn pg_connect(url: &url::Url) -> Result<PgConnection, String> {
    let options: PgConnectOptions = url.as_str().parse().map_err(|e| connect_error(url, e))?;
    let options = options.options([("client_min_messages", "warning")]);
    PgConnection::connect_with(&options)
        .await
        .map_err(|e| connect_error(url, e))
}

async fn create_pg_database(server: &mut PgConnection, name: &str) -> Result<(), String> {
    let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut *server)
        .await
        .map_err(|e| e.to_string())?
        .is_some();
    if !exists {
        let create = format!("CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0");
        execute(server, &create).await?;
    }
    Ok(())
}

async fn execute<C>(conn: &mut C, statement: &str) -> Result<(), String>
where
    for<'c> &'c mut C: Executor<'c>,
{
    sqlx::raw_sql(AssertSqlSafe(statement))
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| format!("{e}: {}", first_line(statement)))
}

/// Runs `statements` in order; a unique key violation counts as rows already present.
async fn run<C>(conn: &mut C, statements: &[String]) -> Result<Loaded, String>
where
    for<'c> &'c mut C: Executor<'c>,
{
    let mut loaded = Loaded::default();
    for statement in statements {
        match sqlx::raw_sql(AssertSqlSafe(statement.as_str()))
            .execute(&mut *conn)
            .await
        {
            Ok(_) => loaded.statements += 1,
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => loaded.present += 1,
            Err(e) => return Err(format!("{e}: {}", first_line(statement))),
        }
    }
    Ok(loaded)
}

fn first_line(statement: &str) -> &str {
    statement.lines().next().unwrap_or_default()
}

/// Whether a statement is about databases rather than their tables.
fn is_database_level(statement: &str) -> bool {
    let first = statement.split_whitespace().next().unwrap_or_default();
    first.eq_ignore_ascii_case("USE") || statement.to_ascii_uppercase().contains("CREATE DATABASE")
}

/// The statements of a script: split at `;` and at psql meta-commands (`\gexec`, `\connect …`,
/// which are dropped), outside quotes and `--` comments; comments and blank statements dropped.
fn split(script: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = script.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                current.push(c);
                quote = None;
            }
            (Some(_), c) => current.push(c),
            (None, '\'' | '"' | '`') => {
                current.push(c);
                quote = Some(c);
            }
            (None, '-') if chars.peek() == Some(&'-') => skip_line(&mut chars),
            (None, '\\') => {
                skip_line(&mut chars);
                finish(&mut current, &mut statements);
            }
            (None, ';') => finish(&mut current, &mut statements),
            (None, c) => current.push(c),
        }
    }
    finish(&mut current, &mut statements);
    statements
}

fn skip_line(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if c == '\n' {
            break;
        }
    }
}

fn finish(current: &mut String, statements: &mut Vec<String>) {
    let statement = current.trim();
    if !statement.is_empty() {
        statements.push(statement.to_string());
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_split_into_table_statements() {
        let script = "-- a comment; with a semicolon\nCREATE DATABASE IF NOT EXISTS x;\nUSE x;\n\
                      CREATE TABLE t (a TEXT); -- trailing\nINSERT INTO t VALUES ('a;b', 'it''s');\n\
                      SELECT 'CREATE DATABASE y'\nWHERE NOT EXISTS (SELECT 1)\\gexec\n\\connect y\n\
                      INSERT INTO t VALUES (\"q;\")";
        let kept: Vec<String> = split(script)
            .into_iter()
            .filter(|s| !is_database_level(s))
            .collect();
        assert_eq!(
            kept,
            [
                "CREATE TABLE t (a TEXT)",
                "INSERT INTO t VALUES ('a;b', 'it''s')",
                "INSERT INTO t VALUES (\"q;\")"
            ]
        );
    }

    #[test]
    fn a_database_name_must_be_an_identifier() {
        let url = url::Url::parse("mysql://root@127.0.0.1:3306/retail_crm").unwrap();
        assert_eq!(database_name(&url).unwrap(), "retail_crm");
        let bad = url::Url::parse("mysql://root@127.0.0.1:3306/a%60b").unwrap();
        assert!(database_name(&bad).is_err());
    }
}
