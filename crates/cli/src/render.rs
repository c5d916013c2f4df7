//! Human-readable output: the catalog summary and located diagnostics.

use nest_catalog::{Catalog, Diagnostic, Severity, TableKind};
use std::collections::HashMap;
use std::fmt::Write;

/// Print diagnostics to stderr, rustc style, with the source line when the file is readable.
/// Info-level notes are shown only when `verbose`.
pub fn diagnostics(c: &Catalog, verbose: bool) {
    let mut sources: HashMap<String, Option<String>> = HashMap::new();
    for d in &c.diagnostics {
        if d.severity == Severity::Info && !verbose {
            continue;
        }
        let text = sources.entry(d.file.clone()).or_insert_with(|| std::fs::read_to_string(&d.file).ok());
        eprintln!("{}", format_diagnostic(d, text.as_deref()));
    }
    diagnostics_summary_stderr(c);
}

/// One line counting errors and warnings (JSON mode keeps stdout for the document).
pub fn diagnostics_summary_stderr(c: &Catalog) {
    let errors = c.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = c.diagnostics.iter().filter(|d| d.severity == Severity::Warning).count();
    if errors + warnings > 0 {
        eprintln!("{errors} error(s), {warnings} warning(s)");
    }
}

pub fn format_diagnostic(d: &Diagnostic, source: Option<&str>) -> String {
    let mut out = String::new();
    let _ = write!(out, "{}[{}]: {}", d.severity, d.code, d.message);
    // Settings-level findings (from metadata rows, flags) have no place in a file.
    if !d.file.is_empty() {
        let _ = write!(out, "\n  --> {}:{}:{}", d.file, d.line, d.column);
    }
    if let Some(line) = source.and_then(|s| s.lines().nth(d.line.saturating_sub(1) as usize)).filter(|_| d.line > 0) {
        let num = d.line.to_string();
        let pad = " ".repeat(num.len());
        let caret_pad: String = line
            .chars()
            .take(d.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let _ = write!(out, "\n{pad} |\n{num} | {line}\n{pad} | {caret_pad}^");
    }
    if let Some(h) = &d.help {
        let _ = write!(out, "\n  = help: {h}");
    }
    out
}

fn kind_name(k: TableKind) -> &'static str {
    match k {
        TableKind::Table => "table",
        TableKind::Partition => "partition",
        TableKind::View => "view",
        TableKind::MaterializedView => "materialized view",
    }
}

