//! Throwaway PostgreSQL databases for tests.
//!
//! The server is found through `NEST_TEST_DATABASE_URL` (an admin connection, default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Each [`TestDb`] creates its own database
//! with a unique name and drops it when dropped. A missing server is a test failure with a
//! message saying how to start one, never a silent skip.

use std::sync::atomic::{AtomicU32, Ordering};
use tokio_postgres::NoTls;

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn admin_url() -> String {
    std::env::var("NEST_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
}

/// `url` with its database name replaced by `db`.
pub fn with_db(url: &str, db: &str) -> String {
    // Replace the database name at the end of the URL path, keeping any query string.
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(i) if i > "postgres://".len() => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// Run SQL (several statements) on a connection URL.
pub fn execute(url: &str, sql: &str) -> Result<(), String> {
    runtime().block_on(async {
        let (client, conn) = tokio_postgres::connect(url, NoTls).await.map_err(|e| e.to_string())?;
        let h = tokio::spawn(conn);
        let r = client.batch_execute(sql).await.map_err(|e| match e.as_db_error() {
            Some(db) => format!("{}: {}", db.severity(), db.message()),
            None => e.to_string(),
        });
        drop(client);
        let _ = h.await;
        r
    })
}

/// The first column of the first row of a query, as text (`None` for no row or NULL).
pub fn query_text(url: &str, sql: &str) -> Result<Option<String>, String> {
    runtime().block_on(async {
        let (client, conn) = tokio_postgres::connect(url, NoTls).await.map_err(|e| e.to_string())?;
        let h = tokio::spawn(conn);
        let r = client.simple_query(sql).await.map_err(|e| e.to_string()).map(|msgs| {
            msgs.into_iter().find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_string)),
                _ => None,
            })
        });
        drop(client);
        let _ = h.await;
        r.map(Option::flatten)
    })
}

/// A database that exists for the life of the value.
pub struct TestDb {
    pub name: String,
    pub url: String,
    roles: Vec<String>,
}

impl TestDb {
    /// Create a fresh, empty database named after `prefix`.
    pub fn create(prefix: &str) -> TestDb {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let clean: String =
            prefix.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        let name = format!("ngt_{}_{}_{}", clean, std::process::id(), n);
        let admin = admin_url();
        let _ = execute(&admin, &format!("DROP DATABASE IF EXISTS {name}"));
        execute(&admin, &format!("CREATE DATABASE {name}")).unwrap_or_else(|e| {
            panic!(
                "cannot create a test database through {admin}: {e}. \
                 Start PostgreSQL (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) \
                 or point NEST_TEST_DATABASE_URL at a server where this user may CREATE DATABASE."
            )
        });
        TestDb { url: with_db(&admin, &name), name, roles: Vec::new() }
    }

    pub fn execute(&self, sql: &str) -> Result<(), String> {
        execute(&self.url, sql)
    }

    pub fn query_text(&self, sql: &str) -> Result<Option<String>, String> {
        query_text(&self.url, sql)
    }

    /// A login role that owns nothing here and is not a superuser (so row-level security
    /// applies to it), with `grant_sql` run for it (`{role}` is replaced by its name). Returns
    /// the connection URL as that role. The role is dropped with the database.
    pub fn app_role(&mut self, grant_sql: &str) -> String {
        let role = format!("{}_app", self.name);
        let admin = admin_url();
        let _ = execute(&admin, &format!("DROP ROLE IF EXISTS {role}"));
        execute(&admin, &format!("CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS")).expect("create app role");
        self.execute(&grant_sql.replace("{role}", &role)).expect("grant app role");
        self.roles.push(role.clone());
        let base = self.url.replacen("://", &format!("://{role}@"), 1);
        // Drop a user already in the URL (postgres://user@host → postgres://role@host).
        match base.split_once('@') {
            Some((head, rest)) if rest.contains('@') => {
                format!("{head}@{}", rest.split_once('@').map(|(_, r)| r).unwrap_or(rest))
            }
            _ => base,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = execute(&admin_url(), &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        for r in &self.roles {
            let _ = execute(&admin_url(), &format!("DROP ROLE IF EXISTS {r}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rewrite() {
        assert_eq!(with_db("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_db("postgres://u@h/postgres?sslmode=disable", "x"), "postgres://u@h/x?sslmode=disable");
    }
}
