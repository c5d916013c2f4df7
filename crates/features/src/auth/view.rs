//! What the auth templates see: the users-table mapping the runtime uses
//! (`src/core/auth/auth.users.ts`), the register DTO and db/02-auth.sql.

use super::detect::{AuthModel, Verified};
use nest_catalog::quote as sql;
use nest_model::{Access, Field, FieldKind, Format, Model};
use nest_nestjs::dto::{self, DtoKind, Imports};
use nest_nestjs::imports::ImportLine;
use nest_nestjs::quote as ts;
use serde::Serialize;

#[derive(Serialize)]
pub struct AuthView {
    pub users_import: String,
    pub users_constant: String,
    pub table: String,
    pub id: String,
    pub id_type: String,
    pub id_property: String,
    pub email: String,
    pub email_property: String,
    pub email_column: String,
    pub password_hash: String,
    pub password_hash_column: String,
    pub status: String,
    pub active_status: String,
    pub failed_logins: String,
    pub locked_until: String,
    pub two_factor_enabled: String,
    pub two_factor_enabled_column: String,
    pub tfa_secret_sql: String,
    pub tfa_secret_column: String,
    pub verified_sql: String,
    pub verified_column: String,
    pub verified_kind: String,
    pub last_login_at: String,
    pub deleted_at: String,
    pub register_imports: Vec<ImportLine>,
    pub register_props: Vec<dto::Prop>,
}

fn opt_ident(c: &Option<String>) -> String {
    c.as_ref().map(|x| ts::string(&sql::ident(x))).unwrap_or_else(|| "null".into())
}

pub fn auth_view(m: &Model, a: &AuthModel) -> AuthView {
    let users = m.resource_of(&a.users()).expect("auth resource");
    let prop =
        |col: &str| users.fields.iter().find(|f| f.column == col).map(|f| f.property.clone()).unwrap_or_default();
    let fields = register_fields(users, a);
    let refs: Vec<&Field> = fields.iter().collect();
    let mut imports = Imports::default();
    let props = dto::write_dto(&refs, DtoKind::Create, &mut imports);
    // Emails need a format.
    if !users.fields.iter().any(|f| f.column == a.email && f.format == Some(Format::Email)) {
        imports.validator.insert("IsEmail");
    }
    AuthView {
        users_import: format!("../../modules/{}/{}.resource.js", users.names.file, users.names.file),
        users_constant: users.names.constant.clone(),
        table: ts::string(&sql::qualified(&a.schema, &a.table)),
        id: ts::string(&sql::ident(&a.id)),
        id_type: ts::string(&a.id_type),
        id_property: ts::string(&prop(&a.id)),
        email: ts::string(&sql::ident(&a.email)),
        email_property: ts::string(&prop(&a.email)),
        email_column: ts::string(&a.email),
        password_hash: ts::string(&sql::ident(&a.password_hash)),
        password_hash_column: ts::string(&a.password_hash),
        status: opt_ident(&a.status),
        active_status: ts::string("active"),
        failed_logins: opt_ident(&a.failed_logins),
        locked_until: opt_ident(&a.locked_until),
        two_factor_enabled: opt_ident(&a.two_factor_enabled),
        two_factor_enabled_column: a
            .two_factor_enabled
            .as_ref()
            .map(|c| ts::string(c))
            .unwrap_or_else(|| "null".into()),
        tfa_secret_sql: ts::string(&match (&a.two_factor_secret, a.two_factor_secret_fits) {
            (Some(c), true) => format!("u.{}", sql::ident(c)),
            _ => format!("(SELECT sa.totp_secret FROM nestgen.accounts sa WHERE sa.user_id = u.{})", sql::ident(&a.id)),
        }),
        tfa_secret_column: match (&a.two_factor_secret, a.two_factor_secret_fits) {
            (Some(c), true) => ts::string(c),
            _ => "null".into(),
        },
        verified_sql: ts::string(&verified_sql(a, "u")),
        verified_column: match &a.verified {
            Verified::Timestamp(c) | Verified::Bool(c) => ts::string(c),
            Verified::Nestgen => "null".into(),
        },
        verified_kind: ts::string(match &a.verified {
            Verified::Bool(_) => "bool",
            _ => "timestamp",
        }),
        last_login_at: opt_ident(&a.last_login_at),
        deleted_at: opt_ident(&a.deleted_at),
        register_imports: imports.lines("../crud"),
        register_props: props,
    }
}

