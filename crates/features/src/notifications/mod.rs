//! Notifications (seed scenario 7): a notifications table becomes an outbox with delivery. A
//! sender names a template, recipients and variables (`POST /<t>/notify`); the variables are
//! checked against what the template uses and rendered with Handlebars (HTML escaped); one row
//! per recipient is inserted with an outbox entry in the same transaction, and a relay hands the
//! entries to a durable BullMQ queue on Redis. Workers — in the API process or `node
//! dist/worker.js` — honour the recipient's preferences (channels, categories, quiet hours in
//! their time zone), send by email (SMTP) or keep in-app, record one delivery row per attempt,
//! retry with exponential backoff and park what keeps failing as `dead`. Recipients read their
//! own notifications, mark them read, count the unread.
//!
//! Switched on by `--features.queue` (`enable_queue`) on a table with a recipient, a message and
//! a status column; the templates, preferences and deliveries tables are found by shape.
//!
//! State: [`NotificationsState`].

mod detect;
mod view;

pub use detect::{DeliveryTable, NotificationTable, PreferenceTable, TemplateTable};

use nest_model::{
    Access, DataClass, FeatureDef, FeatureError, Grant, MetaSwitch, Model, ModelCx, ModelError, Permission, Resolve,
    Resource, ResourceKind, Setting, Source,
};
use nest_nestjs::{
    AppModule, Assets, Contribute, Contributions, DbFile, ExtraController, FeatureFile, Import, Ownership, Package,
    RenderError, Rendered, ResourceContributions, Route, SpecExtension,
};
use serde::Serialize;

pub struct Notifications;

pub static DEF: FeatureDef = FeatureDef {
    id: "queue",
    about: "notifications delivered through a durable queue: templates, preferences, quiet hours, retries, email",
    meta: MetaSwitch::EnterpriseFeatures("enable_queue"),
    implemented: true,
};

/// `--features.realtime` on a notifications table: in-app notifications pushed over WebSockets.
pub struct Realtime;

pub static REALTIME: FeatureDef = FeatureDef {
    id: "realtime",
    about: "in-app notifications pushed to connected clients over WebSockets (notification tables)",
    meta: MetaSwitch::EnterpriseFeatures("enable_realtime"),
    implemented: true,
};

impl Resolve for Realtime {
    fn def(&self) -> &'static FeatureDef {
        &REALTIME
    }

    fn resolve(&self, cx: &mut ModelCx) {
        let systems: Vec<nest_catalog::QualifiedName> = cx
            .state::<NotificationsState>()
            .map(|s| s.systems.iter().map(|x| x.notifications.table.clone()).collect())
            .unwrap_or_default();
        for r in cx.resources.iter_mut() {
            let Some(asked) = r.features.get(REALTIME.id).filter(|s| s.value).cloned() else { continue };
            if systems.iter().any(|t| r.is(t)) {
                continue;
            }
            let note = format!(
                "{}: realtime (from {}) pushes notifications of a notifications table with --features.queue; for other tables this version generates nothing of it",
                r.table, asked.source
            );
            r.note(REALTIME.id, note);
        }
    }
}

impl Contribute for Realtime {}

