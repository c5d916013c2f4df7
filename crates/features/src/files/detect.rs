//! Which columns of a table hold what a file store needs, by name or as the config names them.

use nest_catalog::{Column, Table};
use serde::Serialize;
use std::collections::BTreeMap;

/// Roles the config may name (`[tables.<t>] files = { key = "..." }`).
pub const ROLES: &[&str] = &[
    "key",
    "size",
    "type",
    "checksum",
    "name",
    "stored_name",
    "provider",
    "bucket",
    "scanned_at",
    "safe",
    "scan_result",
    "downloads",
    "downloaded_at",
];

/// What each role is looked up by, in order.
const NAMES: &[(&str, &[&str])] = &[
    ("key", &["storage_key", "storage_path", "object_key", "path", "key"]),
    ("size", &["size_bytes", "byte_size", "file_size", "size", "bytes"]),
    ("type", &["mime_type", "content_type", "media_type", "mimetype"]),
    ("checksum", &["checksum", "sha256", "content_hash", "hash"]),
    ("name", &["original_name", "original_filename", "file_name", "name", "filename"]),
    ("stored_name", &["filename", "stored_name"]),
    ("provider", &["storage_provider", "provider"]),
    ("bucket", &["storage_bucket", "bucket"]),
    ("scanned_at", &["scanned_at"]),
    ("safe", &["is_safe"]),
    ("scan_result", &["scan_result"]),
    ("downloads", &["downloaded_count", "download_count", "downloads"]),
    ("downloaded_at", &["last_downloaded_at", "downloaded_at"]),
    ("owner", &["owner_id", "uploaded_by", "user_id", "created_by"]),
];

#[derive(Debug, Default)]
pub struct Overrides(BTreeMap<String, String>);

impl Overrides {
    pub fn from_toml(v: Option<&toml::Value>) -> Overrides {
        let Some(t) = v.and_then(toml::Value::as_table) else { return Overrides::default() };
        Overrides(t.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
    }
}

/// A column's part in the file store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Key,
    Size,
    Type,
    Checksum,
    StoredName,
    Provider,
    Bucket,
    ScannedAt,
    Safe,
    ScanResult,
    Downloads,
    DownloadedAt,
}

impl Role {
    /// Where the bytes are: never returned, never written by a client.
    pub fn hidden(self) -> bool {
        matches!(self, Role::Key | Role::StoredName | Role::Provider | Role::Bucket)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Key => "storage key",
            Role::Size => "size",
            Role::Type => "media type",
            Role::Checksum => "SHA-256",
            Role::StoredName => "stored name",
            Role::Provider => "storage provider",
            Role::Bucket => "bucket",
            Role::ScannedAt => "scan time",
            Role::Safe => "scan verdict",
            Role::ScanResult => "scan result",
            Role::Downloads => "download count",
            Role::DownloadedAt => "last download time",
        }
    }
}

/// The columns of a file table by role (`name`: the client's file name, kept sanitised).
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileColumns {
    pub key: String,
    pub size: String,
    pub media_type: String,
    pub checksum: String,
    pub name: Option<String>,
    pub stored_name: Option<String>,
    pub provider: Option<String>,
    pub bucket: Option<String>,
    pub scanned_at: Option<String>,
    pub safe: Option<String>,
    pub scan_result: Option<String>,
    pub downloads: Option<String>,
    pub downloaded_at: Option<String>,
    /// Whose file it is (quotas count per owner); set by the server as an actor column.
    pub owner: Option<String>,
}

impl FileColumns {
    pub fn role_of(&self, column: &str) -> Option<Role> {
        let is = |c: &Option<String>| c.as_deref() == Some(column);
        Some(if self.key == column {
            Role::Key
        } else if self.size == column {
            Role::Size
        } else if self.media_type == column {
            Role::Type
        } else if self.checksum == column {
            Role::Checksum
        } else if is(&self.stored_name) {
            Role::StoredName
        } else if is(&self.provider) {
            Role::Provider
        } else if is(&self.bucket) {
            Role::Bucket
        } else if is(&self.scanned_at) {
            Role::ScannedAt
        } else if is(&self.safe) {
            Role::Safe
        } else if is(&self.scan_result) {
            Role::ScanResult
        } else if is(&self.downloads) {
            Role::Downloads
        } else if is(&self.downloaded_at) {
            Role::DownloadedAt
        } else {
            return None;
        })
    }

    /// Every column the server sets, in table order of roles.
    pub fn server_columns(&self) -> Vec<String> {
        [Some(&self.key), Some(&self.size), Some(&self.media_type), Some(&self.checksum)]
            .into_iter()
            .flatten()
            .chain(
                [
                    &self.stored_name,
                    &self.provider,
                    &self.bucket,
                    &self.scanned_at,
                    &self.safe,
                    &self.scan_result,
                    &self.downloads,
                    &self.downloaded_at,
                ]
                .into_iter()
                .flatten(),
            )
            .cloned()
            .collect()
    }

