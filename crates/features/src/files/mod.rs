//! File management (seed scenario 6), first part: a table of file metadata becomes a file store.
//! Bytes are uploaded as a stream (`multipart/form-data`, one file per request): hashed with
//! SHA-256 and sniffed for their real type while they are written to storage, limited in size,
//! checked by a scanner before the row exists, and downloaded with `Range` and `ETag`. The row
//! and the stored object stay consistent: the row is inserted in the upload's transaction and the
//! object removed when it fails. Storage: local disk behind a driver interface.
//!
//! Switched on by `--features.file-upload`, `enable_file_upload`, or the config; the table needs
//! a storage key, size, media type and checksum column (found by name, or named in
//! `[tables.<t>] files = { key = "...", ... }`). Those columns and the scan and download
//! bookkeeping become the server's: clients never write them, and the storage location is never
//! returned.
//!
//! State: [`FilesState`].

mod detect;
mod shares;
mod view;

use nest_catalog::QualifiedName;
use nest_model::settings::{ConfigKey, KeyScope};
use nest_model::{
    Access, DataClass, FeatureDef, FeatureError, Grant, MetaSwitch, Model, ModelCx, ModelError, Permission, Resolve,
    Resource, ResourceKind, Setting, Source,
};
use nest_nestjs::{
    AppModule, Assets, Contribute, Contributions, DbFile, Decorator, ExtraController, FeatureFile, Import, Ownership,
    Package, RenderError, Rendered, ResourceContributions, Route, SpecExtension,
};
use serde::Serialize;

pub use detect::FileColumns;
pub use shares::ShareTable;

pub struct Files;

pub static DEF: FeatureDef = FeatureDef {
    id: "file-upload",
    about: "file storage: streaming uploads, checked and scanned, downloads with ranges",
    meta: MetaSwitch::EnterpriseFeatures("enable_file_upload"),
    implemented: true,
};

fn max_bytes(v: &toml::Value) -> Result<(), String> {
    v.as_integer().filter(|n| (1..=1i64 << 42).contains(n)).map(|_| ()).ok_or_else(|| "write a number of bytes".into())
}

fn types(v: &toml::Value) -> Result<(), String> {
    v.as_array()
        .filter(|a| a.iter().all(|x| x.as_str().is_some_and(|s| s.contains('/'))))
        .map(|_| ())
        .ok_or_else(|| "write a list of media types, e.g. [\"image/*\", \"application/pdf\"]".into())
}

fn roles(v: &toml::Value) -> Result<(), String> {
    let t = v.as_table().ok_or("write an inline table, e.g. { key = \"object_key\", size = \"bytes\" }")?;
    for (k, x) in t {
        if !detect::ROLES.contains(&k.as_str()) {
            return Err(format!("unknown role `{k}` (roles: {})", detect::ROLES.join(", ")));
        }
        if x.as_str().is_none() {
            return Err(format!("{k}: write a column name in quotes"));
        }
    }
    Ok(())
}

static KEYS: &[ConfigKey] = &[
    // `[files] max_bytes = 104857600`: the largest upload (413 beyond).
    ConfigKey { scope: KeyScope::Section("files"), name: "max_bytes", check: max_bytes },
    // `[files] allowed_types = ["image/*", "application/pdf"]`: media types accepted, as sniffed
    // from the bytes (default: any).
    ConfigKey { scope: KeyScope::Section("files"), name: "allowed_types", check: types },
    // `[tables.<t>] files = { key = "...", size = "...", type = "...", checksum = "...", name = "..." }`.
    ConfigKey { scope: KeyScope::Table, name: "files", check: roles },
];

/// The file tables of a project.
#[derive(Debug, Clone, Serialize)]
pub struct FilesState {
    pub tables: Vec<FileTable>,
    /// Folder trees the file tables point into (a self-referencing table with a name and a
    /// materialized path), kept by db/09-files.sql.
    pub folders: Vec<FolderTree>,
    pub max_bytes: u64,
    pub allowed_types: Vec<String>,
}

