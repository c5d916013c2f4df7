//! Everything besides tables: types, domains, sequences, functions, triggers, policies,
//! extensions, comments, drops, and the `SELECT` calls that change the schema
//! (`create_hypertable` and TimescaleDB's policies, `set_config('search_path', ...)`).

use super::{Replayer, ident, name_parts, split_name};
use nest_catalog::expr::canonical;
use nest_catalog::{
    Check, CompositeType, Domain, EnumType, Extension, Function, Hypertable, Policy, QualifiedName, Sequence, SqlType,
    Trigger, codes,
};
use sqlparser::ast::{
    AlterPolicy, AlterPolicyOperation, AlterType, AlterTypeAddValuePosition, AlterTypeOperation, CommentObject,
    CreateDomain, CreateFunction, CreatePolicy, CreatePolicyCommand, CreatePolicyType, CreateTrigger, DataType,
    DropFunction, DropPolicy, DropTrigger, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, FunctionReturnType,
    ObjectName, ObjectType, Owner, Query, SelectItem, SequenceOptions, SetExpr, TableConstraint, TriggerEvent,
    TriggerObject, TriggerObjectKind, TriggerPeriod, UserDefinedTypeRepresentation, Value,
};

fn owner_name(o: &Owner) -> String {
    match o {
        Owner::Ident(i) => ident(i),
        Owner::CurrentRole => "current_role".into(),
        Owner::CurrentUser => "current_user".into(),
        Owner::SessionUser => "session_user".into(),
    }
}

/// Normalized type text of a function argument or result.
pub(crate) fn type_text(dt: &DataType) -> String {
    match SqlType::parse(&dt.to_string()) {
        Ok(t) => t.to_string(),
        Err(_) => dt.to_string().to_lowercase(),
    }
}

fn string_arg(a: &FunctionArg) -> Option<String> {
    let e = match a {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => e,
        FunctionArg::Named { arg: FunctionArgExpr::Expr(e), .. } => e,
        _ => return None,
    };
    literal_string(e)
}

/// A string literal, looking through casts (`'metrics'::regclass`).
fn literal_string(e: &Expr) -> Option<String> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s.clone()),
            _ => None,
        },
        Expr::Cast { expr, .. } | Expr::Nested(expr) => literal_string(expr),
        Expr::Function(f) => {
            // by_range('time') in TimescaleDB 2.13+.
            let n = f.name.to_string().to_lowercase();
            if (n.ends_with("by_range") || n.ends_with("by_hash"))
                && let FunctionArguments::List(l) = &f.args
            {
                return l.args.first().and_then(string_arg);
            }
            None
        }
        _ => None,
    }
}

impl Replayer {
    pub(crate) fn create_policy(&mut self, p: CreatePolicy) {
        let Ok(Some(key)) = self.target_table(&p.table_name, false) else {
            return;
        };
        let name = ident(&p.name);
        let policy = Policy {
            name: name.clone(),
            command: match p.command {
                None | Some(CreatePolicyCommand::All) => "all",
                Some(CreatePolicyCommand::Select) => "select",
                Some(CreatePolicyCommand::Insert) => "insert",
                Some(CreatePolicyCommand::Update) => "update",
                Some(CreatePolicyCommand::Delete) => "delete",
            }
            .into(),
            permissive: !matches!(p.policy_type, Some(CreatePolicyType::Restrictive)),
            roles: match &p.to {
                Some(v) if !v.is_empty() => v.iter().map(owner_name).collect(),
                _ => vec!["public".into()],
            },
            using: p.using.as_ref().map(|e| canonical(&e.to_string(), None)),
            with_check: p.with_check.as_ref().map(|e| canonical(&e.to_string(), None)),
        };
        let at = self.at(p.name.span);
        let t = self.table_mut(&key).expect("looked up");
        if t.policies.iter().any(|x| x.name == name) {
            let tn = t.name.clone();
            self.error(codes::DUPLICATE_OBJECT, at, format!("policy `{name}` on `{tn}` is defined twice"), "");
            return;
        }
        t.policies.push(policy);
    }