/// A notification system of the schema.
#[derive(Debug, Clone, Serialize)]
pub struct NotificationSystem {
    /// In-app notifications pushed over WebSockets (`--features.realtime`).
    pub realtime: bool,
    pub notifications: NotificationTable,
    pub templates: Option<TemplateTable>,
    pub preferences: Option<PreferenceTable>,
    pub deliveries: Option<DeliveryTable>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotificationsState {
    pub systems: Vec<NotificationSystem>,
}

impl NotificationsState {
    pub fn of(&self, r: &Resource) -> Option<&NotificationSystem> {
        self.systems.iter().find(|s| r.is(&s.notifications.table))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{table}: notification delivery asked ({asked_by}) but {}", problems.join("; "))]
struct NotANotificationTable {
    table: String,
    asked_by: String,
    problems: Vec<String>,
}

impl FeatureError for NotANotificationTable {
    fn help(&self) -> String {
        "a notifications table needs a recipient (user_id), a message and a status column, and the project needs sign-in (a users table generated with --features.auth=true); or turn it off with --features.queue=false".into()
    }
}

fn resolve(cx: &mut ModelCx) -> Option<NotificationsState> {
    let catalog = cx.catalog;
    let signed_in = cx.state::<crate::auth::AuthModel>().is_some();
    let mut systems = Vec::new();
    for i in 0..cx.resources.len() {
        let r = &cx.resources[i];
        if r.kind != ResourceKind::Table {
            continue;
        }
        let Some(asked) = r.features.get(DEF.id).cloned().filter(|s| s.value) else { continue };
        let Some(t) = catalog.table(&r.schema, &r.table) else { continue };
        let mut problems = Vec::new();
        let found = detect::notification_table(t).map_err(|m| problems.extend(m)).ok();
        if !signed_in {
            problems.push("the project has no signed-in users (notifications are addressed to users)".into());
        }
        let Some(n) = found.filter(|_| problems.is_empty()) else {
            let e = NotANotificationTable { table: r.table.clone(), asked_by: asked.source.to_string(), problems };
            cx.errors.push(ModelError::feature(DEF.id, Some(t), e));
            continue;
        };
        let templates = detect::template_table(catalog, &t.schema);
        let preferences = detect::preference_table(catalog, &t.schema, &n.table);
        let deliveries = detect::delivery_table(catalog, &n.table);
        let r = &mut cx.resources[i];
        let server = n.server_columns();
        for f in r.fields.iter_mut() {
            if server.contains(&f.column.as_str()) || Some(&f.column) == n.data.as_ref() {
                f.access = Access::ReadOnly;
                f.required_on_create = false;
                f.why = Some("set by the server: from the template when sent, by the worker as it delivers".into());
            } else if f.column == n.recipient {
                f.access = Access::ReadOnly;
                f.why = Some("the recipient: set when sent".into());
            } else if f.writable() && !f.is_key {
                f.access = Access::ReadOnly;
                f.why = Some("set when sent".into());
            }
        }
        // Notifications are sent (POST /notify), never written through CRUD; each is its
        // recipient's to read, mark read and delete.
        r.operations.create = false;
        r.operations.bulk_create = false;
        r.operations.update = false;
        r.features
            .entry(crate::own_rows::DEF.id.to_string())
            .or_insert_with(|| Setting::new(true, Source::Inferred("notifications: each is its recipient's".into())));
        r.classify(DataClass::Owned);
        r.note(
            DEF.id,
            format!(
                "{}: POST /{}/notify sends from a template (outbox + BullMQ on REDIS_URL; workers in the API or node dist/worker.js); recipients read their own, POST /{}/:id/read, POST /{}/read-all, GET /{}/unread-count",
                r.table, r.names.route, r.names.route, r.names.route, r.names.route
            ),
        );
        cx.permissions.push(Permission { slug: format!("{}:send", r.names.permission), grant: Grant::Admin });
        // Sending (to yourself, at least) is creating notifications: held as creating is.
        cx.permissions.push(Permission {
            slug: format!("{}:create", r.names.permission),
            grant: Grant::Like { table: r.qname(), action: "create".into() },
        });
        // Templates decide what the app says in its own name: written by super-admins (or explicit
        // grants), never by ordinary users.
        if let Some(t) = &templates
            && let Some(r) = cx.resources.iter_mut().find(|r| r.is(&t.table))
        {
            r.classify(DataClass::Powers);
            r.note(
                DEF.id,
                format!("{}: notification templates speak in the app's name: only super-admins (or explicit grants) write them", r.table),
            );
        }
        if let Some(d) = &deliveries
            && let Some(r) = cx.resources.iter_mut().find(|r| r.is(&d.table))
        {
            // Providers' answers (bounces name addresses): the platform's to read.
            r.classify(DataClass::Trail);
            r.operations.create = false;
            r.operations.bulk_create = false;
            r.operations.update = false;
            r.operations.delete = false;
            r.operations.restore = false;
            for f in r.fields.iter_mut() {
                if f.writable() {
                    f.access = Access::ReadOnly;
                }
            }
            r.note(DEF.id, format!("{}: one row per delivery attempt, written by the workers (read-only)", r.table));
        }
        let realtime = cx.resources[i].features.get(REALTIME.id).is_some_and(|s| s.value);
        systems.push(NotificationSystem { realtime, notifications: n, templates, preferences, deliveries });
    }
    (!systems.is_empty()).then_some(NotificationsState { systems })
}

impl Resolve for Notifications {
    fn def(&self) -> &'static FeatureDef {
        &DEF
    }

    fn resolve(&self, cx: &mut ModelCx) {
        if let Some(s) = resolve(cx) {
            cx.states.insert(DEF.id, s);
        }
    }

    fn explain(&self, m: &Model, r: &Resource) -> Vec<String> {
        let Some(s) = m.state::<NotificationsState>() else { return Vec::new() };
        let Some(n) = s.of(r) else { return Vec::new() };
        let part = |name: &str, t: Option<&nest_catalog::QualifiedName>| {
            t.map(|t| format!("{name}: {}.{}", t.schema, t.name)).unwrap_or_else(|| format!("{name}: none"))
        };
        vec![format!(
            "notifications: {}; {}; {}",
            part("templates", n.templates.as_ref().map(|t| &t.table)),
            part("preferences", n.preferences.as_ref().map(|t| &t.table)),
            part("deliveries", n.deliveries.as_ref().map(|t| &t.table)),
        )]
    }
}

const TEMPLATES: &[(&str, &str)] = nest_nestjs::templates![
    "templates", "notifications";
    "compose.yaml.j2",
    "notify.tables.ts.j2",
    "notify.controller.ts.j2",
    "notify.sql.j2",
    "worker.ts.j2",
    "env.j2",
    "readme.md.j2",
];

const RUNTIME: &[(&str, &str)] = nest_nestjs::runtime_files![
    "runtime";
    "src/core/notifications/channels.ts",
    "src/core/notifications/inbox.ts",
    "src/core/notifications/notifications.module.ts",
    "src/core/notifications/notify.dto.ts",
    "src/core/notifications/notify.settings.ts",
    "src/core/notifications/preferences.ts",
    "src/core/notifications/queue.ts",
    "src/core/notifications/realtime.ts",
    "src/core/notifications/render.ts",
    "src/core/notifications/sender.ts",
    "src/core/notifications/types.ts",
    "src/core/notifications/worker.module.ts",
];

const PACKAGES: &[Package] = &[
    Package { name: "bullmq", version: "6.7.0", dev: false },
    Package { name: "handlebars", version: "4.7.10", dev: false },
    Package { name: "socket.io", version: "4.8.4", dev: false },
    Package { name: "socket.io-client", version: "4.8.4", dev: true },
];

impl Contribute for Notifications {
    fn assets(&self) -> Assets {
        Assets { templates: TEMPLATES, runtime: RUNTIME, packages: PACKAGES }
    }

