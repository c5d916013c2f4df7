//! Share links of a file store: a table referencing the files with a token column (the seed's
//! `file_shares`). The server makes the token (random, returned once, stored as its SHA-256),
//! counts downloads atomically and serves the file by token on a public route that tells nothing
//! else; expiry, a download limit, a view-only permission and a password (kept beside the share,
//! hashed with argon2id) are optional, as the table's columns allow.

use nest_catalog::{Catalog, Column, QualifiedName, Table};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ShareTable {
    pub table: QualifiedName,
    pub id: String,
    /// The key's type, without modifiers (`uuid`, `bigint`, ...).
    pub id_type: String,
    /// The column referencing the file.
    pub file: String,
    /// Holds the SHA-256 (hex) of the token.
    pub token: String,
    pub expires: Option<String>,
    pub max: Option<String>,
    pub count: Option<String>,
    pub accessed: Option<String>,
    /// `true`: the share lets the file be downloaded; `false`: its details only.
    pub can_download: Option<String>,
    pub shared_by: Option<String>,
    pub email: Option<String>,
    pub deleted_at: Option<String>,
}

fn text(c: &Column) -> bool {
    super::detect::is_text_column(c)
}

fn int(c: &Column) -> bool {
    matches!(c.ty.name.as_str(), "integer" | "bigint" | "smallint") && !c.ty.array
}

fn time(c: &Column) -> bool {
    c.ty.name.starts_with("timestamp") && !c.ty.array
}

fn find(t: &Table, names: &[&str], ok: fn(&Column) -> bool) -> Option<String> {
    names.iter().filter_map(|n| t.column(n)).find(|c| ok(c)).map(|c| c.name.clone())
}

/// The share table of `file`, if the schema has one: a single-key table with a foreign key to the
/// file table and a text token column long enough for a SHA-256 in hex.
pub fn share_table(catalog: &Catalog, file: &QualifiedName) -> Option<ShareTable> {
    catalog.tables.iter().find_map(|t| {
        if t.schema == file.schema && t.name == file.name {
            return None;
        }
        let fk = t.foreign_keys.iter().find(|fk| fk.columns.len() == 1 && &fk.references == file)?;
        let key = t.primary_key.as_ref().filter(|k| k.columns.len() == 1)?.columns[0].clone();
        let token = ["share_token", "token", "access_token", "link_token"]
            .iter()
            .filter_map(|n| t.column(n))
            .find(|c| text(c) && c.ty.modifiers.first().is_none_or(|&n| n >= 64))?
            .name
            .clone();
        let count = find(t, &["download_count", "downloads", "use_count", "uses"], int);
        let id_type = t.column(&key).map(|c| c.ty.name.clone()).unwrap_or_else(|| "text".into());
        Some(ShareTable {
            table: QualifiedName::new(&t.schema, &t.name),
            id: key,
            id_type,
            file: fk.columns[0].clone(),
            token,
            expires: find(t, &["expires_at", "expires", "valid_until"], time),
            // A limit is kept only where downloads are counted.
            max: count.as_ref().and_then(|_| find(t, &["max_downloads", "download_limit", "max_uses"], int)),
            count,
            accessed: find(t, &["last_accessed_at", "last_used_at", "last_downloaded_at"], time),
            can_download: find(t, &["can_download", "allow_download"], |c| c.ty.name == "boolean"),
            shared_by: find(t, &["shared_by", "created_by", "owner_id", "user_id"], |_| true),
            email: find(t, &["shared_with_email", "recipient_email", "email"], text),
            deleted_at: find(t, &["deleted_at"], time),
        })
    })
}