    pub(crate) fn alter_policy(&mut self, p: AlterPolicy) {
        let Ok(Some(key)) = self.target_table(&p.table_name, false) else {
            return;
        };
        let name = ident(&p.name);
        let Some(t) = self.table_mut(&key) else {
            return;
        };
        let Some(pol) = t.policies.iter_mut().find(|x| x.name == name) else {
            return;
        };
        match p.operation {
            AlterPolicyOperation::Rename { new_name } => pol.name = ident(&new_name),
            AlterPolicyOperation::Apply { to, using, with_check } => {
                if let Some(to) = to {
                    pol.roles = to.iter().map(owner_name).collect();
                }
                if let Some(u) = using {
                    pol.using = Some(canonical(&u.to_string(), None));
                }
                if let Some(w) = with_check {
                    pol.with_check = Some(canonical(&w.to_string(), None));
                }
            }
        }
    }

    pub(crate) fn drop_policy(&mut self, p: DropPolicy) {
        let Ok(Some(key)) = self.target_table(&p.table_name, p.if_exists) else {
            return;
        };
        let name = ident(&p.name);
        if let Some(t) = self.table_mut(&key) {
            t.policies.retain(|x| x.name != name);
        }
    }

    fn resolve_function(&self, n: &ObjectName) -> QualifiedName {
        let (schema, name) = split_name(n);
        match schema {
            Some(s) => QualifiedName::new(s, name),
            None => {
                let s = self
                    .search_path
                    .iter()
                    .find(|s| self.functions.iter().any(|f| &f.schema == *s && f.name == name))
                    .cloned()
                    .unwrap_or_else(|| "public".to_string());
                QualifiedName::new(s, name)
            }
        }
    }

    pub(crate) fn create_trigger(&mut self, t: CreateTrigger, text: &str) {
        let Ok(Some(key)) = self.target_table(&t.table_name, false) else {
            return;
        };
        let mut events: Vec<&str> = t
            .events
            .iter()
            .map(|e| match e {
                TriggerEvent::Insert => "insert",
                TriggerEvent::Update(_) => "update",
                TriggerEvent::Delete => "delete",
                TriggerEvent::Truncate => "truncate",
            })
            .collect();
        let order = ["insert", "update", "delete", "truncate"];
        events.sort_by_key(|e| order.iter().position(|o| o == e));
        events.dedup();
        let function = t
            .exec_body
            .as_ref()
            .map(|b| self.resolve_function(&b.func_desc.name))
            .unwrap_or_else(|| QualifiedName::new("public", ""));
        let trig = Trigger {
            name: split_name(&t.name).1,
            timing: match t.period {
                Some(TriggerPeriod::Before) => "before",
                Some(TriggerPeriod::InsteadOf) => "instead of",
                _ => "after",
            }
            .into(),
            events: events.into_iter().map(String::from).collect(),
            for_each_row: matches!(
                t.trigger_object,
                Some(TriggerObjectKind::ForEach(TriggerObject::Row) | TriggerObjectKind::For(TriggerObject::Row))
            ),
            function,
            source: nest_catalog::SourceText(Some(self.pending_source.take().unwrap_or_else(|| text.to_string()))),
        };
        if let Some(tab) = self.table_mut(&key) {
            tab.triggers.retain(|x| x.name != trig.name);
            tab.triggers.push(trig);
        }
    }

    pub(crate) fn drop_trigger(&mut self, t: DropTrigger) {
        let name = split_name(&t.trigger_name).1;
        let Some(tn) = t.table_name else { return };
        let Ok(Some(key)) = self.target_table(&tn, t.if_exists) else {
            return;
        };
        if let Some(tab) = self.table_mut(&key) {
            tab.triggers.retain(|x| x.name != name);
        }
    }