/// The readable summary `inspect` prints without `--json`.
pub fn summary(c: &Catalog) -> String {
    let mut out = String::new();
    let count = |k: TableKind| c.tables.iter().filter(|t| t.kind == k).count();
    let _ = writeln!(
        out,
        "{} tables, {} partitions, {} views, {} materialized views; {} enums, {} domains, {} sequences, {} functions",
        count(TableKind::Table),
        count(TableKind::Partition),
        count(TableKind::View),
        count(TableKind::MaterializedView),
        c.enums.len(),
        c.domains.len(),
        c.sequences.len(),
        c.functions.len()
    );
    if !c.extensions.is_empty() {
        let _ = writeln!(
            out,
            "extensions: {}",
            c.extensions.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    for t in &c.tables {
        let _ = writeln!(out, "\n{}.{} ({}, {} columns)", t.schema, t.name, kind_name(t.kind), t.columns.len());
        if let Some(cm) = &t.comment {
            let _ = writeln!(out, "  comment: {cm}");
        }
        for col in &t.columns {
            let mut flags = Vec::new();
            if !col.nullable {
                flags.push("not null".to_string());
            }
            if let Some(d) = &col.default {
                flags.push(format!("default {d}"));
            }
            if let Some(i) = col.identity {
                flags.push(format!(
                    "identity {}",
                    if i == nest_catalog::Identity::Always { "always" } else { "by default" }
                ));
            }
            if let Some(g) = &col.generated {
                flags.push(format!("generated as ({g})"));
            }
            let _ = writeln!(out, "  {:<28} {:<30} {}", col.name, col.ty.to_string(), flags.join(", "));
        }
        if let Some(pk) = &t.primary_key {
            let _ = writeln!(out, "  primary key ({})", pk.columns.join(", "));
        }
        for u in &t.unique {
            let _ = writeln!(out, "  unique ({})", u.columns.join(", "));
        }
        for fk in &t.foreign_keys {
            let _ = writeln!(
                out,
                "  foreign key ({}) -> {}.{} ({}) on delete {}",
                fk.columns.join(", "),
                fk.references.schema,
                fk.references.name,
                fk.referenced_columns.join(", "),
                fk.on_delete.sql().to_lowercase()
            );
        }
        for i in &t.indexes {
            let cols = i.columns.iter().map(|e| e.expr.as_str()).collect::<Vec<_>>().join(", ");
            let pred = i.predicate.as_ref().map(|p| format!(" where {p}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  index {} {}({}){}{}",
                i.name,
                if i.unique { "unique " } else { "" },
                cols,
                pred,
                if i.method != "btree" { format!(" using {}", i.method) } else { String::new() }
            );
        }
        for k in &t.checks {
            let _ = writeln!(out, "  check {}", k.expression);
        }
        if t.rls_enabled {
            let _ = writeln!(out, "  row level security{}", if t.rls_forced { " (forced)" } else { "" });
        }
        for p in &t.policies {
            let _ = writeln!(out, "  policy {} for {} using {}", p.name, p.command, p.using.as_deref().unwrap_or("-"));
        }
        for tr in &t.triggers {
            let _ = writeln!(
                out,
                "  trigger {} {} {} -> {}()",
                tr.name,
                tr.timing,
                tr.events.join(" or "),
                tr.function.name
            );
        }
        if let Some(p) = &t.partition_by {
            let _ = writeln!(out, "  partition by {p}");
        }
        if let Some(p) = &t.partition_of {
            let _ = writeln!(out, "  partition of {}.{} {}", p.parent.schema, p.parent.name, p.bound);
        }
        if let Some(h) = &t.hypertable {
            let _ = writeln!(out, "  timescaledb hypertable on {}", h.time_column);
        }
    }
    if !c.metadata.is_empty() {
        let _ = writeln!(
            out,
            "\nmetadata: {} table_metadata, {} enterprise_features, {} column_metadata row(s)",
            c.metadata.table_metadata.len(),
            c.metadata.enterprise_features.len(),
            c.metadata.column_metadata.len()
        );
    }
    out
}

/// The Model's errors, located and with the source line where the file is readable.
pub fn model_errors(m: &nest_model::Model) {
    let mut sources: HashMap<String, Option<String>> = HashMap::new();
    for d in m.diagnostics() {
        let text = sources.entry(d.file.clone()).or_insert_with(|| std::fs::read_to_string(&d.file).ok());
        eprintln!("{}", format_diagnostic(&d, text.as_deref()));
    }
}

/// `explain`: every resolved setting of every resource, and where it came from.
pub fn explain(m: &nest_model::Model) -> String {
    use nest_model::Access;
    let mut out = String::new();
    for r in &m.resources {
        let _ = writeln!(out, "{} → /{}{}", r.qualified(), if r.versioned.value { "v1/" } else { "" }, r.names.route);
        let _ = writeln!(
            out,
            "  classes: {}Module, {}Controller, {}Service, {}Dto",
            r.names.plural_class, r.names.plural_class, r.names.plural_class, r.names.class
        );
        let o = &r.operations;
        let ops: Vec<&str> = [
            (o.list, "list"),
            (o.get, "get"),
            (o.create, "create"),
            (o.bulk_create, "bulk create"),
            (o.update, "update"),
            (o.delete, if r.soft_delete.is_some() { "soft delete" } else { "delete" }),
            (o.restore, "restore"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
        let _ = writeln!(out, "  routes: {}", ops.join(", "));
        let key = r.key_fields().iter().map(|f| f.column.as_str()).collect::<Vec<_>>().join(", ");
        let _ = writeln!(
            out,
            "  key: {}; pages break ties on {}",
            if key.is_empty() { "none" } else { &key },
            r.tie_breaker.as_str()
        );
        let _ = writeln!(out, "  readonly: {} ({})", r.readonly.value, r.readonly.source);
        let _ = writeln!(
            out,
            "  page size: {} ({}), max {} ({}); count: {} ({})",
            r.default_limit.value,
            r.default_limit.source,
            r.max_limit.value,
            r.max_limit.source,
            r.count_mode.value,
            r.count_mode.source
        );
        for (name, s) in &r.features {
            let _ = writeln!(out, "  feature {name}: {} ({})", s.value, s.source);
        }
        for line in nest_features::explain_lines(m, r) {
            let _ = writeln!(out, "  {line}");
        }
        for f in &r.fields {
            let access = match f.access {
                Access::ReadWrite => "read-write",
                Access::ReadOnly => "read-only",
                Access::WriteOnly => "write-only",
                Access::None => "hidden",
            };
            let _ = writeln!(
                out,
                "  {:<26} {:<14} {:<11}{}{}",
                format!("{} → {}", f.column, f.property),
                f.kind.runtime_name(),
                access,
                if f.required_on_create { " required" } else { "" },
                f.why.as_ref().map(|w| format!(" ({w})")).unwrap_or_default()
            );
        }
        for n in &r.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        out.push('\n');
    }
    for (t, why) in &m.skipped {
        let _ = writeln!(out, "{t}: not served ({why})");
    }
    out
}