/// The fields of POST /auth/register: the email, the profile fields clients may write (not the
/// account status), and a password.
fn register_fields(users: &nest_model::Resource, a: &AuthModel) -> Vec<Field> {
    let mut fields: Vec<Field> = users
        .fields
        .iter()
        .filter(|f| f.column == a.email || (f.writable() && !f.privileged && Some(&f.column) != a.status.as_ref()))
        .cloned()
        .map(|mut f| {
            if f.column == a.email {
                f.access = Access::ReadWrite;
                f.required_on_create = true;
            }
            f
        })
        .collect();
    fields.push(Field {
        column: "password".into(),
        property: "password".into(),
        filter_key: "password".into(),
        sql_type: nest_catalog::SqlType::simple("text"),
        cast_type: "text".into(),
        read_cast: None,
        kind: FieldKind::Text,
        array: false,
        nullable: false,
        has_default: false,
        required_on_create: true,
        access: Access::WriteOnly,
        is_key: false,
        max_length: Some(256),
        min_length: Some(8),
        precision: None,
        with_zone: false,
        int_bits: 32,
        values: Vec::new(),
        format: None,
        ops: Vec::new(),
        sortable: false,
        description: Some("At least 8 characters".into()),
        why: None,
        sensitive: true,
        server: None,
        privileged: false,
    });
    fields
}

/// What the generated tests' sign-in (test/support/auth.ts) needs.
#[derive(Serialize)]
pub struct AuthTestView {
    /// Properties and sample expressions of the register body (`n` numbers the account).
    pub register: Vec<(String, String)>,
    pub email_property: String,
    pub id_property: String,
    /// Marks the account's email verified ($1: the user's id).
    pub verify_sql: String,
    /// A sample calls text() (imported from samples.ts).
    pub uses_text: bool,
}

pub fn auth_test_view(m: &Model, a: &AuthModel) -> AuthTestView {
    let users = m.resource_of(&a.users()).expect("auth resource");
    let prop =
        |col: &str| users.fields.iter().find(|f| f.column == col).map(|f| f.property.clone()).unwrap_or_default();
    let register: Vec<(String, String)> = register_fields(users, a)
        .iter()
        .filter(|f| f.required_on_create && f.column != "password")
        .map(|f| {
            let value = if f.column == a.email {
                "`tester-${n}@example.com`".to_string()
            } else {
                nest_nestjs::testgen::sample(f, "n").unwrap_or_else(|_| "null".into())
            };
            (f.property.clone(), value)
        })
        .collect();
    let table = sql::qualified(&a.schema, &a.table);
    let id = sql::ident(&a.id);
    let verify_sql = match &a.verified {
        Verified::Timestamp(c) => {
            format!("UPDATE {table} SET {} = now() WHERE {id} = $1::{}", sql::ident(c), a.id_type)
        }
        Verified::Bool(c) => format!("UPDATE {table} SET {} = true WHERE {id} = $1::{}", sql::ident(c), a.id_type),
        Verified::Nestgen => format!(
            "INSERT INTO nestgen.accounts (user_id, email_verified_at) VALUES ($1::{}, now()) \
             ON CONFLICT (user_id) DO UPDATE SET email_verified_at = now()",
            a.id_type
        ),
    };
    let uses_text = register.iter().any(|(_, v): &(String, String)| v.contains("text("));
    AuthTestView { register, email_property: prop(&a.email), id_property: prop(&a.id), verify_sql, uses_text }
}

/// What db/02-auth.sql needs.
#[derive(Serialize)]
pub struct AuthSqlView {
    pub users: String,
    pub id: String,
    pub id_type: String,
    pub email: String,
    pub email_index: String,
    pub verified_here: bool,
    pub secret_in_users: bool,
}

pub fn auth_sql_view(a: &AuthModel) -> AuthSqlView {
    AuthSqlView {
        users: sql::qualified(&a.schema, &a.table),
        id: sql::ident(&a.id),
        id_type: a.id_type.clone(),
        email: sql::ident(&a.email),
        email_index: sql::ident(&nest_catalog::naming::make_object_name(
            &a.table,
            Some(&format!("lower_{}", a.email)),
            Some("idx"),
        )),
        verified_here: a.verified == Verified::Nestgen,
        secret_in_users: a.two_factor_secret_fits,
    }
}

/// SQL over alias `u`: this account's email is verified.
pub fn verified_sql(a: &AuthModel, alias: &str) -> String {
    match &a.verified {
        Verified::Timestamp(c) => format!("{alias}.{} IS NOT NULL", sql::ident(c)),
        Verified::Bool(c) => format!("{alias}.{} IS TRUE", sql::ident(c)),
        Verified::Nestgen => format!(
            "EXISTS (SELECT 1 FROM nestgen.accounts va WHERE va.user_id = {alias}.{} AND va.email_verified_at IS NOT NULL)",
            sql::ident(&a.id)
        ),
    }
}