    pub(crate) fn create_function(&mut self, f: CreateFunction, text: &str) {
        let (schema, name) = self.create_name(&f.name);
        let arguments: Vec<String> = f
            .args
            .unwrap_or_default()
            .iter()
            .filter(|a| !matches!(a.mode, Some(sqlparser::ast::ArgMode::Out)))
            .map(|a| type_text(&a.data_type))
            .collect();
        let returns = match &f.return_type {
            Some(FunctionReturnType::DataType(DataType::Table(_))) => "setof record".to_string(),
            Some(FunctionReturnType::DataType(dt)) => type_text(dt),
            Some(FunctionReturnType::SetOf(dt)) => format!("setof {}", type_text(dt)),
            None => "void".to_string(),
        };
        let language = f.language.as_ref().map(ident).unwrap_or_else(|| "sql".into());
        self.functions.retain(|x| !(x.schema == schema && x.name == name && x.arguments == arguments));
        let source = nest_catalog::SourceText(Some(text.to_string()));
        self.functions.push(Function { schema, name, arguments, returns, language, source });
    }

    /// CREATE AGGREGATE name (arg types) (...): recorded with its text, to be written out again.
    pub(crate) fn create_aggregate(&mut self, name: &ObjectName, arguments: Vec<String>, text: &str) {
        let (schema, name) = self.create_name(name);
        self.functions.retain(|x| !(x.schema == schema && x.name == name && x.arguments == arguments));
        self.functions.push(Function {
            schema,
            name,
            arguments,
            returns: "unknown".into(),
            language: "aggregate".into(),
            source: nest_catalog::SourceText(Some(text.to_string())),
        });
    }

    pub(crate) fn drop_function(&mut self, f: DropFunction) {
        for d in f.func_desc {
            let q = self.resolve_function(&d.name);
            let args: Option<Vec<String>> = d.args.map(|a| a.iter().map(|x| type_text(&x.data_type)).collect());
            self.functions.retain(|x| {
                !(x.schema == q.schema && x.name == q.name && args.as_ref().is_none_or(|a| *a == x.arguments))
            });
        }
    }

    pub(crate) fn create_type(&mut self, name: &ObjectName, rep: Option<UserDefinedTypeRepresentation>) {
        let (schema, tname) = self.create_name(name);
        if self.enums.iter().any(|e| e.schema == schema && e.name == tname)
            || self.composites.iter().any(|e| e.schema == schema && e.name == tname)
            || self.domains.iter().any(|e| e.schema == schema && e.name == tname)
        {
            let at = name.0.last().and_then(|p| p.as_ident()).map(|i| self.at(i.span)).unwrap_or_else(|| self.here());
            self.error(codes::DUPLICATE_OBJECT, at, format!("type `{schema}.{tname}` is defined twice"), "");
            return;
        }
        match rep {
            Some(UserDefinedTypeRepresentation::Enum { labels }) => self.enums.push(EnumType {
                schema,
                name: tname,
                values: labels.iter().map(|l| l.value.clone()).collect(),
            }),
            Some(UserDefinedTypeRepresentation::Composite { attributes }) => {
                let attributes = attributes
                    .iter()
                    .map(|a| {
                        (
                            ident(&a.name),
                            SqlType::parse(&a.data_type.to_string()).unwrap_or_else(|_| SqlType::simple("text")),
                        )
                    })
                    .collect();
                self.composites.push(CompositeType { schema, name: tname, attributes });
            }
            // Range and base types behave like built-in scalars for the API: a composite with
            // no attributes marks the name as declared.
            _ => self.composites.push(CompositeType { schema, name: tname, attributes: Vec::new() }),
        }
    }

    pub(crate) fn alter_type(&mut self, t: AlterType) {
        let (schema, name) = split_name(&t.name);
        let schema = schema.unwrap_or_else(|| {
            self.search_path
                .iter()
                .find(|s| self.enums.iter().any(|e| &e.schema == *s && e.name == name))
                .cloned()
                .unwrap_or_else(|| "public".into())
        });
        let Some(e) = self.enums.iter_mut().find(|e| e.schema == schema && e.name == name) else {
            return;
        };
        match t.operation {
            AlterTypeOperation::AddValue(av) => {
                let v = av.value.value.clone();
                if e.values.contains(&v) {
                    return;
                }
                match av.position {
                    Some(AlterTypeAddValuePosition::Before(b)) => {
                        let i = e.values.iter().position(|x| *x == b.value).unwrap_or(e.values.len());
                        e.values.insert(i, v);
                    }
                    Some(AlterTypeAddValuePosition::After(a)) => {
                        let i = e.values.iter().position(|x| *x == a.value).map(|i| i + 1).unwrap_or(e.values.len());
                        e.values.insert(i, v);
                    }
                    None => e.values.push(v),
                }
            }
            AlterTypeOperation::RenameValue(rv) => {
                for x in e.values.iter_mut().filter(|x| **x == rv.from.value) {
                    *x = rv.to.value.clone();
                }
            }
            AlterTypeOperation::Rename(r) => e.name = ident(&r.new_name),
        }
    }