/// A folder table whose paths, levels and soft deletes the database keeps.
#[derive(Debug, Clone, Serialize)]
pub struct FolderTree {
    pub table: nest_catalog::QualifiedName,
    pub id: String,
    /// The key's type, without modifiers (`uuid`, `bigint`, ...).
    pub id_type: String,
    pub parent: String,
    pub name: String,
    pub path: String,
    pub level: Option<String>,
    pub deleted_at: Option<String>,
    /// (file table, its folder column, its deleted_at column).
    pub files: Vec<(nest_catalog::QualifiedName, String, Option<String>)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileTable {
    pub table: nest_catalog::QualifiedName,
    pub columns: FileColumns,
    /// Earlier contents of its files (a table referencing it with a version number, a storage
    /// key, a size and a checksum): uploading onto a file keeps the old bytes there.
    pub versions: Option<VersionTable>,
    /// Share links to its files (a table referencing it with a token column).
    pub shares: Option<ShareTable>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionTable {
    pub table: nest_catalog::QualifiedName,
    pub file: String,
    pub number: String,
    pub key: String,
    pub size: String,
    pub checksum: String,
    pub created_by: Option<String>,
}

/// The table keeping earlier versions of `file`'s rows, if the schema has one.
fn version_table(catalog: &nest_catalog::Catalog, file: &nest_catalog::QualifiedName) -> Option<VersionTable> {
    catalog.tables.iter().find_map(|t| {
        if t.schema == file.schema && t.name == file.name {
            return None;
        }
        let fk = t.foreign_keys.iter().find(|fk| fk.columns.len() == 1 && &fk.references == file)?;
        let col = |names: &[&str], ok: fn(&nest_catalog::Column) -> bool| {
            names.iter().filter_map(|n| t.column(n)).find(|c| ok(c) && !c.ty.array).map(|c| c.name.clone())
        };
        let int =
            |c: &nest_catalog::Column| matches!(c.ty.name.as_str(), "integer" | "bigint" | "smallint" | "numeric");
        Some(VersionTable {
            table: QualifiedName::new(&t.schema, &t.name),
            file: fk.columns[0].clone(),
            number: col(&["version_number", "version", "revision"], int)?,
            key: col(&["storage_key", "storage_path", "object_key", "path", "key"], detect::is_text_column)?,
            size: col(&["size_bytes", "byte_size", "file_size", "size", "bytes"], int)?,
            checksum: col(&["checksum", "sha256", "content_hash", "hash"], detect::is_text_column)?,
            created_by: col(&["created_by", "uploaded_by", "user_id"], |_| true),
        })
    })
}

impl FilesState {
    pub fn of(&self, r: &Resource) -> Option<&FileTable> {
        self.tables.iter().find(|t| r.is(&t.table))
    }

    /// The file table whose versions or shares `r` holds, and the column referencing it.
    pub fn parent_of(&self, r: &Resource) -> Option<(&FileTable, &str)> {
        self.tables.iter().find_map(|t| {
            let v = t.versions.as_ref().filter(|v| r.is(&v.table)).map(|v| v.file.as_str());
            v.or_else(|| t.shares.as_ref().filter(|s| r.is(&s.table)).map(|s| s.file.as_str())).map(|c| (t, c))
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{table}: file storage asked ({asked_by}) but the table lacks {}", missing.join("; "))]
struct NotAFileTable {
    table: String,
    asked_by: String,
    missing: Vec<String>,
}

impl FeatureError for NotAFileTable {
    fn help(&self) -> String {
        "name the columns in nest-generator.toml: [tables.<table>] files = { key = \"...\", size = \"...\", type = \"...\", checksum = \"...\" }, or turn it off with --features.file-upload=false".into()
    }
}

fn resolve(cx: &mut ModelCx) -> Option<FilesState> {
    let catalog = cx.catalog;
    let config = cx.config;
    let mut tables = Vec::new();
    for r in cx.resources.iter_mut().filter(|r| r.kind == ResourceKind::Table) {
        let Some(asked) = r.features.get(DEF.id).cloned() else { continue };
        if !asked.value {
            continue;
        }
        let Some(t) = catalog.table(&r.schema, &r.table) else { continue };
        let o = detect::Overrides::from_toml(config.table(&r.schema, &r.table).and_then(|c| c.extra.get("files")));
        let columns = match detect::file_columns(t, &o) {
            Ok(c) => c,
            Err(missing) => {
                let e = NotAFileTable { table: r.table.clone(), asked_by: asked.source.to_string(), missing };
                cx.errors.push(ModelError::feature(DEF.id, Some(t), e));
                continue;
            }
        };
        for f in r.fields.iter_mut() {
            let Some(role) = columns.role_of(&f.column) else { continue };
            f.access = if role.hidden() { Access::None } else { Access::ReadOnly };
            f.required_on_create = false;
            f.ops.retain(|_| !role.hidden());
            f.why = Some(format!("the file's {} (set by the server from the uploaded bytes)", role.label()));
        }
        // Files are their owner's unless the project says otherwise (own-rows finds the owner
        // column; tenancy scopes them too where it applies).
        own_rows_by_default(r, "a file store: each file is its owner's");
        // Rows come from uploads only: the bytes are what make a row.
        r.operations.create = false;
        r.operations.bulk_create = false;
        r.note(
            DEF.id,
            format!(
                "{}: a file store: POST /{}/upload (multipart), GET /{}/:id/content; {} are set by the server",
                r.table,
                r.names.route,
                r.names.route,
                columns.server_columns().join(", ")
            ),
        );
        let versions = version_table(catalog, &r.qname());
        let shares = shares::share_table(catalog, &r.qname());
        tables.push(FileTable { table: r.qname(), columns, versions, shares });
    }
    // Versions are made by the server from uploads: their bytes' location is never shown, their
    // rows never written through their own routes.
    for (file, of, v) in tables.iter().filter_map(|t| t.versions.as_ref().map(|v| (&t.table, t.table.name.clone(), v)))
    {
        if let Some(r) = cx.resources.iter_mut().find(|r| r.is(&v.table)) {
            // Seen with their file: a read follows the file's rows.
            r.reads_from.insert(file.clone());
            for f in r.fields.iter_mut() {
                if f.column == v.key {
                    f.access = Access::None;
                    f.ops.clear();
                } else if f.readable() {
                    f.access = Access::ReadOnly;
                }
                f.required_on_create = false;
            }
            r.operations.create = false;
            r.operations.bulk_create = false;
            r.operations.update = false;
            r.operations.delete = false;
            r.operations.restore = false;
            r.classify(DataClass::Owned);
            r.note(
                DEF.id,
                format!(
                    "{}: earlier versions of {of}, made by uploads onto a file (read-only here); visible with their file",
                    r.table
                ),
            );
        }
    }
    for (t, sh) in tables.iter().filter_map(|t| t.shares.as_ref().map(|s| (t, s))) {
        let of = cx.resources.iter().find(|r| r.is(&t.table)).map(|r| r.names.route.clone()).unwrap_or_default();
        let Some(r) = cx.resources.iter_mut().find(|r| r.is(&sh.table)) else { continue };
        r.reads_from.insert(t.table.clone());
        shares_resource(r, sh, &of);
        cx.permissions.push(Permission {
            slug: format!("{}:create", r.names.permission),
            grant: Grant::Like { table: sh.table.clone(), action: "create".into() },
        });
    }
    // An upload is a create: held by the roles that create the table's kind of data.
    for t in &tables {
        if let Some(r) = cx.resources.iter().find(|r| r.is(&t.table)) {
            cx.permissions.push(Permission {
                slug: format!("{}:create", r.names.permission),
                grant: Grant::Like { table: t.table.clone(), action: "create".into() },
            });
        }
    }
    if tables.is_empty() {
        return None;
    }
    let folders = folder_trees(cx, &tables);
    let max_bytes = config.section_value("files", "max_bytes").and_then(|v| v.as_integer()).map(|n| n as u64);
    let allowed_types = config
        .section_value("files", "allowed_types")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    Some(FilesState { tables, folders, max_bytes: max_bytes.unwrap_or(100 << 20), allowed_types })
}

/// A share table's columns become the server's: the token (never shown: only its SHA-256 is
/// kept), the file (fixed at creation), who shared, the download count. Shares are made by
/// `POST /<files>/:id/shares` and seen with their file.
fn shares_resource(r: &mut Resource, sh: &ShareTable, of: &str) {
    for f in r.fields.iter_mut() {
        let c = f.column.as_str();
        if c == sh.token {
            f.access = Access::None;
            f.ops.clear();
            f.why = Some("the share link's token, kept as its SHA-256 and never shown".into());
        } else if c == sh.file || Some(c) == sh.shared_by.as_deref() {
            f.access = Access::ReadOnly;
            f.why = Some("set when the share is made".into());
        } else if Some(c) == sh.count.as_deref() || Some(c) == sh.accessed.as_deref() {
            f.access = Access::ReadOnly;
            f.why = Some("counted by the server on each download".into());
        } else if f.writable() {
            f.access = Access::ReadOnly;
            f.why = Some("set when the share is made".into());
        }
        f.required_on_create = false;
    }
    // A link's terms are fixed when it is made (checked then): revoke it and share again.
    r.operations.create = false;
    r.operations.bulk_create = false;
    r.operations.update = false;
    r.operations.restore = r.operations.restore && r.soft_delete.is_some();
    r.classify(DataClass::Owned);
    r.note(
        DEF.id,
        format!(
            "{}: share links to the files of /{of}: made by POST /{of}/:id/shares (the token is shown once), served by token at GET /{}/public/:token; deleting one revokes it; visible with their file",
            r.table, r.names.route
        ),
    );
}

/// Rows of a file store are their owner's unless the project says otherwise (own-rows resolves
/// after this feature, finds the owner column and scopes them).
fn own_rows_by_default(r: &mut Resource, why: &str) {
    r.features
        .entry(crate::own_rows::DEF.id.to_string())
        .or_insert_with(|| Setting::new(true, Source::Inferred(why.into())));
}

/// The folder tables file tables point into: a foreign key to a table that references itself and
/// has a name and a text path column. Their path and level become the database's to keep.
fn folder_trees(cx: &mut ModelCx, tables: &[FileTable]) -> Vec<FolderTree> {
    let catalog = cx.catalog;
    let mut trees: Vec<FolderTree> = Vec::new();
    for ft in tables {
        let Some(t) = catalog.table(&ft.table.schema, &ft.table.name) else { continue };
        for fk in t.foreign_keys.iter().filter(|fk| fk.columns.len() == 1) {
            let Some(f) = catalog.table(&fk.references.schema, &fk.references.name) else { continue };
            let Some(id) = f.primary_key.as_ref().filter(|k| k.columns.len() == 1).map(|k| k.columns[0].clone()) else {
                continue;
            };
            let Some(parent) = f
                .foreign_keys
                .iter()
                .find(|x| x.columns.len() == 1 && x.references == fk.references && x.referenced_columns == [id.clone()])
                .map(|x| x.columns[0].clone())
            else {
                continue;
            };
            let text = |n: &str| f.column(n).is_some_and(detect::is_text_column);
            let Some(name) = ["name", "title"].into_iter().find(|n| text(n)) else { continue };
            let Some(path) = ["path", "full_path", "materialized_path"].into_iter().find(|n| text(n)) else { continue };
            let level = ["level", "depth"].into_iter().find(|n| {
                f.column(n).is_some_and(|c| c.ty.name == "integer" || c.ty.name == "smallint" || c.ty.name == "bigint")
            });
            let soft = |q: &nest_catalog::QualifiedName| {
                cx.resources.iter().find(|r| r.is(q)).and_then(|r| r.soft_delete.map(|i| r.fields[i].column.clone()))
            };
            let file = (ft.table.clone(), fk.columns[0].clone(), soft(&ft.table));
            if let Some(tree) = trees.iter_mut().find(|x| x.table == fk.references) {
                tree.files.push(file);
                continue;
            }
            let deleted_at = soft(&fk.references);
            let id_type = f.column(&id).map(|c| c.ty.name.clone()).unwrap_or_else(|| "text".into());
            trees.push(FolderTree {
                table: fk.references.clone(),
                id,
                id_type,
                parent,
                name: name.into(),
                path: path.into(),
                level: level.map(str::to_string),
                deleted_at,
                files: vec![file],
            });
        }
    }
    for tree in &trees {
        if let Some(r) = cx.resources.iter_mut().find(|r| r.is(&tree.table)) {
            own_rows_by_default(r, "the folders of a file store: each is its owner's");
            for f in r
                .fields
                .iter_mut()
                .filter(|f| f.column == tree.path || tree.level.as_deref() == Some(f.column.as_str()))
            {
                f.access = Access::ReadOnly;
                f.required_on_create = false;
                f.why = Some("kept by the database from the parent folder (db/09-files.sql)".into());
            }
            r.note(
                DEF.id,
                format!(
                    "{}: a folder tree: {} and {} kept by the database; moving or renaming a folder updates every folder below it in the same statement; a folder cannot move into itself; deleting one deletes what it holds{}",
                    r.table,
                    tree.path,
                    tree.level.as_deref().unwrap_or("its depth"),
                    if tree.deleted_at.is_some() { " (and restoring it restores them)" } else { "" }
                ),
            );
        }
    }
    trees
}

impl Resolve for Files {
    fn def(&self) -> &'static FeatureDef {
        &DEF
    }

    fn config_keys(&self) -> &'static [ConfigKey] {
        KEYS
    }

    fn resolve(&self, cx: &mut ModelCx) {
        if let Some(s) = resolve(cx) {
            cx.states.insert(DEF.id, s);
        }
    }

    fn explain(&self, m: &Model, r: &Resource) -> Vec<String> {
        let Some(s) = m.state::<FilesState>() else { return Vec::new() };
        let Some(t) = s.of(r) else { return Vec::new() };
        vec![format!("file store: {}", t.columns.describe())]
    }
}

const TEMPLATES: &[(&str, &str)] = nest_nestjs::templates![
    "templates", "files";
    "files.tables.ts.j2",
    "files.controller.ts.j2",
    "files.sql.j2",
    "folders.sql.j2",
    "shares.controller.ts.j2",
    "file-scopes.ts.j2",
    "share-access.ts.j2",
    "app-role.sql.j2",
    "env.j2",
    "readme.md.j2",
];

const RUNTIME: &[(&str, &str)] = nest_nestjs::runtime_files![
    "runtime";
    "src/core/files/body.ts",
    "src/core/files/child.ts",
    "src/core/files/files.module.ts",
    "src/core/files/files.settings.ts",
    "src/core/files/names.ts",
    "src/core/files/s3.ts",
    "src/core/files/scan.ts",
    "src/core/files/shares.ts",
    "src/core/files/sniff.ts",
    "src/core/files/storage.ts",
    "src/core/files/types.ts",
    "src/core/files/upload.ts",
    "src/core/files/uploads.dto.ts",
];

const PACKAGES: &[Package] = &[
    Package { name: "@fastify/busboy", version: "3.2.0", dev: false },
    Package { name: "@aws-sdk/client-s3", version: "3.1175.0", dev: false },
    Package { name: "@aws-sdk/lib-storage", version: "3.1175.0", dev: false },
    Package { name: "@aws-sdk/s3-request-presigner", version: "3.1169.0", dev: false },
];

impl Contribute for Files {
    fn assets(&self) -> Assets {
        Assets { templates: TEMPLATES, runtime: RUNTIME, packages: PACKAGES }
    }

    fn contribute(&self, m: &Model, out: &mut Contributions) -> Result<(), RenderError> {
        let Some(s) = m.state::<FilesState>() else { return Ok(()) };
        let v = view::View::new(m, s);
        out.runtime.extend(RUNTIME);
        out.files.push(FeatureFile {
            path: "src/core/files/files.tables.ts".into(),
            body: Rendered::new("files/files.tables.ts.j2", &v)?,
            ownership: Ownership::Generated,
        });
        if !v.stores.is_empty() {
            out.db.push(DbFile {
                name: "09-files.sql".into(),
                body: Rendered::new("files/files.sql.j2", &v)?,
                doc: "files: the object ledger (bytes no row keeps are removed); folder paths kept by the database; versions and share links seen with their file; share links opened by token.".into(),
            });
        }
        if !v.shares.is_empty() {
            out.app_role.push(Rendered::new("files/app-role.sql.j2", &v)?);
        }
        if !v.parents.is_empty() {
            out.files.push(FeatureFile {
                path: "src/core/files/file-scopes.ts".into(),
                body: Rendered::new("files/file-scopes.ts.j2", &v)?,
                ownership: Ownership::Generated,
            });
        }
        out.files.push(FeatureFile {
            path: "src/core/files/share-access.ts".into(),
            body: Rendered::new("files/share-access.ts.j2", &v)?,
            ownership: Ownership::Generated,
        });
        out.modules.push(AppModule { class: "FilesModule".into(), module: "core/files/files.module".into() });
        out.env.push(Rendered::new("files/env.j2", &v)?);
        // compose.yaml: files on local disk (FILES_DIR's default) live in a volume.
        out.compose_volumes.push(("files-data".into(), "/app/storage".into()));
        out.readme.push(Rendered::new("files/readme.md.j2", &v)?);
        Ok(())
    }

    fn resource(&self, m: &Model, r: &Resource, out: &mut ResourceContributions) -> Result<(), RenderError> {
        let Some(s) = m.state::<FilesState>() else { return Ok(()) };
        if let Some((t, column)) = s.parent_of(r) {
            return child(m, t, column, r, out);
        }
        let Some(t) = s.of(r) else { return Ok(()) };
        let n = &r.names;
        let route = |id: &str, action: &str| Route {
            id: id.into(),
            action: action.into(),
            permission: format!("{}:{action}", n.permission),
        };
        let mut routes = vec![
            route("upload", "create"),
            route("presign", "create"),
            route("complete", "create"),
            route("content", "read"),
            route("url", "read"),
        ];
        if let Some(sh) = t.shares.as_ref().and_then(|sh| m.resource_of(&sh.table)) {
            routes.push(Route {
                id: "share".into(),
                action: "create".into(),
                permission: format!("{}:create", sh.names.permission),
            });
        }
        if t.versions.is_some() {
            routes.extend([
                route("replace", "update"),
                route("versions", "read"),
                route("version_content", "read"),
                route("restore_version", "update"),
            ]);
        }
        let swagger = "@nestjs/swagger";
        let common = "@nestjs/common";
        let names: &[(&str, &str)] = &[
            ("Controller", common),
            ("Get", common),
            ("Param", common),
            ("Post", common),
            ("Req", common),
            ("Res", common),
            ("HttpCode", common),
            ("ApiBody", swagger),
            ("ApiConsumes", swagger),
            ("ApiCreatedResponse", swagger),
            ("ApiNotFoundResponse", swagger),
            ("ApiOkResponse", swagger),
            ("ApiOperation", swagger),
            ("ApiPayloadTooLargeResponse", swagger),
            ("ApiTags", swagger),
            ("ApiUnprocessableEntityResponse", swagger),
            ("ApiUnsupportedMediaTypeResponse", swagger),
            ("RouteConfig", "@nestjs/platform-fastify"),
            ("ErrorResponseDto", "../../core/crud/dto.js"),
            ("UPLOAD_BODY", "../../core/files/body.js"),
            ("FileService", "../../core/files/upload.js"),
            ("FILE_TABLES", "../../core/files/files.tables.js"),
            ("Body", common),
            ("ApiConflictResponse", swagger),
            ("ApiNotImplementedResponse", swagger),
            ("PresignUploadDto", "../../core/files/uploads.dto.js"),
            ("PresignedUploadDto", "../../core/files/uploads.dto.js"),
        ];
        let mut imports: Vec<Import> = names.iter().map(|(name, from)| Import::new(name, from)).collect();
        if routes.iter().any(|x| x.id == "share") {
            let shares = "../../core/files/shares.js";
            imports.extend(
                [
                    ("CreateShareDto", shares),
                    ("ShareCreatedDto", shares),
                    ("ShareService", shares),
                    ("ApiBadRequestResponse", "@nestjs/swagger"),
                ]
                .iter()
                .map(|(name, from)| Import::new(name, from)),
            );
        }
        imports.push(Import::new(&format!("{}Repository", n.plural_class), &format!("./{}.repository.js", n.file)));
        imports.push(Import::new(&format!("{}ResponseDto", n.class), &format!("./dto/{}.dto.js", n.singular_file)));
        if r.operations.update {
            imports.push(Import::new(
                &format!("Update{}Dto", n.class),
                &format!("./dto/update-{}.dto.js", n.singular_file),
            ));
        }
        imports.extend((!r.swagger.value).then(|| Import::new("ApiExcludeController", swagger)));
        out.controllers.push(ExtraController {
            class: format!("{}FilesController", n.plural_class),
            file: format!("{}.files.controller.ts", n.file),
            body: Rendered::new("files/files.controller.ts.j2", view::ControllerView::new(m, t, r))?,
            routes,
            imports,
        });
        Ok(())
    }
}

/// What a table of versions or shares of a file store gets: its rows are seen and changed with
/// their file (the file table's own scopes — owner, tenant — applied through the reference, in
/// the app and by row-level security in db/09-files.sql); a share table also serves its links.
fn child(
    m: &Model,
    t: &FileTable,
    column: &str,
    r: &Resource,
    out: &mut ResourceContributions,
) -> Result<(), RenderError> {
    let Some(parent) = m.resource_of(&t.table) else { return Ok(()) };
    out.extensions.push(SpecExtension {
        factory: "fileChild".into(),
        module: "core/files/file-scopes".into(),
        arg: format!(
            "{{ parent: {}, column: {} }}",
            nest_nestjs::quote::string(&parent.names.file),
            nest_nestjs::quote::string(column)
        ),
    });
    if let Some(o) = m.state::<crate::own_rows::OwnRowsState>().and_then(|o| o.scope_of(&t.table)) {
        out.class_decorators.push(Decorator::new(
            format!("@OwnerScoped('{}')", o.bypass),
            &[("OwnerScoped", "../../core/rbac/permission.decorator.js")],
        ));
    }
    if m.state::<crate::tenancy::TenancyModel>().is_some_and(|x| x.column_of(&t.table).is_some()) {
        out.class_decorators
            .push(Decorator::new("@TenantScoped()", &[("TenantScoped", "../../core/tenancy/tenant.decorator.js")]));
        out.class_decorators
            .push(Decorator::new(crate::tenancy::ORGANIZATION_HEADER, &[("ApiHeader", "@nestjs/swagger")]));
    }
    let Some(sh) = t.shares.as_ref().filter(|sh| r.is(&sh.table)) else { return Ok(()) };
    let common = "@nestjs/common";
    let swagger = "@nestjs/swagger";
    let names: &[(&str, &str)] = &[
        ("Controller", common),
        ("Get", common),
        ("Header", common),
        ("Param", common),
        ("Req", common),
        ("Res", common),
        ("ApiForbiddenResponse", swagger),
        ("ApiGoneResponse", swagger),
        ("ApiHeader", swagger),
        ("ApiNotFoundResponse", swagger),
        ("ApiOkResponse", swagger),
        ("ApiOperation", swagger),
        ("ApiTags", swagger),
        ("ApiTooManyRequestsResponse", swagger),
        ("ErrorResponseDto", "../../core/crud/dto.js"),
        ("Public", "../../core/http/public.decorator.js"),
        ("SharedFileDto", "../../core/files/shares.js"),
        ("ShareService", "../../core/files/shares.js"),
        ("FILE_TABLES", "../../core/files/files.tables.js"),
    ];
    let mut imports: Vec<Import> = names.iter().map(|(name, from)| Import::new(name, from)).collect();
    imports.extend((!r.swagger.value).then(|| Import::new("ApiExcludeController", swagger)));
    out.controllers.push(ExtraController {
        class: format!("{}LinksController", r.names.plural_class),
        file: format!("{}.links.controller.ts", r.names.file),
        body: Rendered::new("files/shares.controller.ts.j2", view::SharesView::new(parent, r, sh))?,
        routes: Vec::new(),
        imports,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::seed;

    #[test]
    fn the_seed_files_table_becomes_a_store_its_bytes_columns_the_servers() {
        let m = seed(
            &["02-rbac.sql", "06-files.sql"],
            "[tables.users.features]\nauth = true\n\n[tables.files.features]\nfile-upload = true\n",
        );
        assert!(m.errors.is_empty(), "{:?}", m.diagnostics());
        let s = m.state::<FilesState>().expect("a file store");
        assert_eq!(s.tables[0].table.name, "files");
        let r = m.resource("files").unwrap();
        assert!(!r.operations.create && !r.operations.bulk_create, "rows come from uploads");
        let access = |c: &str| r.field(c).unwrap().access;
        assert_eq!(access("storage_path"), Access::None, "the storage location is never returned");
        assert_eq!(access("checksum"), Access::ReadOnly);
        assert_eq!(access("is_safe"), Access::ReadOnly);
        assert_eq!(access("original_name"), Access::ReadWrite, "the name may be changed");
        assert!(r.features.get("own-rows").is_some_and(|x| x.value), "files are their owner's");
        assert!(m.resource("folders").is_some_and(|f| s.of(f).is_none()));
        // The folders the files point into: a tree whose path and level the database keeps.
        let tree = &s.folders[0];
        assert_eq!(
            (tree.table.name.as_str(), tree.parent.as_str(), tree.path.as_str()),
            ("folders", "parent_folder_id", "path")
        );
        assert_eq!((tree.level.as_deref(), tree.deleted_at.as_deref()), (Some("level"), Some("deleted_at")));
        assert_eq!(tree.files[0].1, "folder_id");
        let folders = m.resource("folders").unwrap();
        assert_eq!(folders.field("path").unwrap().access, Access::ReadOnly);
        assert!(folders.features.get("own-rows").is_some_and(|x| x.value));
        // Earlier versions: file_versions references files with a number, a key, a size, a checksum.
        let v = s.tables[0].versions.as_ref().expect("a versions table");
        assert_eq!(
            (v.table.name.as_str(), v.file.as_str(), v.number.as_str(), v.key.as_str()),
            ("file_versions", "file_id", "version_number", "storage_path")
        );
        let versions = m.resource("file_versions").unwrap();
        assert_eq!(versions.field("storage_path").unwrap().access, Access::None);
        assert!(!versions.operations.create && !versions.operations.update && !versions.operations.delete);
        // Versions are seen with their file, not by who uploaded them.
        assert!(versions.features.get("own-rows").is_none_or(|x| !x.value));
        // Share links: the seed's file_shares, its token the server's (kept hashed, never shown).
        let sh = s.tables[0].shares.as_ref().expect("a share table");
        assert_eq!(
            (sh.table.name.as_str(), sh.file.as_str(), sh.token.as_str(), sh.max.as_deref(), sh.count.as_deref()),
            ("file_shares", "file_id", "share_token", Some("max_downloads"), Some("download_count"))
        );
        let shares = m.resource("file_shares").unwrap();
        assert!(
            !shares.operations.create && !shares.operations.bulk_create,
            "links are made by POST /files/:id/shares"
        );
        assert_eq!(shares.field("share_token").unwrap().access, Access::None);
        for c in ["download_count", "max_downloads", "expires_at", "file_id", "shared_by"] {
            assert_eq!(shares.field(c).unwrap().access, Access::ReadOnly, "{c}");
        }
        assert_eq!(shares.field("can_download").unwrap().access, Access::ReadOnly, "terms fixed when the link is made");
        assert!(!shares.operations.update);
        assert_eq!(shares.data, DataClass::Owned);
    }

    #[test]
    fn asked_on_a_table_without_bytes_columns_is_an_error_at_the_table() {
        let m = seed(&["02-rbac.sql"], "[tables.roles.features]\nfile-upload = true\n");
        let d = m.diagnostics();
        assert!(d.iter().any(|d| d.message.contains("roles: file storage asked (nest-generator.toml)")), "{d:?}");
    }
}
