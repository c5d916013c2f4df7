//! DTO classes: one property per field with its OpenAPI and class-validator decorators.

use nest_model::{Field, FieldKind, Format};
use serde::Serialize;
use std::collections::BTreeSet;

use crate::imports::{ImportLine, ImportSet};
use crate::quote as ts;

/// Imports a DTO file needs, by module.
#[derive(Default)]
pub struct Imports {
    pub swagger: BTreeSet<&'static str>,
    pub validator: BTreeSet<&'static str>,
    pub transformer: BTreeSet<&'static str>,
    pub core: BTreeSet<&'static str>,
}

impl Imports {
    /// The import lines; `core_path` is the relative path to core/crud.
    pub fn lines(&self, core_path: &str) -> Vec<ImportLine> {
        let mut set = ImportSet::default();
        let validators = format!("{core_path}/validators.js");
        for (names, from) in [
            (&self.swagger, "@nestjs/swagger"),
            (&self.transformer, "class-transformer"),
            (&self.validator, "class-validator"),
            (&self.core, validators.as_str()),
        ] {
            for n in names {
                set.add(n, from);
            }
        }
        set.lines()
    }
}

/// One property of a DTO class: its decorators, name, `!` or `?`, and type.
#[derive(Debug, Clone, Serialize)]
pub struct Prop {
    pub decorators: Vec<String>,
    pub name: String,
    pub mark: &'static str,
    pub ty: String,
}

/// TypeScript type of a field's value (without null).
pub fn ts_type(f: &Field) -> String {
    let base = match f.kind {
        FieldKind::Int | FieldKind::Float => "number".to_string(),
        FieldKind::Bool => "boolean".to_string(),
        FieldKind::Json => "unknown".to_string(),
        FieldKind::Enum | FieldKind::Text if !f.values.is_empty() => {
            f.values.iter().map(|v| ts::string(v)).collect::<Vec<_>>().join(" | ")
        }
        _ => "string".to_string(),
    };
    if f.array { if base.contains('|') { format!("({base})[]") } else { format!("{base}[]") } } else { base }
}

/// The OpenAPI type (as `@nestjs/swagger` names it) and format of a field's JSON value. Values
/// JSON numbers cannot hold exactly (bigint, numeric) are strings.
pub fn swagger_type(f: &Field) -> (&'static str, Option<&'static str>) {
    match f.kind {
        FieldKind::Uuid => ("String", Some("uuid")),
        FieldKind::Int => ("Number", Some(if f.int_bits == 16 { "int16" } else { "int32" })),
        FieldKind::BigInt => ("String", Some("int64")),
        FieldKind::Decimal => ("String", Some("decimal")),
        FieldKind::Float => ("Number", Some("double")),
        FieldKind::Bool => ("Boolean", None),
        FieldKind::Date => ("String", Some("date")),
        FieldKind::Timestamp => ("String", Some("date-time")),
        FieldKind::Time => ("String", Some("time")),
        FieldKind::Bytes => ("String", Some("byte")),
        FieldKind::Json => ("Object", None),
        _ => ("String", None),
    }
}

/// `@ApiProperty(...)` options describing the field's JSON shape.
fn api_options(f: &Field, write: bool) -> String {
    let mut o: Vec<String> = Vec::new();
    let (ty, format) = swagger_type(f);
    if f.kind == FieldKind::Json {
        o.push("type: 'object', additionalProperties: true".into());
    } else {
        o.push(format!("type: {ty}"));
    }
    if f.array {
        o.push("isArray: true".into());
    }
    let format = match f.format {
        Some(Format::Email) => Some("email"),
        Some(Format::Url) => Some("uri"),
        _ => format,
    };
    if let Some(fm) = format {
        o.push(format!("format: '{fm}'"));
    }
    if let Some(m) = f.min_length {
        o.push(format!("minLength: {m}"));
    }
    if let Some(m) = f.max_length {
        o.push(format!("maxLength: {m}"));
    }
    // The phone validator's pattern (validators() below), so the document says the same.
    if f.format == Some(Format::Phone) && f.values.is_empty() && !f.array {
        o.push("pattern: '^\\\\+?[0-9][0-9 ().-]{2,24}$'".into());
    }
    if !f.values.is_empty() {
        o.push(format!("enum: [{}]", f.values.iter().map(|v| ts::string(v)).collect::<Vec<_>>().join(", ")));
    }
    if f.nullable {
        o.push("nullable: true".into());
    }
    if write && !f.readable() {
        o.push("writeOnly: true".into());
    }
    if let Some(d) = &f.description {
        o.push(format!("description: {}", ts::string(d)));
    }
    if f.kind == FieldKind::Decimal || f.kind == FieldKind::BigInt {
        o.push(format!("example: '{}'", if f.kind == FieldKind::Decimal { "12.50" } else { "9007199254740993" }));
    }
    format!("{{ {} }}", o.join(", "))
}