    pub(crate) fn create_domain(&mut self, d: CreateDomain) {
        let (schema, name) = self.create_name(&d.name);
        let ty = match SqlType::parse(&d.data_type.to_string()) {
            Ok(t) => t,
            Err(e) => {
                let at = self.here();
                self.error(codes::UNKNOWN_TYPE, at, format!("domain `{name}`: {e}"), "");
                return;
            }
        };
        let mut checks = Vec::new();
        for c in &d.constraints {
            if let TableConstraint::Check(ck) = c {
                let cname = ck.name.as_ref().map(ident).unwrap_or_else(|| format!("{name}_check"));
                checks.push(Check { name: cname, expression: canonical(&ck.expr.to_string(), None) });
            }
        }
        let default = d.default.as_ref().map(|e| canonical(&e.to_string(), Some(&ty)));
        self.domains.retain(|x| !(x.schema == schema && x.name == name));
        self.domains.push(Domain { schema, name, ty, nullable: true, default, checks });
    }

    /// The fallback reader strips `NOT NULL` from CREATE DOMAIN and applies it here.
    pub(crate) fn mark_last_domain_not_null(&mut self) {
        if let Some(d) = self.domains.last_mut() {
            d.nullable = false;
        }
    }

    pub(crate) fn create_sequence(&mut self, name: &ObjectName, opts: &[SequenceOptions], if_not_exists: bool) {
        let (schema, sname) = self.create_name(name);
        if self.sequences.iter().any(|s| s.schema == schema && s.name == sname) {
            if !if_not_exists {
                let at = self.here();
                self.error(codes::DUPLICATE_OBJECT, at, format!("sequence `{schema}.{sname}` is defined twice"), "");
            }
            return;
        }
        let mut ty = SqlType::simple("bigint");
        let mut owned_by = None;
        for o in opts {
            match o {
                SequenceOptions::DataType(dt) => {
                    if let Ok(t) = SqlType::parse(&dt.to_string()) {
                        ty = t;
                    }
                }
                SequenceOptions::OwnedBy(Some(n)) => owned_by = self.owned_by_text(n),
                _ => {}
            }
        }
        self.relation_names.insert((schema.clone(), sname.clone()));
        self.sequences.push(Sequence { schema, name: sname, ty, owned_by });
    }

    /// `schema.table.column` for `OWNED BY [schema.]table.column`.
    pub(crate) fn owned_by_text(&self, n: &ObjectName) -> Option<String> {
        let mut parts = name_parts(n);
        let column = parts.pop()?;
        let table = parts.pop()?;
        let schema = parts.pop();
        let (s, t) = self.lookup_table_parts(schema.as_deref(), &table)?;
        Some(format!("{s}.{t}.{column}"))
    }

    pub(crate) fn set_sequence_owner(&mut self, seq: &ObjectName, owner: Option<&ObjectName>) {
        let (schema, name) = split_name(seq);
        let owned = owner.and_then(|o| self.owned_by_text(o));
        let schema = schema.unwrap_or_else(|| self.creation_schema());
        if let Some(s) = self.sequences.iter_mut().find(|s| s.schema == schema && s.name == name) {
            s.owned_by = owned;
        }
    }

    pub(crate) fn create_extension(&mut self, name: &str, schema: Option<String>) {
        let schema = schema.filter(|s| s != "public");
        if !self.extensions.iter().any(|e| e.name == name) {
            self.extensions.push(Extension { name: name.to_string(), schema });
        }
    }

