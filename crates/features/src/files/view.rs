//! What the file templates see: quoted identifiers as TypeScript string literals.

use super::{FileTable, FilesState, FolderTree, ShareTable};
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
    /// The share table: (role, TS literal) pairs, the table first.
    pub shares: Option<Vec<(String, String)>>,
}

/// A file table and its versions table, whose rows deleted for good give their bytes back.
#[derive(Serialize)]
pub struct StoreSqlView {
    pub table: String,
    pub key: String,
    pub tag: String,
    /// (versions table, its key column), quoted.
    pub versions: Option<(String, String)>,
    /// The key columns' names as SQL string literals (trigger arguments).
    pub key_literal: String,
    pub versions_key_literal: Option<String>,
    /// The file name column (quoted, and as a literal for the trigger), checked on every write.
    pub name: Option<String>,
    pub name_literal: Option<String>,
}

/// A table of versions or shares, seen with its file (row-level security through the reference).
#[derive(Serialize)]
pub struct ChildView {
    pub table: String,
    pub column: String,
    pub parent: String,
    pub parent_id: String,
}

/// A share table's links, as db/09-files.sql keeps them (identifiers quoted for SQL).
#[derive(Serialize)]
pub struct ShareSqlView {
    pub table: String,
    /// `nestgen.<tag>_links`, `nestgen.<tag>_link(...)`, `nestgen.<tag>_open(...)`.
    pub tag: String,
    pub id: String,
    pub id_type: String,
    pub file: String,
    pub token: String,
    pub expires: Option<String>,
    pub max: Option<String>,
    pub count: Option<String>,
    pub accessed: Option<String>,
    pub can_download: Option<String>,
    pub deleted_at: Option<String>,
    pub files: String,
    pub files_id: String,
    pub files_key: String,
    pub files_size: String,
    pub files_type: String,
    pub files_checksum: String,
    pub files_name: Option<String>,
    pub files_deleted_at: Option<String>,
    /// The settings row-level security reads, recorded when a share is made and restored when
    /// its link is used (SQL string literals).
    pub settings: Vec<String>,
    /// What the link function reads of a share (`s` is the share row): expiry, limit, downloads
    /// so far and whether it allows downloading, as SQL expressions.
    pub sel_expires: String,
    pub sel_max: String,
    pub sel_used: String,
    pub sel_download: String,
    /// The tenancy setting (an SQL literal) whose recorded value names the link's organization.
    pub tenant_setting: Option<String>,
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
    pub stores: Vec<StoreSqlView>,
    pub children: Vec<ChildView>,
    pub shares: Vec<ShareSqlView>,
    /// Resource modules whose specs the children's scopes read: (file key, constant, module path).
    pub parents: Vec<(String, String, String)>,
    /// A share route for the README (`file-shares`).
    pub share_route: Option<String>,
    /// Sign-in and tenancy are generated: a share link checks its maker against them.
    pub auth: bool,
    pub tenancy: bool,
}

fn table_view(m: &Model, t: &FileTable, r: &Resource) -> TableView {
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
    // The tenant column, where tenancy scopes the table (FILES_TENANT_QUOTA_BYTES counts by it).
    let tenant = m.state::<crate::tenancy::TenancyModel>().and_then(|x| x.column_of(&t.table)).map(str::to_string);
    columns.push(("tenant", tenant.as_ref()));
    columns.retain(|(_, x)| x.is_some());
    let id = r.fields.iter().find(|f| f.is_key).map(|f| f.column.clone()).unwrap_or_else(|| "id".into());
    TableView {
        name: r.qualified(),
        key_ts: ts::key(&r.names.file),
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
        shares: t.shares.as_ref().map(|s| {
            let mut out = vec![
                ("table".to_string(), ts::string(&sql::qualified_always(&s.table.schema, &s.table.name))),
                ("id".to_string(), col(&s.id)),
                ("file".to_string(), col(&s.file)),
                ("token".to_string(), col(&s.token)),
                ("links".to_string(), ts::string(&format!("nestgen.{}", share_tag(s)))),
            ];
            let optional = [
                ("expires", &s.expires),
                ("max", &s.max),
                ("canDownload", &s.can_download),
                ("sharedBy", &s.shared_by),
                ("email", &s.email),
            ];
            out.extend(optional.iter().filter_map(|(k, c)| c.as_ref().map(|c| (k.to_string(), col(c)))));
            out
        }),
    }
}