/// class-validator decorators for writing the field.
fn validators(f: &Field, imports: &mut Imports) -> Vec<String> {
    let each = if f.array { "{ each: true }" } else { "" };
    let with_each = |args: &str| -> String {
        match (args.is_empty(), f.array) {
            (true, true) => "{ each: true }".into(),
            (true, false) => String::new(),
            (false, true) => format!("{args}, {{ each: true }}"),
            (false, false) => args.to_string(),
        }
    };
    let mut v = Vec::new();
    if f.array {
        imports.validator.insert("IsArray");
        v.push("@IsArray()".into());
    }
    let add = |imp: &'static str, args: String, dec: &mut Vec<String>, imports: &mut Imports| {
        imports.validator.insert(imp);
        dec.push(format!("@{imp}({args})"));
    };
    match f.kind {
        FieldKind::Uuid => add("IsUUID", with_each("'all'"), &mut v, imports),
        FieldKind::Text | FieldKind::Enum | FieldKind::Other | FieldKind::Interval => {
            if !f.values.is_empty() {
                let list = f.values.iter().map(|x| ts::string(x)).collect::<Vec<_>>().join(", ");
                add("IsIn", with_each(&format!("[{list}]")), &mut v, imports);
            } else {
                add("IsString", with_each(""), &mut v, imports);
                if let Some(m) = f.min_length {
                    add("MinLength", with_each(&m.to_string()), &mut v, imports);
                }
                if let Some(m) = f.max_length {
                    add("MaxLength", with_each(&m.to_string()), &mut v, imports);
                }
                if f.kind == FieldKind::Interval {
                    add("MaxLength", with_each("100"), &mut v, imports);
                }
                match f.format {
                    Some(Format::Email) => add("IsEmail", with_each("{}"), &mut v, imports),
                    Some(Format::Url) => add("IsUrl", with_each("{ require_tld: false }"), &mut v, imports),
                    Some(Format::Phone) => add(
                        "Matches",
                        with_each("/^\\+?[0-9][0-9 ().-]{2,24}$/, { message: '$property must be a phone number' }"),
                        &mut v,
                        imports,
                    ),
                    None => {}
                }
            }
        }
        FieldKind::Int => {
            add("IsInt", with_each(""), &mut v, imports);
            let (lo, hi) = if f.int_bits == 16 { ("-32768", "32767") } else { ("-2147483648", "2147483647") };
            add("Min", with_each(lo), &mut v, imports);
            add("Max", with_each(hi), &mut v, imports);
        }
        FieldKind::BigInt => {
            imports.transformer.insert("Transform");
            imports.core.insert("numberToString");
            imports.core.insert("IsBigIntString");
            if !f.array {
                v.push("@Transform(numberToString)".into());
            }
            v.push(format!("@IsBigIntString({each})"));
        }
        FieldKind::Decimal => {
            imports.transformer.insert("Transform");
            imports.core.insert("numberToString");
            imports.core.insert("IsDecimalString");
            if !f.array {
                v.push("@Transform(numberToString)".into());
            }
            let args = match f.precision {
                Some((p, s)) => format!("{p}, {s}"),
                None => "undefined, undefined".into(),
            };
            v.push(format!("@IsDecimalString({args}{})", if f.array { ", { each: true }" } else { "" }));
        }
        FieldKind::Float => add("IsNumber", with_each("{ allowNaN: false, allowInfinity: false }"), &mut v, imports),
        FieldKind::Bool => add("IsBoolean", with_each(""), &mut v, imports),
        FieldKind::Date => {
            imports.core.insert("IsDateOnly");
            v.push(format!("@IsDateOnly({each})"));
        }
        FieldKind::Timestamp => add("IsISO8601", with_each("{ strict: true }"), &mut v, imports),
        FieldKind::Time => {
            imports.core.insert("IsTimeString");
            v.push(format!("@IsTimeString({}{})", f.with_zone, if f.array { ", { each: true }" } else { "" }));
        }
        FieldKind::Json => {
            imports.core.insert("IsJsonValue");
            v.push("@IsJsonValue()".into());
        }
        FieldKind::Bytes => add("IsBase64", with_each(""), &mut v, imports),
    }
    v
}

pub enum DtoKind {
    Create,
    Update,
}

/// The properties of a Create or Update DTO class.
pub fn write_dto(fields: &[&Field], kind: DtoKind, imports: &mut Imports) -> Vec<Prop> {
    fields
        .iter()
        .map(|f| {
            let mut decorators = Vec::new();
            let required = matches!(kind, DtoKind::Create) && f.required_on_create;
            if required {
                imports.swagger.insert("ApiProperty");
                decorators.push(format!("@ApiProperty({})", api_options(f, true)));
            } else {
                imports.swagger.insert("ApiPropertyOptional");
                decorators.push(format!("@ApiPropertyOptional({})", api_options(f, true)));
                if f.nullable {
                    imports.validator.insert("IsOptional");
                    decorators.push("@IsOptional()".into());
                } else {
                    // Optional but not nullable: leaving it out is fine, null is not.
                    imports.validator.insert("ValidateIf");
                    decorators.push("@ValidateIf((_object, value) => value !== undefined)".into());
                }
            }
            decorators.extend(validators(f, imports));
            let ty = ts_type(f);
            Prop {
                decorators,
                name: f.property.clone(),
                mark: if required { "!" } else { "?" },
                ty: if f.nullable { format!("{ty} | null") } else { ty },
            }
        })
        .collect()
}

/// The properties of the response DTO: every readable field.
pub fn read_dto(fields: &[&Field], imports: &mut Imports) -> Vec<Prop> {
    imports.swagger.insert("ApiProperty");
    fields
        .iter()
        .map(|f| {
            let ty = ts_type(f);
            Prop {
                decorators: vec![format!("@ApiProperty({})", api_options(f, false))],
                name: f.property.clone(),
                mark: "!",
                ty: if f.nullable { format!("{ty} | null") } else { ty },
            }
        })
        .collect()
}
