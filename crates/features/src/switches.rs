//! Registry entries that are not feature folders: switches of the core CRUD (read-only routes,
//! soft delete, OpenAPI, versioned routes), which the core reads by id.

use nest_model::{FeatureDef, MetaSwitch, Resolve};
use nest_nestjs::Contribute;

/// A switch the core CRUD reads by id.
pub struct CoreSwitch(pub &'static FeatureDef);

impl Resolve for CoreSwitch {
    fn def(&self) -> &'static FeatureDef {
        self.0
    }
}

impl Contribute for CoreSwitch {}

const fn core(id: &'static str, about: &'static str, meta: MetaSwitch) -> FeatureDef {
    FeatureDef { id, about, meta, implemented: true }
}

pub static READONLY: FeatureDef = core("readonly", "only read routes", MetaSwitch::TableMetadata("is_readonly"));
pub static SOFT_DELETE: FeatureDef =
    core("soft-delete", "DELETE sets deleted_at; POST /:id/restore", MetaSwitch::TableMetadata("has_soft_delete"));
pub static SWAGGER: FeatureDef =
    core("swagger", "routes documented in OpenAPI", MetaSwitch::TableMetadata("enable_swagger"));
pub static VERSIONING: FeatureDef =
    core("versioning", "routes under /v1", MetaSwitch::TableMetadata("enable_versioning"));
pub static SELECT: FeatureDef = core(
    "select",
    "select=: chosen fields and embedded related rows on list and get (their answers are then typed as selections)",
    MetaSwitch::None,
);
pub static AGGREGATE: FeatureDef = core(
    "aggregate",
    "GET /<table>/aggregate: counts, sums, averages, minima, maxima per group and time bucket, with the list's filters",
    MetaSwitch::None,
);
pub static EXPORT: FeatureDef = core(
    "export",
    "GET /<table>/export: the list's rows streamed as CSV or NDJSON (a database cursor), or XLSX up to EXPORT_XLSX_MAX_ROWS",
    MetaSwitch::None,
);

#[cfg(test)]
mod tests {
    use crate::testing::{field, model};
    use nest_model::search::Search;

    #[test]
    fn a_table_named_like_an_app_route_gets_another_route() {
        let m = model("CREATE TABLE docs (id int PRIMARY KEY); CREATE TABLE health (id int PRIMARY KEY);", "");
        assert_eq!(m.resource("docs").unwrap().names.route, "public-docs");
        assert_eq!(m.resource("health").unwrap().names.route, "public-health");
    }

    #[test]
    fn search_vectors_are_searched_only_when_clients_may_read_their_sources() {
        let sql = "CREATE TABLE open (id int PRIMARY KEY, title text, body text, \
                     doc tsvector GENERATED ALWAYS AS (to_tsvector('english', coalesce(title, '') || ' ' || coalesce(body, ''))) STORED);
                   CREATE TABLE leaky (id int PRIMARY KEY, label text, client_secret text, doc tsvector);
                   CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
                   CREATE TRIGGER t BEFORE INSERT OR UPDATE ON leaky FOR EACH ROW EXECUTE FUNCTION tsvector_update_trigger('doc', 'pg_catalog.english', 'label', 'client_secret');
                   CREATE TABLE unknown (id int PRIMARY KEY, doc tsvector);
                   CREATE TRIGGER u BEFORE INSERT ON unknown FOR EACH ROW EXECUTE FUNCTION f();";
        let m = model(sql, "");
        // Never returned, never filtered: it holds its sources' words.
        for t in ["open", "leaky", "unknown"] {
            let f = field(&m, t, "doc");
            assert!(!f.readable() && f.ops.is_empty(), "{t}: {f:?}");
        }
        assert_eq!(m.resource("open").unwrap().search, Some(Search::Vector { column: "doc".into(), config: None }));
        let leaky = m.resource("leaky").unwrap();
        assert_eq!(leaky.search, None, "built from a secret");
        assert!(leaky.notes.iter().any(|n| n.message.contains("client_secret")), "{:?}", leaky.notes);
        assert_eq!(m.resource("unknown").unwrap().search, None, "sources not in the schema");
        // Named on purpose, a vector is searched; one built from a secret is refused.
        let m = model(sql, "[tables.unknown]\nsearch = [\"doc\"]\n");
        assert!(matches!(m.resource("unknown").unwrap().search, Some(Search::Vector { .. })));
        let m = model(sql, "[tables.leaky]\nsearch = [\"doc\"]\n");
        assert!(m.errors.iter().any(|e| e.to_string().contains("client_secret")), "{:?}", m.errors);
    }

    #[test]
    fn aggregate_and_export_are_on_unless_a_table_turns_them_off() {
        let sql = "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY);";
        let m = model(sql, "[tables.b]\nfeatures = { aggregate = false, export = false }\n");
        let (a, b) = (m.resource("a").unwrap(), m.resource("b").unwrap());
        assert!(a.aggregates() && a.exports());
        assert!(!b.aggregates() && !b.exports());
        let routes = |r| nest_nestjs::core_routes(r).into_iter().map(|x| x.id).collect::<Vec<_>>();
        assert!(routes(a).contains(&"aggregate".to_string()) && routes(a).contains(&"export".to_string()));
        assert!(!routes(b).iter().any(|x| x == "aggregate" || x == "export"));
    }

    #[test]
    fn configured_search_columns_are_readable_text() {
        let sql = "CREATE TABLE posts (id int PRIMARY KEY, title text, n int, password_hash text);";
        let m = model(sql, "[tables.posts]\nsearch = [\"title\"]\nsearch_config = \"english\"\n");
        let posts = m.resource("posts").unwrap();
        assert_eq!(posts.search, Some(Search::Text { columns: vec!["title".into()], config: "english".into() }));
        let (name, def) = posts.search.as_ref().unwrap().index(posts).unwrap();
        let hash = name.strip_prefix("posts_search_").expect("named after the table");
        assert!(hash.len() == 8 && hash.chars().all(|c| c.is_ascii_hexdigit()), "{name}");
        assert_eq!(def, "USING gin ((to_tsvector('english'::regconfig, coalesce(title, ''))))");
        for (cfg, what) in [
            ("search = [\"n\"]", "not a text column"),
            ("search = [\"password_hash\"]", "hidden"),
            ("search = [\"nope\"]", "not a column"),
            ("search = [\"title\"]\nsearch_config = \"english'--\"", "not a text search configuration"),
        ] {
            let m = model(sql, &format!("[tables.posts]\n{cfg}\n"));
            assert!(m.errors.iter().any(|e| e.to_string().contains(what)), "{cfg}: {:?}", m.errors);
        }
    }
}