    pub(crate) fn comment(&mut self, kind: CommentObject, name: &ObjectName, comment: Option<String>) {
        match kind {
            CommentObject::Table | CommentObject::View | CommentObject::MaterializedView => {
                let Ok(Some(key)) = self.target_table(name, false) else {
                    return;
                };
                if let Some(t) = self.table_mut(&key) {
                    t.comment = comment;
                }
            }
            CommentObject::Column => {
                let mut parts = name_parts(name);
                let Some(col) = parts.pop() else { return };
                let Some(table) = parts.pop() else { return };
                let schema = parts.pop();
                if schema.as_deref().is_some_and(Self::is_tool_schema) {
                    return;
                }
                let Some(key) = self.lookup_table_parts(schema.as_deref(), &table) else {
                    let at = self.here();
                    self.error(
                        codes::UNKNOWN_TABLE,
                        at,
                        format!("COMMENT ON COLUMN: table `{table}` does not exist"),
                        "",
                    );
                    return;
                };
                let at = self.here();
                let t = self.table_mut(&key).expect("looked up");
                match t.column_mut(&col) {
                    Some(c) => c.comment = comment,
                    None => {
                        let tn = t.name.clone();
                        self.error(
                            codes::UNKNOWN_COLUMN,
                            at,
                            format!("COMMENT ON COLUMN: `{tn}` has no column `{col}`"),
                            "",
                        );
                    }
                }
            }
            _ => {}
        }
    }

    pub(crate) fn drop_objects_named(
        &mut self,
        kind: ObjectType,
        names: &[ObjectName],
        if_exists: bool,
        cascade: bool,
    ) {
        for n in names {
            match kind {
                ObjectType::Table | ObjectType::View | ObjectType::MaterializedView | ObjectType::ForeignTable => {
                    let Ok(Some(key)) = self.target_table(n, if_exists) else {
                        continue;
                    };
                    self.drop_relation(key, cascade);
                }
                ObjectType::Index => {
                    let (schema, name) = split_name(n);
                    if let Some((s, ts, tn)) = self.find_index_owner(schema.as_deref(), &name) {
                        self.index_owner.remove(&(s.clone(), name.clone()));
                        self.relation_names.remove(&(s, name.clone()));
                        if let Some(t) = self.table_mut(&(ts, tn)) {
                            t.indexes.retain(|i| i.name != name);
                        }
                    }
                }
                ObjectType::Sequence => {
                    let (schema, name) = split_name(n);
                    let schema = schema.unwrap_or_else(|| self.creation_schema());
                    self.sequences.retain(|s| !(s.schema == schema && s.name == name));
                    self.relation_names.remove(&(schema, name));
                }
                ObjectType::Type => {
                    let (schema, name) = split_name(n);
                    let schema = schema.unwrap_or_else(|| self.creation_schema());
                    self.enums.retain(|e| !(e.schema == schema && e.name == name));
                    self.composites.retain(|e| !(e.schema == schema && e.name == name));
                    self.domains.retain(|e| !(e.schema == schema && e.name == name));
                }
                ObjectType::Schema => {
                    let (_, name) = split_name(n);
                    let keys: Vec<_> = self.table_index.keys().filter(|k| k.0 == name).cloned().collect();
                    for k in keys {
                        self.remove_table(&k);
                    }
                    self.enums.retain(|e| e.schema != name);
                    self.domains.retain(|e| e.schema != name);
                    self.composites.retain(|e| e.schema != name);
                    self.sequences.retain(|e| e.schema != name);
                    self.functions.retain(|e| e.schema != name);
                    self.schemas.remove(&name);
                }
                _ => {}
            }
        }
    }