    fn contribute(&self, m: &Model, out: &mut Contributions) -> Result<(), RenderError> {
        let Some(s) = m.state::<NotificationsState>() else { return Ok(()) };
        let v = view::View::new(m, s);
        out.runtime.extend(RUNTIME);
        out.files.push(FeatureFile {
            path: "src/core/notifications/notify.tables.ts".into(),
            body: Rendered::new("notifications/notify.tables.ts.j2", &v)?,
            ownership: Ownership::Generated,
        });
        out.files.push(FeatureFile {
            path: "src/worker.ts".into(),
            body: Rendered::new("notifications/worker.ts.j2", &v)?,
            ownership: Ownership::Generated,
        });
        out.db.push(DbFile {
            name: "10-notifications.sql".into(),
            body: Rendered::new("notifications/notify.sql.j2", &v)?,
            doc: "notifications: the outbox the relay hands to the queue; an index for unread counts.".into(),
        });
        out.modules.push(AppModule {
            class: "NotificationsModule".into(),
            module: "core/notifications/notifications.module".into(),
        });
        out.env.push(Rendered::new("notifications/env.j2", &v)?);
        // compose.yaml: Redis for the queue, and the workers in a service of their own.
        out.add_compose_redis()?;
        out.add_compose_service("worker", Rendered::new("notifications/compose.yaml.j2", ())?);
        out.add_compose_env("NOTIFY_WORKER: 'off'");
        out.readme.push(Rendered::new("notifications/readme.md.j2", &v)?);
        Ok(())
    }