/// `<schema>_<table>`, cleaned: the stem of the names db/09-files.sql gives a table's functions,
/// triggers and links table in the nestgen schema.
fn table_tag(t: &nest_catalog::QualifiedName) -> String {
    let clean = |x: &str| x.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(24).collect::<String>();
    format!("{}_{}", clean(&t.schema), clean(&t.name)).to_lowercase()
}

/// The name of a share table's links table and functions in the nestgen schema.
pub fn share_tag(s: &ShareTable) -> String {
    table_tag(&s.table)
}

fn share_sql(m: &Model, t: &FileTable, s: &ShareTable) -> ShareSqlView {
    let q = |c: &str| sql::ident_always(c);
    let oq = |c: &Option<String>| c.as_deref().map(q);
    let files_r = m.resource_of(&t.table);
    let files_id = files_r
        .and_then(|r| r.fields.iter().find(|f| f.is_key))
        .map(|f| f.column.clone())
        .unwrap_or_else(|| "id".into());
    let mut settings = vec![sql::string("nestgen.user_id"), sql::string("nestgen.owner_bypass")];
    if let Some(x) = m.state::<crate::tenancy::TenancyModel>() {
        settings.push(sql::string(&x.setting));
    }
    ShareSqlView {
        table: sql::qualified_always(&s.table.schema, &s.table.name),
        tag: share_tag(s),
        id: q(&s.id),
        id_type: s.id_type.clone(),
        file: q(&s.file),
        token: q(&s.token),
        expires: oq(&s.expires),
        max: oq(&s.max),
        count: oq(&s.count),
        accessed: oq(&s.accessed),
        can_download: oq(&s.can_download),
        deleted_at: oq(&s.deleted_at),
        files: sql::qualified_always(&t.table.schema, &t.table.name),
        files_id: q(&files_id),
        files_key: q(&t.columns.key),
        files_size: q(&t.columns.size),
        files_type: q(&t.columns.media_type),
        files_checksum: q(&t.columns.checksum),
        files_name: oq(&t.columns.name),
        files_deleted_at: files_r.and_then(|r| r.soft_delete.map(|i| q(&r.fields[i].column))),
        settings,
        sel_expires: s.expires.as_deref().map_or("NULL::timestamptz".into(), |c| format!("s.{}::timestamptz", q(c))),
        sel_max: s.max.as_deref().map_or("NULL::bigint".into(), |c| format!("s.{}::bigint", q(c))),
        sel_used: s.count.as_deref().map_or("0::bigint".into(), |c| format!("coalesce(s.{}, 0)::bigint", q(c))),
        sel_download: s.can_download.as_deref().map_or("true".into(), |c| format!("coalesce(s.{}, true)", q(c))),
        tenant_setting: m.state::<crate::tenancy::TenancyModel>().map(|x| sql::string(&x.setting)),
    }
}