    pub fn describe(&self) -> String {
        format!(
            "key {}, size {}, type {}, checksum {}{}",
            self.key,
            self.size,
            self.media_type,
            self.checksum,
            self.name.as_ref().map(|n| format!(", name {n}")).unwrap_or_default()
        )
    }
}

pub fn is_text_column(c: &Column) -> bool {
    is_text(c)
}

fn is_text(c: &Column) -> bool {
    matches!(c.ty.name.as_str(), "text" | "character varying" | "character" | "citext") && !c.ty.array
}

fn is_int(c: &Column) -> bool {
    matches!(c.ty.name.as_str(), "bigint" | "integer" | "numeric") && !c.ty.array
}

/// The file roles of `t`'s columns, or what it lacks.
pub fn file_columns(t: &Table, o: &Overrides) -> Result<FileColumns, Vec<String>> {
    let mut missing = Vec::new();
    let mut taken: Vec<String> = Vec::new();
    let mut find = |role: &str, ok: fn(&Column) -> bool| -> Option<String> {
        if let Some(c) = o.0.get(role) {
            return match t.column(c) {
                Some(col) if ok(col) => {
                    taken.push(c.clone());
                    Some(c.clone())
                }
                Some(col) => {
                    missing.push(format!("a usable {role} column (`{c}` is {})", col.ty));
                    None
                }
                None => {
                    missing.push(format!("column `{c}` (the configured {role})"));
                    None
                }
            };
        }
        let names = NAMES.iter().find(|(r, _)| *r == role).map(|(_, n)| *n).unwrap_or(&[]);
        let found = names.iter().filter_map(|n| t.column(n)).find(|c| ok(c) && !taken.contains(&c.name))?;
        taken.push(found.name.clone());
        Some(found.name.clone())
    };
    let key = find("key", is_text);
    let size = find("size", is_int);
    let media_type = find("type", is_text);
    let checksum = find("checksum", is_text);
    let name = find("name", is_text);
    let stored_name = find("stored_name", is_text);
    let provider = find("provider", is_text);
    let bucket = find("bucket", is_text);
    let scanned_at = find("scanned_at", |c| c.ty.name.starts_with("timestamp"));
    let safe = find("safe", |c| c.ty.name == "boolean");
    let scan_result = find("scan_result", |c| c.ty.name == "jsonb" || is_text(c));
    let downloads = find("downloads", is_int);
    let downloaded_at = find("downloaded_at", |c| c.ty.name.starts_with("timestamp"));
    let owner = find("owner", |c| !c.ty.array);
    let (Some(key), Some(size), Some(media_type), Some(checksum)) = (key, size, media_type, checksum) else {
        let mut m = missing;
        m.push("columns for the storage key (storage_path, ...), the size (size_bytes, ...), the media type (mime_type, ...) and the SHA-256 (checksum, ...)".into());
        return Err(m);
    };
    if !missing.is_empty() {
        return Err(missing);
    }
    Ok(FileColumns {
        key,
        size,
        media_type,
        checksum,
        name,
        stored_name,
        provider,
        bucket,
        scanned_at,
        safe,
        scan_result,
        downloads,
        downloaded_at,
        owner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_files_table_by_name_and_a_table_named_by_the_config() {
        let c = nest_ddl::parse_str(
            "t.sql",
            "CREATE TABLE files (id uuid PRIMARY KEY, storage_provider varchar(50) NOT NULL, storage_path varchar(500) NOT NULL,
               storage_bucket varchar(200), original_name varchar(255) NOT NULL, filename varchar(255) NOT NULL UNIQUE,
               mime_type varchar(100) NOT NULL, size_bytes bigint NOT NULL, checksum varchar(64) NOT NULL,
               is_safe boolean DEFAULT true, scanned_at timestamp, scan_result jsonb, downloaded_count integer DEFAULT 0,
               last_downloaded_at timestamp);
             CREATE TABLE blobs (id uuid PRIMARY KEY, loc text NOT NULL, n bigint NOT NULL, kind text NOT NULL, digest text NOT NULL);",
        );
        let f = file_columns(c.find_table("files").unwrap(), &Overrides::default()).unwrap();
        assert_eq!(
            (f.key.as_str(), f.size.as_str(), f.media_type.as_str(), f.checksum.as_str()),
            ("storage_path", "size_bytes", "mime_type", "checksum")
        );
        assert_eq!(f.name.as_deref(), Some("original_name"));
        assert_eq!(f.stored_name.as_deref(), Some("filename"));
        assert_eq!(f.downloads.as_deref(), Some("downloaded_count"));
        assert_eq!(f.role_of("storage_path"), Some(Role::Key));
        assert!(Role::Key.hidden() && !Role::Checksum.hidden());
        let blobs = c.find_table("blobs").unwrap();
        let e = file_columns(blobs, &Overrides::default()).unwrap_err();
        assert!(e[0].contains("storage key"), "{e:?}");
        let o = Overrides(
            [("key", "loc"), ("size", "n"), ("type", "kind"), ("checksum", "digest")]
                .into_iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        );
        assert_eq!(file_columns(blobs, &o).unwrap().key, "loc");
    }
}
