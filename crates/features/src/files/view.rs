//! What the file templates see: quoted identifiers as TypeScript string literals.

use super::{FileTable, FilesState, FolderTree};
use nest_catalog::quote as sql;
use nest_model::{Model, Resource};
use nest_nestjs::quote as ts;
use serde::Serialize;

/// A column's name (unquoted) as a TS literal: the runtime quotes it with `ident`.
fn col(c: &str) -> String {
    ts::string(c)
}

#[derive(Serialize)]
pub struct TableView {
    /// `public.files`, for prose.
    pub name: String,
    pub key_ts: String,
    pub table_ts: String,
    pub id_ts: String,
    /// (role, quoted column as a TS literal), for the roles the table has.
    pub columns: Vec<(String, String)>,
    /// The versions table: (role, TS literal) pairs, the table first.
    pub versions: Option<Vec<(String, String)>>,
}

/// Identifiers of a folder tree, quoted for SQL.
#[derive(Serialize)]
pub struct FolderView {
    pub table: String,
    /// A name for its trigger functions (`nestgen.folders_<n>_...`).
    pub tag: String,
    pub id: String,
    pub id_type: String,
    pub parent: String,
    pub name: String,
    pub path: String,
    pub level: Option<String>,
    pub deleted_at: Option<String>,
    /// (table, folder column, deleted_at column), quoted.
    pub files: Vec<(String, String, Option<String>)>,
}

fn folder_view(i: usize, t: &FolderTree) -> FolderView {
    let q = |c: &str| sql::ident_always(c);
    FolderView {
        table: sql::qualified_always(&t.table.schema, &t.table.name),
        tag: format!(
            "{}{i}",
            t.table.name.chars().filter(|c| c.is_ascii_alphanumeric()).take(40).collect::<String>().to_lowercase()
        ),
        id: q(&t.id),
        id_type: t.id_type.clone(),
        parent: q(&t.parent),
        name: q(&t.name),
        path: q(&t.path),
        level: t.level.as_deref().map(q),
        deleted_at: t.deleted_at.as_deref().map(q),
        files: t
            .files
            .iter()
            .map(|(ft, c, d)| (sql::qualified_always(&ft.schema, &ft.name), q(c), d.as_deref().map(q)))
            .collect(),
    }
}

#[derive(Serialize)]
pub struct View {
    pub tables: Vec<TableView>,
    pub folders: Vec<FolderView>,
    pub max_bytes: u64,
    pub allowed_types: String,
    pub route: String,
}

fn table_view(t: &FileTable, r: &Resource) -> TableView {
    let c = &t.columns;
    let mut columns = vec![
        ("key", Some(&c.key)),
        ("size", Some(&c.size)),
        ("type", Some(&c.media_type)),
        ("checksum", Some(&c.checksum)),
        ("name", c.name.as_ref()),
        ("storedName", c.stored_name.as_ref()),
        ("provider", c.provider.as_ref()),
        ("bucket", c.bucket.as_ref()),
        ("scannedAt", c.scanned_at.as_ref()),
        ("safe", c.safe.as_ref()),
        ("scanResult", c.scan_result.as_ref()),
        ("downloads", c.downloads.as_ref()),
        ("downloadedAt", c.downloaded_at.as_ref()),
        ("owner", c.owner.as_ref()),
    ];
    columns.retain(|(_, x)| x.is_some());
    let id = r.fields.iter().find(|f| f.is_key).map(|f| f.column.clone()).unwrap_or_else(|| "id".into());
    TableView {
        name: r.qualified(),
        key_ts: ts::string(&r.names.file),
        table_ts: ts::string(&sql::qualified_always(&t.table.schema, &t.table.name)),
        id_ts: col(&id),
        columns: columns.into_iter().map(|(role, c)| (role.to_string(), col(c.unwrap()))).collect(),
        versions: t.versions.as_ref().map(|v| {
            let mut out = vec![
                ("table".to_string(), ts::string(&sql::qualified_always(&v.table.schema, &v.table.name))),
                ("file".to_string(), col(&v.file)),
                ("number".to_string(), col(&v.number)),
                ("key".to_string(), col(&v.key)),
                ("size".to_string(), col(&v.size)),
                ("checksum".to_string(), col(&v.checksum)),
            ];
            if let Some(c) = &v.created_by {
                out.push(("createdBy".to_string(), col(c)));
            }
            out
        }),
    }
}

impl View {
    pub fn new(m: &Model, s: &FilesState) -> View {
        let tables: Vec<TableView> =
            s.tables.iter().filter_map(|t| m.resource_of(&t.table).map(|r| table_view(t, r))).collect();
        View {
            route: s
                .tables
                .first()
                .and_then(|t| m.resource_of(&t.table))
                .map(|r| r.names.route.clone())
                .unwrap_or_default(),
            tables,
            folders: s.folders.iter().enumerate().map(|(i, t)| folder_view(i, t)).collect(),
            max_bytes: s.max_bytes,
            allowed_types: s.allowed_types.join(","),
        }
    }
}

/// A file table's controller.
#[derive(Serialize)]
pub struct ControllerView {
    pub key_ts: String,
    pub route: String,
    pub human: String,
    pub response_dto: String,
    /// The update DTO validates the form fields sent with the file (none without one).
    pub fields_dto: Option<String>,
    /// Earlier versions are kept: replace, list, download and restore routes.
    pub versions: bool,
}

impl ControllerView {
    pub fn new(t: &FileTable, r: &Resource) -> ControllerView {
        let n = &r.names;
        ControllerView {
            key_ts: ts::string(&n.file),
            route: n.route.clone(),
            human: n.human.clone(),
            response_dto: format!("{}ResponseDto", n.class),
            fields_dto: r.operations.update.then(|| format!("Update{}Dto", n.class)),
            versions: t.versions.is_some(),
        }
    }
}