impl View {
    pub fn new(m: &Model, s: &FilesState) -> View {
        let tables: Vec<TableView> =
            s.tables.iter().filter_map(|t| m.resource_of(&t.table).map(|r| table_view(m, t, r))).collect();
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
            stores: s
                .tables
                .iter()
                .filter(|t| m.resource_of(&t.table).is_some())
                .map(|t| StoreSqlView {
                    table: sql::qualified_always(&t.table.schema, &t.table.name),
                    key: sql::ident_always(&t.columns.key),
                    tag: table_tag(&t.table),
                    versions: t
                        .versions
                        .as_ref()
                        .filter(|v| m.resource_of(&v.table).is_some())
                        .map(|v| (sql::qualified_always(&v.table.schema, &v.table.name), sql::ident_always(&v.key))),
                    key_literal: sql::string(&t.columns.key),
                    versions_key_literal: t.versions.as_ref().map(|v| sql::string(&v.key)),
                    name: t.columns.name.as_deref().map(sql::ident_always),
                    name_literal: t.columns.name.as_deref().map(sql::string),
                })
                .collect(),
            children: children(m, s),
            shares: s
                .tables
                .iter()
                .filter_map(|t| {
                    t.shares.as_ref().filter(|sh| m.resource_of(&sh.table).is_some()).map(|sh| share_sql(m, t, sh))
                })
                .collect(),
            parents: s
                .tables
                .iter()
                .filter(|t| {
                    t.versions.as_ref().is_some_and(|v| m.resource_of(&v.table).is_some())
                        || t.shares.as_ref().is_some_and(|v| m.resource_of(&v.table).is_some())
                })
                .filter_map(|t| m.resource_of(&t.table))
                .map(|r| {
                    let n = &r.names;
                    (
                        ts::string(&n.file),
                        n.constant.clone(),
                        format!("../../modules/{}/{}.resource.js", n.file, n.file),
                    )
                })
                .collect(),
            share_route: s
                .tables
                .iter()
                .find_map(|t| t.shares.as_ref().and_then(|sh| m.resource_of(&sh.table)))
                .map(|r| r.names.route.clone()),
            auth: m.state::<crate::auth::AuthModel>().is_some(),
            tenancy: m.state::<crate::tenancy::TenancyModel>().is_some(),
        }
    }
}

/// Versions and shares tables in the project, each with its file table.
fn children(m: &Model, s: &FilesState) -> Vec<ChildView> {
    let mut out = Vec::new();
    for t in &s.tables {
        let Some(files) = m.resource_of(&t.table) else { continue };
        let parent_id = files.fields.iter().find(|f| f.is_key).map(|f| f.column.clone()).unwrap_or_else(|| "id".into());
        let kids = [t.versions.as_ref().map(|v| (&v.table, &v.file)), t.shares.as_ref().map(|x| (&x.table, &x.file))];
        for (table, column) in kids.into_iter().flatten() {
            if m.resource_of(table).is_none() {
                continue;
            }
            out.push(ChildView {
                table: sql::qualified_always(&table.schema, &table.name),
                column: sql::ident_always(column),
                parent: sql::qualified_always(&t.table.schema, &t.table.name),
                parent_id: sql::ident_always(&parent_id),
            });
        }
    }
    out
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
    /// Share links are made here: the public path of a link, without the token
    /// (`/file-shares/public/`).
    pub share_path: Option<String>,
}

impl ControllerView {
    pub fn new(m: &Model, t: &FileTable, r: &Resource) -> ControllerView {
        let n = &r.names;
        ControllerView {
            key_ts: ts::string(&n.file),
            route: n.route.clone(),
            human: n.human.clone(),
            response_dto: format!("{}ResponseDto", n.class),
            fields_dto: r.operations.update.then(|| format!("Update{}Dto", n.class)),
            versions: t.versions.is_some(),
            share_path: t.shares.as_ref().and_then(|sh| m.resource_of(&sh.table)).map(|s| {
                ts::string(&format!("/{}{}/public/", if s.versioned.value { "v1/" } else { "" }, s.names.route))
            }),
        }
    }
}

/// A share table's public link routes.
#[derive(Serialize)]
pub struct SharesView {
    pub class: String,
    pub route: String,
    pub versioned: bool,
    pub swagger: bool,
    pub files_key_ts: String,
}

impl SharesView {
    pub fn new(files: &Resource, r: &Resource, _sh: &ShareTable) -> SharesView {
        SharesView {
            class: format!("{}LinksController", r.names.plural_class),
            route: r.names.route.clone(),
            versioned: r.versioned.value,
            swagger: r.swagger.value,
            files_key_ts: ts::string(&files.names.file),
        }
    }
}