    /// Drop a table or view; with CASCADE, as PostgreSQL does, also the views and materialized
    /// views that read it (and theirs), and the foreign keys of other tables that reference it.
    fn drop_relation(&mut self, key: (String, String), cascade: bool) {
        let mut queue = vec![key];
        while let Some(key) = queue.pop() {
            if self.remove_table(&key).is_none() {
                continue;
            }
            self.fk_checks.retain(|f| !(f.table.schema == key.0 && f.table.name == key.1));
            if !cascade {
                continue;
            }
            let mut dropped_fks = Vec::new();
            for t in self.tables.iter_mut() {
                let (gone, kept) = std::mem::take(&mut t.foreign_keys)
                    .into_iter()
                    .partition(|f| f.references.schema == key.0 && f.references.name == key.1);
                t.foreign_keys = kept;
                let gone: Vec<nest_catalog::ForeignKey> = gone;
                dropped_fks.extend(gone.into_iter().map(|f| (t.schema.clone(), t.name.clone(), f.name)));
            }
            for (schema, table, fk) in dropped_fks {
                self.constraint_names.remove(&(schema.clone(), fk.clone()));
                self.fk_checks.retain(|c| !(c.table.schema == schema && c.table.name == table && c.fk == fk));
            }
            let readers: Vec<(String, String)> = self
                .tables
                .iter()
                .filter(|t| t.definition.as_deref().is_some_and(|d| super::views::reads_relation(d, &key)))
                .map(|t| (t.schema.clone(), t.name.clone()))
                .collect();
            queue.extend(readers);
        }
    }

    /// `SELECT create_hypertable(...)`, `SELECT pg_catalog.set_config('search_path', ...)`.
    pub(crate) fn query(&mut self, q: &Query) {
        let SetExpr::Select(sel) = &*q.body else {
            return;
        };
        if !sel.from.is_empty() {
            return;
        }
        for item in &sel.projection {
            let e = match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
                _ => continue,
            };
            let Expr::Function(f) = e else { continue };
            let fname = f.name.0.last().map(|p| p.to_string().to_lowercase()).unwrap_or_default();
            let FunctionArguments::List(list) = &f.args else {
                continue;
            };
            match fname.as_str() {
                "set_config" => {
                    let key = list.args.first().and_then(string_arg);
                    let value = list.args.get(1).and_then(string_arg);
                    if let (Some(k), Some(v)) = (key, value)
                        && k == "search_path"
                    {
                        self.set_search_path(&v);
                    }
                }
                "create_hypertable" => self.create_hypertable(&list.args),
                "add_retention_policy" | "add_compression_policy" | "add_continuous_aggregate_policy" => {
                    self.timescale_policy(&fname, &list.args)
                }
                _ => {}
            }
        }
    }

    fn create_hypertable(&mut self, args: &[FunctionArg]) {
        let named = |n: &str| named_arg(args, n).cloned();
        let positional: Vec<&FunctionArg> = args.iter().filter(|a| matches!(a, FunctionArg::Unnamed(_))).collect();
        let table = positional
            .first()
            .and_then(|a| string_arg(a))
            .or_else(|| named("relation").as_ref().and_then(literal_string));
        let column = positional
            .get(1)
            .and_then(|a| string_arg(a))
            .or_else(|| named("time_column_name").as_ref().and_then(literal_string))
            .or_else(|| named("dimension").as_ref().and_then(literal_string));
        let interval = named("chunk_time_interval").map(|e| canonical(&e.to_string(), None));
        let (Some(table), Some(column)) = (table, column) else {
            let at = self.here();
            self.warn(
                codes::IGNORED_STATEMENT,
                at,
                "create_hypertable(...) without a literal table and time column was not recorded",
                "call it as create_hypertable('table', 'time_column')",
            );
            return;
        };
        let (schema, name) = match table.split_once('.') {
            Some((s, n)) => (Some(s.to_string()), n.to_string()),
            None => (None, table.clone()),
        };
        let name = name.trim_matches('"').to_string();
        let Some(key) = self.lookup_table_parts(schema.as_deref(), &name) else {
            let at = self.here();
            self.error(
                codes::UNKNOWN_TABLE,
                at,
                format!("create_hypertable: table `{table}` does not exist at this point"),
                "create the table first",
            );
            return;
        };
        let at = self.here();
        let t = self.table_mut(&key).expect("looked up");
        if t.column(&column).is_none() {
            let tn = t.name.clone();
            self.error(codes::UNKNOWN_COLUMN, at, format!("create_hypertable: `{tn}` has no column `{column}`"), "");
            return;
        }
        t.hypertable = Some(Hypertable { time_column: column, chunk_time_interval: interval, ..Hypertable::default() });
    }

    /// `add_retention_policy('t', INTERVAL '90 days')`, `add_compression_policy('t', INTERVAL
    /// '7 days')` on a hypertable; `add_continuous_aggregate_policy('v', start_offset => ...,
    /// end_offset => ..., schedule_interval => ...)` on a continuous aggregate.
    fn timescale_policy(&mut self, function: &str, args: &[FunctionArg]) {
        let named = |n: &str| named_arg(args, n);
        let positional: Vec<&Expr> = args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect();
        let arg = |i: usize, n: &str| named(n).or_else(|| positional.get(i).copied());
        let at = self.here();
        let Some(relation) = arg(0, "relation").or_else(|| arg(0, "hypertable")).and_then(literal_string) else {
            self.warn(
                codes::IGNORED_STATEMENT,
                at,
                format!("{function}(...) without a literal relation was not recorded"),
                "name the table or view in quotes",
            );
            return;
        };
        let (schema, name) = match relation.split_once('.') {
            Some((s, n)) => (Some(s.trim_matches('"').to_string()), n.trim_matches('"').to_string()),
            None => (None, relation.trim_matches('"').to_string()),
        };
        let Some(key) = self.lookup_table_parts(schema.as_deref(), &name) else {
            self.warn(
                codes::IGNORED_STATEMENT,
                at,
                format!("{function}: `{relation}` does not exist at this point; the policy was not recorded"),
                "create the table or view first",
            );
            return;
        };
        let t = self.table_mut(&key).expect("looked up");
        match function {
            "add_continuous_aggregate_policy" => {
                t.refresh_policy = Some(nest_catalog::RefreshPolicy {
                    start_offset: arg(1, "start_offset").and_then(interval_text),
                    end_offset: arg(2, "end_offset").and_then(interval_text),
                    schedule_interval: arg(3, "schedule_interval").and_then(interval_text),
                });
            }
            _ => {
                let Some(h) = t.hypertable.as_mut() else {
                    let tn = t.name.clone();
                    self.warn(
                        codes::IGNORED_STATEMENT,
                        at,
                        format!("{function}: `{tn}` is not a hypertable; the policy was not recorded"),
                        "call create_hypertable first",
                    );
                    return;
                };
                if function == "add_retention_policy" {
                    h.retention = arg(1, "drop_after").and_then(interval_text);
                } else {
                    h.compression.get_or_insert_with(Default::default).after =
                        arg(1, "compress_after").and_then(interval_text);
                }
            }
        }
    }
}