    fn resource(&self, m: &Model, r: &Resource, out: &mut ResourceContributions) -> Result<(), RenderError> {
        let Some(s) = m.state::<NotificationsState>() else { return Ok(()) };
        let Some(sys) = s.of(r) else { return Ok(()) };
        out.extensions.push(SpecExtension {
            factory: "notifyInbox".into(),
            module: "core/notifications/inbox".into(),
            arg: format!("{{ status: {} }}", nest_nestjs::quote::string(&sys.notifications.status)),
        });
        let n = &r.names;
        let route = |id: &str, action: &str| Route {
            id: id.into(),
            action: action.into(),
            permission: format!("{}:{action}", n.permission),
        };
        let routes =
            vec![route("notify", "create"), route("unread", "read"), route("read", "read"), route("read_all", "read")];
        let swagger = "@nestjs/swagger";
        let common = "@nestjs/common";
        let names: &[(&str, &str)] = &[
            ("Body", common),
            ("Controller", common),
            ("Get", common),
            ("HttpCode", common),
            ("Param", common),
            ("Post", common),
            ("ApiBadRequestResponse", swagger),
            ("ApiCreatedResponse", swagger),
            ("ApiForbiddenResponse", swagger),
            ("ApiNotFoundResponse", swagger),
            ("ApiOkResponse", swagger),
            ("ApiOperation", swagger),
            ("ApiTags", swagger),
            ("ErrorResponseDto", "../../core/crud/dto.js"),
            ("NotifyDto", "../../core/notifications/notify.dto.js"),
            ("NotifiedDto", "../../core/notifications/notify.dto.js"),
            ("UnreadDto", "../../core/notifications/notify.dto.js"),
            ("NotificationSender", "../../core/notifications/sender.js"),
            ("NOTIFY_TABLES", "../../core/notifications/notify.tables.js"),
        ];
        let mut imports: Vec<Import> = names.iter().map(|(name, from)| Import::new(name, from)).collect();
        imports.push(Import::new(&format!("{}Repository", n.plural_class), &format!("./{}.repository.js", n.file)));
        imports.push(Import::new(&format!("{}ResponseDto", n.class), &format!("./dto/{}.dto.js", n.singular_file)));
        imports.extend((!r.swagger.value).then(|| Import::new("ApiExcludeController", swagger)));
        out.controllers.push(ExtraController {
            class: format!("{}NotifyController", n.plural_class),
            file: format!("{}.notify.controller.ts", n.file),
            body: Rendered::new("notifications/notify.controller.ts.j2", view::ControllerView::new(r, sys))?,
            routes,
            imports,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::seed;

    #[test]
    fn the_seed_notifications_become_an_outbox_with_templates_preferences_and_deliveries() {
        let m = seed(
            &["02-rbac.sql", "07-notifications.sql"],
            "[tables.users.features]\nauth = true\n\n[tables.notifications.features]\nqueue = true\n",
        );
        assert!(m.errors.is_empty(), "{:?}", m.diagnostics());
        let s = m.state::<NotificationsState>().expect("a notification system");
        let sys = &s.systems[0];
        assert_eq!(
            (
                sys.notifications.recipient.as_str(),
                sys.notifications.message.as_str(),
                sys.notifications.status.as_str()
            ),
            ("user_id", "message", "status")
        );
        assert_eq!(sys.templates.as_ref().map(|t| (t.name.as_str(), t.body.as_str())), Some(("name", "body_template")));
        let p = sys.preferences.as_ref().expect("preferences");
        assert!(p.channels.iter().any(|(c, col)| c == "email" && col == "email_enabled"));
        assert!(p.channels.iter().any(|(c, _)| c == "in-app"));
        assert_eq!(p.timezone.as_deref(), Some("quiet_hours_timezone"));
        assert_eq!(sys.deliveries.as_ref().map(|d| d.notification.as_str()), Some("notification_id"));
        let r = m.resource("notifications").unwrap();
        assert!(!r.operations.create && !r.operations.update, "sent through /notify, never written by clients");
        for c in ["status", "retry_count", "failed_reason", "sent_at", "read_at", "message", "user_id"] {
            assert_eq!(r.field(c).unwrap().access, Access::ReadOnly, "{c}");
        }
        assert!(r.features.get("own-rows").is_some_and(|x| x.value), "each is its recipient's");
        assert!(m.permissions.iter().any(|p| p.slug == "notifications:send"));
        let d = m.resource("notification_deliveries").unwrap();
        assert!(!d.operations.create && !d.operations.delete);
    }

    #[test]
    fn asked_without_sign_in_or_on_another_table_is_an_error_at_the_table() {
        let m = seed(&["07-notifications.sql"], "[tables.notifications.features]\nqueue = true\n");
        assert!(m.diagnostics().iter().any(|d| d.message.contains("no signed-in users")), "{:?}", m.diagnostics());
        let m = seed(
            &["02-rbac.sql", "07-notifications.sql"],
            "[tables.users.features]\nauth = true\n\n[tables.roles.features]\nqueue = true\n",
        );
        assert!(
            m.diagnostics().iter().any(|d| d.message.contains("roles: notification delivery asked")),
            "{:?}",
            m.diagnostics()
        );
    }
}
