//! Which table holds the users that sign in, and which of its columns the auth runtime uses.

use crate::schema::{bare_type, has, opt, single_key};
use nest_catalog::{QualifiedName, Table};
use serde::Serialize;

/// Columns of the users table the auth runtime needs. Optional ones enable their feature
/// (lockout, status, second factor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthModel {
    pub schema: String,
    pub table: String,
    pub id: String,
    /// Type of the id, for casts (`uuid`, `bigint`).
    pub id_type: String,
    pub email: String,
    pub password_hash: String,
    pub status: Option<String>,
    pub failed_logins: Option<String>,
    pub locked_until: Option<String>,
    pub two_factor_enabled: Option<String>,
    pub two_factor_secret: Option<String>,
    pub last_login_at: Option<String>,
    pub deleted_at: Option<String>,
    /// Columns only the auth runtime writes (never through the users CRUD routes).
    pub managed: Vec<String>,
    /// Where "this email address is verified" is kept.
    pub verified: Verified,
    /// The second-factor secret goes in `two_factor_secret` (encrypted) when the column can hold
    /// it; otherwise in `nestgen.accounts`.
    pub two_factor_secret_fits: bool,
    /// Columns each sign-in changes (failure count, lock, last sign-in): not audited.
    pub bookkeeping: Vec<String>,
}

impl AuthModel {
    /// The users table.
    pub fn users(&self) -> QualifiedName {
        QualifiedName::new(&self.schema, &self.table)
    }
}

/// Where an account's email verification is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "in", content = "column", rename_all = "lowercase")]
pub enum Verified {
    /// A timestamp column of the users table (`email_verified_at`, `confirmed_at`).
    Timestamp(String),
    /// A boolean column (`email_verified`, `is_verified`).
    Bool(String),
    /// No such column: `nestgen.accounts.email_verified_at`.
    Nestgen,
}

/// Length an encrypted second-factor secret needs (`v1.<kid>.<base64url>` of a 20-byte secret).
pub const SEALED_SECRET_LENGTH: u32 = 80;

fn verified_column(t: &Table, email: &str) -> Verified {
    let stamps = [
        format!("{email}_verified_at"),
        "email_verified_at".into(),
        format!("{email}_confirmed_at"),
        "email_confirmed_at".into(),
        "confirmed_at".into(),
        "verified_at".into(),
    ];
    for c in &stamps {
        if let Some(col) = t.column(c)
            && col.ty.name.starts_with("timestamp")
            && !col.ty.array
        {
            return Verified::Timestamp(c.clone());
        }
    }
    let flags = [
        format!("{email}_verified"),
        "email_verified".into(),
        "is_email_verified".into(),
        "email_confirmed".into(),
        "is_verified".into(),
        "verified".into(),
    ];
    for c in &flags {
        if let Some(col) = t.column(c)
            && col.ty.name == "boolean"
            && !col.ty.array
        {
            return Verified::Bool(c.clone());
        }
    }
    Verified::Nestgen
}

/// The users table that signs in: an email column and a password hash column.
pub fn detect_auth(t: &Table) -> Result<AuthModel, String> {
    let email = ["email", "email_address", "username", "login"]
        .iter()
        .find(|c| has(t, c))
        .ok_or_else(|| format!("{}: auth needs an email (or username) column", t.name))?;
    let password_hash = ["password_hash", "password_digest", "hashed_password", "encrypted_password", "password"]
        .iter()
        .find(|c| has(t, c))
        .ok_or_else(|| format!("{}: auth needs a password_hash column", t.name))?;
    let id = single_key(t).ok_or_else(|| format!("{}: auth needs a single-column primary key", t.name))?;
    let id_type = bare_type(t, &id, "");
    let mut m = AuthModel {
        schema: t.schema.clone(),
        table: t.name.clone(),
        id,
        id_type,
        email: email.to_string(),
        password_hash: password_hash.to_string(),
        status: opt(t, "status"),
        failed_logins: opt(t, "failed_login_attempts").or_else(|| opt(t, "failed_logins")),
        locked_until: opt(t, "locked_until"),
        two_factor_enabled: opt(t, "two_factor_enabled").or_else(|| opt(t, "mfa_enabled")),
        two_factor_secret: opt(t, "two_factor_secret").or_else(|| opt(t, "mfa_secret")),
        last_login_at: opt(t, "last_login_at"),
        deleted_at: opt(t, "deleted_at"),
        managed: Vec::new(),
        verified: verified_column(t, email),
        two_factor_secret_fits: false,
        bookkeeping: Vec::new(),
    };
    m.two_factor_secret_fits = m.two_factor_secret.as_ref().and_then(|c| t.column(c)).is_some_and(|c| {
        !c.ty.array
            && match c.ty.name.as_str() {
                "text" | "citext" => true,
                "character varying" => c.ty.max_length().is_none_or(|n| n >= SEALED_SECRET_LENGTH),
                _ => false,
            }
    });
    m.bookkeeping =
        [m.failed_logins.clone(), m.locked_until.clone(), m.last_login_at.clone()].into_iter().flatten().collect();
    // Email is who signs in and, with tenancy, which memberships match: it changes only through
    // auth. Verification stamps prove something the CRUD routes cannot.
    let verified = t
        .columns
        .iter()
        .filter(|c| c.name.ends_with("_verified_at") || c.name.ends_with("_verified") || c.name == "verified_at")
        .map(|c| Some(c.name.clone()));
    m.managed = [
        Some(m.email.clone()),
        Some(m.password_hash.clone()),
        m.failed_logins.clone(),
        m.locked_until.clone(),
        m.two_factor_enabled.clone(),
        m.two_factor_secret.clone(),
        m.last_login_at.clone(),
    ]
    .into_iter()
    .chain(verified)
    .flatten()
    .collect();
    if let Verified::Timestamp(c) | Verified::Bool(c) = &m.verified
        && !m.managed.contains(c)
    {
        m.managed.push(c.clone());
    }
    Ok(m)
}