/// The argument named `n` (`n => value`), however the dialect parsed the name.
fn named_arg<'a>(args: &'a [FunctionArg], n: &str) -> Option<&'a Expr> {
    args.iter().find_map(|a| match a {
        FunctionArg::Named { name, arg: FunctionArgExpr::Expr(e), .. } if ident(name) == n => Some(e),
        FunctionArg::ExprNamed { name: Expr::Identifier(name), arg: FunctionArgExpr::Expr(e), .. }
            if ident(name) == n =>
        {
            Some(e)
        }
        _ => None,
    })
}

/// The text of an interval argument: `INTERVAL '90 days'`, `'90 days'::interval` and `'90 days'`
/// give `90 days`; an integer (integer time) its digits; NULL (unbounded) nothing.
pub(crate) fn interval_text(e: &Expr) -> Option<String> {
    match e {
        Expr::Interval(i) => {
            let v = literal_string(&i.value).or_else(|| match &*i.value {
                Expr::Value(v) => Some(v.value.to_string()),
                _ => None,
            })?;
            Some(match &i.leading_field {
                Some(f) => format!("{v} {}", f.to_string().to_lowercase()),
                None => v,
            })
        }
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Some(n.clone()),
            Value::Null => None,
            _ => literal_string(e),
        },
        Expr::Cast { expr, .. } | Expr::Nested(expr) => interval_text(expr),
        _ => None,
    }
}
