//! Regeneration never loses a user's work: scenario tests for every case, check and dry-run
//! modes, atomicity under an injected write failure and a kill, `remove`, refusal to write into
//! foreign folders or through symlinks, and a property test over random rounds of edits and
//! schema changes.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_nest-generator");

struct Project {
    root: PathBuf,
    api: PathBuf,
    schema: PathBuf,
}

impl Project {
    fn new(name: &str, sql: &str) -> Project {
        let root = std::env::temp_dir().join(format!("ng-regen-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let p = Project { api: root.join("api"), schema: root.join("schema.sql"), root };
        p.set_schema(sql);
        p
    }
    fn set_schema(&self, sql: &str) {
        std::fs::write(&self.schema, sql).unwrap();
    }
    /// `nest-generator generate --schema ... --out api ARGS`, from outside the project.
    fn generate(&self, args: &[&str]) -> Output {
        self.generate_env(args, &[])
    }
    fn generate_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(BIN);
        c.arg("generate")
            .arg("--schema")
            .arg(&self.schema)
            .arg("--out")
            .arg(&self.api)
            .args(args)
            .env_remove("DATABASE_URL");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.generate(args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert!(o.status.success(), "generate {args:?} failed: {err}");
        err
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.api.join(rel)
    }
    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }
    /// Every file under the project (but node_modules) → content.
    fn snapshot(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, String>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if e.file_name() == "node_modules" {
                    continue;
                }
                if p.is_dir() {
                    walk(&p, root, out);
                } else {
                    out.insert(
                        p.strip_prefix(root).unwrap().to_string_lossy().to_string(),
                        std::fs::read_to_string(&p).unwrap_or_default(),
                    );
                }
            }
        }
        walk(&self.api, &self.api, &mut out);
        out
    }
    fn mtimes(&self) -> BTreeMap<String, std::time::SystemTime> {
        self.snapshot()
            .keys()
            .map(|k| (k.clone(), std::fs::metadata(self.path(k)).unwrap().modified().unwrap()))
            .collect()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

const V1: &str = "CREATE TABLE authors (\n  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n  name text NOT NULL,\n  bio text\n);\n\
CREATE TABLE books (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  author_id uuid NOT NULL REFERENCES authors(id),\n  title varchar(200) NOT NULL,\n  pages integer,\n  created_at timestamptz NOT NULL DEFAULT now()\n);\n";

/// V1 with: books.pages renamed to page_count and made bigint, authors.bio dropped,
/// authors.email added, a new table.
const V2: &str = "CREATE TABLE authors (\n  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),\n  name text NOT NULL,\n  email varchar(255)\n);\n\
CREATE TABLE books (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  author_id uuid NOT NULL REFERENCES authors(id),\n  title varchar(200) NOT NULL,\n  page_count bigint,\n  created_at timestamptz NOT NULL DEFAULT now()\n);\n\
CREATE TABLE reviews (\n  id serial PRIMARY KEY,\n  book_id bigint NOT NULL REFERENCES books(id),\n  stars smallint NOT NULL CHECK (stars BETWEEN 1 AND 5)\n);\n";

const CONTROLLER: &str = "src/modules/books/books.controller.ts";
const RESOURCE: &str = "src/modules/books/books.resource.ts";

#[test]
fn schema_change_updates_untouched_files_and_merges_edited_ones() {
    let p = Project::new("merge", V1);
    p.ok(&[]);
    // The user adds a line to the DTO, away from the fields the schema change touches.
    let dto = "src/modules/books/dto/book.dto.ts";
    let c = p.read(dto);
    let edited = c.replacen(
        "export class BookResponseDto {",
        "// user: audited by compliance\nexport class BookResponseDto {",
        1,
    );
    assert_ne!(c, edited);
    p.write(dto, &edited);
    // An edit to a file the change does not touch stays as it is.
    let controller = p.read(CONTROLLER) + "// user: controller note\n";
    p.write(CONTROLLER, &controller);
    p.set_schema(V2);
    let err = p.ok(&[]);
    assert!(err.contains("1 merged"), "{err}");
    assert_eq!(p.read(CONTROLLER), controller);
    let merged = p.read(dto);
    assert!(merged.contains("// user: audited by compliance"), "user line kept");
    assert!(!merged.contains("<<<<<<<"), "clean merge");
    assert!(merged.contains("pageCount") && !merged.contains("pages!"), "{merged}");
    // Untouched generated files follow the schema.
    let resource = p.read(RESOURCE);
    assert!(resource.contains("'page_count'") && !resource.contains("'pages'"), "{resource}");
    assert!(p.read("src/modules/authors/authors.resource.ts").contains("'email'"));
    assert!(p.read("src/app.module.ts").contains("ReviewsModule"), "new table registered");
    common::typecheck(&p.api);
}

#[test]
fn conflicting_edits_get_markers_and_exit_1() {
    let p = Project::new("conflict", V1);
    p.ok(&[]);
    // The user edits exactly the line the schema change rewrites (the renamed column's filter key).
    let r = p.read(RESOURCE);
    let line = r.lines().find(|l| l.contains("filterKey: 'pages'")).unwrap().to_string();
    p.write(RESOURCE, &r.replace(&line, &line.replace("'pages'", "'pagesCount'")));
    p.set_schema(V2);
    let o = p.generate(&[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("conflict: {RESOURCE}")), "{err}");
    let text = p.read(RESOURCE);
    assert!(text.contains("<<<<<<<") && text.contains(">>>>>>>") && text.contains("'pagesCount'"), "{text}");
    // Everything else was still regenerated.
    assert!(p.read("src/app.module.ts").contains("ReviewsModule"));
    // A run that left conflicts records no fingerprint: the next one looks at every file again,
    // and the markers still there are still a conflict (exit 1), the file left as the user has it.
    let again = p.generate(&[]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(!err.contains("up to date"), "{err}");
    assert_eq!(again.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("conflict: {RESOURCE}")), "{err}");
    assert_eq!(p.read(RESOURCE), text, "the marked file is not rewritten");
    // Once resolved (here: the user keeps their side), the next run is clean and keeps it.
    let (mut side, mut resolved) = (0, String::new());
    for l in text.lines() {
        if l.starts_with("<<<<<<<") {
            side = 1;
        } else if l.starts_with("=======") || l.starts_with("|||||||") {
            side = 2;
        } else if l.starts_with(">>>>>>>") {
            side = 0;
        } else if side < 2 {
            resolved.push_str(l);
            resolved.push('\n');
        }
    }
    assert!(resolved.contains("'pagesCount'") && !resolved.contains("<<<<<<<"));
    p.write(RESOURCE, &resolved);
    let err = p.ok(&[]);
    assert!(!err.contains("conflict: "), "{err}");
    assert_eq!(p.read(RESOURCE), resolved);
}

#[test]
fn user_owned_files_are_never_rewritten() {
    let p = Project::new("owned", V1);
    p.ok(&[]);
    let svc = "src/modules/books/books.service.ts";
    let mine = "// all mine\nexport class Whatever {}\n";
    p.write(svc, mine);
    p.write("nest-generator.toml", "# mine too\n");
    p.set_schema(V2);
    p.ok(&[]);
    assert_eq!(p.read(svc), mine);
    assert_eq!(p.read("nest-generator.toml"), "# mine too\n");
    // Deleted by the user: created again (it is the module's extension point).
    std::fs::remove_file(p.path(svc)).unwrap();
    p.ok(&[]);
    assert!(p.read(svc).contains("extends BooksServiceBase"));
}

#[test]
fn dropped_table_files_go_unless_edited() {
    let p = Project::new("drop", V2);
    p.ok(&[]);
    let edited = "src/modules/reviews/reviews.controller.ts";
    let text = p.read(edited) + "// keep me\n";
    p.write(edited, &text);
    p.set_schema(V1);
    let err = p.ok(&[]);
    assert!(err.contains(&format!("kept: {edited}")), "{err}");
    assert_eq!(p.read(edited), text);
    assert!(!p.path("src/modules/reviews/reviews.module.ts").exists(), "unedited files deleted");
    assert!(!p.read("src/app.module.ts").contains("ReviewsModule"), "registration removed");
}

#[test]
fn feature_flag_toggle_regenerates_the_module() {
    let p = Project::new("flags", V1);
    p.ok(&["books", "--features.readonly=true"]);
    assert!(!p.read(CONTROLLER).contains("@Post("));
    // Run inside the project, as the seed commands are written.
    let o = Command::new(BIN)
        .args(["generate", "books", "--features.readonly=false"])
        .current_dir(&p.api)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(p.read(CONTROLLER).contains("@Post("));
}

#[test]
fn check_and_dry_run_write_nothing() {
    let p = Project::new("check", V1);
    p.ok(&[]);
    assert_eq!(p.generate(&["--check"]).status.code(), Some(0), "fresh project is up to date");
    let before = p.snapshot();
    let times = p.mtimes();
    p.set_schema(V2);
    let o = p.generate(&["--check"]);
    assert_eq!(o.status.code(), Some(1));
    let stale = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(stale.lines().any(|l| l == RESOURCE), "{stale}");
    let o = p.generate(&["--dry-run"]);
    assert_eq!(o.status.code(), Some(0));
    let diff = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(diff.contains(&format!("+++ b/{RESOURCE}")) && diff.contains("+      column: 'page_count',"), "{diff}");
    assert_eq!(p.snapshot(), before, "nothing written");
    assert_eq!(p.mtimes(), times, "nothing touched");
}

#[test]
fn unchanged_input_rewrites_nothing() {
    let p = Project::new("same", V2);
    p.ok(&[]);
    let before = p.snapshot();
    let times = p.mtimes();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let err = p.ok(&[]);
    assert!(err.contains("up to date: schema, settings, templates and generator"), "{err}");
    assert_eq!(p.snapshot(), before, "byte-identical");
    assert_eq!(p.mtimes(), times, "modification times unchanged");
    // The full comparison (--check never takes the shortcut) agrees: nothing is stale.
    let o = p.generate(&["--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("up to date: "));
    // So does a run from inside the project, which finds its schema through its own config.
    let o = Command::new(BIN).arg("generate").current_dir(&p.api).env_remove("DATABASE_URL").output().unwrap();
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("up to date: schema"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(p.mtimes(), times, "modification times unchanged");
}

/// Settings given with `--config` when a project is made go into its own nest-generator.toml:
/// a run from inside the project without `--config` keeps them (nothing is stale).
#[test]
fn a_config_file_given_at_creation_is_kept_by_the_project() {
    let p = Project::new("config", V1);
    let config = p.root.join("settings.toml");
    std::fs::write(
        &config,
        "out = \"elsewhere\"\n[tables.authors]\nsearch = [\"name\", \"bio\"]\nroute = \"writers\"\n",
    )
    .unwrap();
    p.ok(&["--config", config.to_str().unwrap()]);
    let toml = p.read("nest-generator.toml");
    assert!(
        toml.contains("[tables.authors]\nsearch = [\"name\", \"bio\"]") && toml.contains("# out = \"elsewhere\""),
        "{toml}"
    );
    let spec = p.read("src/modules/writers/writers.resource.ts");
    assert!(spec.contains("kind: 'text'") && spec.contains("columns: ['name', 'bio']"), "{spec}");
    let o = Command::new(BIN)
        .args(["generate", "--check"])
        .current_dir(&p.api)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The up-to-date shortcut is taken only when nothing that decides the output moved: every
/// input below makes the next run a full one that applies it.
#[test]
fn the_up_to_date_check_follows_every_input() {
    let p = Project::new("uptodate", V1);
    let full = |err: &str| !err.contains("up to date");
    p.ok(&[]);
    assert!(!full(&p.ok(&[])), "nothing changed");
    // An edit the user made stays (the shortcut writes nothing, as a full run would not).
    let controller = p.read(CONTROLLER) + "// user: kept\n";
    p.write(CONTROLLER, &controller);
    assert!(!full(&p.ok(&[])));
    assert_eq!(p.read(CONTROLLER), controller);
    // A generated file deleted by hand comes back.
    std::fs::remove_file(p.path(RESOURCE)).unwrap();
    let err = p.ok(&[]);
    assert!(err.contains(" 1 created"), "{err}");
    assert!(p.read(RESOURCE).contains("'pages'"));
    assert!(!full(&p.ok(&[])));
    // The schema's bytes.
    p.set_schema(&V1.replace("pages integer", "pages bigint"));
    let err = p.ok(&[]);
    assert!(full(&err) && err.contains(" updated"), "{err}");
    assert!(!full(&p.ok(&[])));
    // A flag on the command line.
    assert!(full(&p.ok(&["--features.cache=true"])));
    assert!(p.read(RESOURCE).to_lowercase().contains("cache"), "the flag applied");
    // The project's settings file.
    let toml = p.path("nest-generator.toml");
    let settings = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{settings}\n[cache]\nttl = 120\n")).unwrap();
    let err = p.ok(&[]);
    assert!(full(&err), "{err}");
    assert!(p.read(RESOURCE).contains("ttl: 120"), "the setting applied");
    assert!(!full(&p.ok(&[])));
    // Template overrides, and their contents.
    let tpl = p.root.join("tpl/resource");
    std::fs::create_dir_all(&tpl).unwrap();
    std::fs::write(
        tpl.join("service.base.ts.j2"),
        "// base one\nexport abstract class {{ plural_class }}ServiceBase {}\n",
    )
    .unwrap();
    let tpl_dir = p.root.join("tpl");
    let with_tpl = ["--templates", tpl_dir.to_str().unwrap()];
    assert!(full(&p.ok(&with_tpl)));
    assert!(p.read("src/modules/books/books.service.base.ts").contains("// base one"));
    assert!(!full(&p.ok(&with_tpl)));
    std::fs::write(
        tpl.join("service.base.ts.j2"),
        "// base two\nexport abstract class {{ plural_class }}ServiceBase {}\n",
    )
    .unwrap();
    assert!(full(&p.ok(&with_tpl)));
    assert!(p.read("src/modules/books/books.service.base.ts").contains("// base two"));
}

#[test]
fn bad_schema_and_injected_failure_leave_the_tree_intact() {
    let p = Project::new("atomic", V1);
    p.ok(&[]);
    let before = p.snapshot();
    p.set_schema("CREATE TABLE broken (id int REFERENCES nowhere(id));");
    assert_eq!(p.generate(&[]).status.code(), Some(1));
    assert_eq!(p.snapshot(), before, "bad schema: nothing written");
    p.set_schema(V2);
    let o = p.generate_env(&[], &[("NEST_GENERATOR_FAULT", "stage:5")]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("injected write failure"));
    assert_eq!(p.snapshot(), before, "write failure: previous tree intact, no staging left");
}

/// A new project is written beside `--out` and renamed into place whole: a failure or a kill
/// leaves no folder there (and no half-written one), and the next run starts clean.
#[test]
fn a_new_project_appears_whole_or_not_at_all() {
    let p = Project::new("fresh", V1);
    let listing = || -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(&p.root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
        v.sort();
        v
    };
    let o = p.generate_env(&[], &[("NEST_GENERATOR_FAULT", "stage:5")]);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(listing(), ["schema.sql"], "a failed write leaves nothing beside the schema");
    let o = p.generate_env(&[], &[("NEST_GENERATOR_FAULT", "abort-after-stage:3")]);
    assert!(o.status.code().is_none(), "killed by a signal");
    assert!(!p.api.exists(), "a kill leaves no project folder");
    // Into an empty folder the user made: the same, and the next run finishes and cleans up.
    std::fs::create_dir_all(&p.api).unwrap();
    p.ok(&[]);
    assert_eq!(listing(), ["api", "schema.sql"], "the leftover of the killed run is gone");
    let reference = Project::new("fresh-ref", V1);
    reference.ok(&[]);
    assert_eq!(p.snapshot(), reference.snapshot(), "the same tree as an uninterrupted run");
    // A non-empty folder that is not a project is still refused.
    let q = Project::new("fresh-busy", V1);
    std::fs::create_dir_all(&q.api).unwrap();
    std::fs::write(q.api.join("notes.txt"), "mine").unwrap();
    assert_ne!(q.generate(&[]).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(q.api.join("notes.txt")).unwrap(), "mine");
}

#[test]
fn a_kill_between_moves_leaves_whole_files_and_the_next_run_finishes() {
    let p = Project::new("kill", V1);
    p.ok(&[]);
    let old = p.snapshot();
    p.set_schema(V2);
    // Killed while staging (most of a run): the project is exactly as it was.
    let o = p.generate_env(&[], &[("NEST_GENERATOR_FAULT", "abort-after-stage:3")]);
    assert!(o.status.code().is_none(), "killed by a signal");
    let after_kill: BTreeMap<String, String> =
        p.snapshot().into_iter().filter(|(k, _)| !k.starts_with(".nest-generator/staging-")).collect();
    assert_eq!(after_kill, old, "a kill while staging leaves the previous tree intact");
    // Killed between moves: every file whole, old or new.
    let o = p.generate_env(&[], &[("NEST_GENERATOR_FAULT", "abort-after-move:4")]);
    assert!(!o.status.success() && o.status.code().is_none(), "killed by a signal");
    // Every project file is whole: its old or its new version.
    let fresh = Project::new("kill-ref", V2);
    fresh.ok(&[]);
    let new = fresh.snapshot();
    let mid = p.snapshot();
    let mut moved = 0;
    for (path, text) in &mid {
        if path.starts_with(".nest-generator") {
            continue;
        }
        let is_old = old.get(path) == Some(text);
        let is_new = new.get(path) == Some(text);
        assert!(is_old || is_new, "{path} is neither the old nor the new version");
        if !is_old {
            moved += 1;
        }
    }
    assert!(moved >= 1, "some files had moved before the kill");
    let err = p.ok(&[]);
    assert!(err.contains("interrupted"), "{err}");
    let done = p.snapshot();
    for (path, text) in &new {
        if path.starts_with(".nest-generator") || path == "nest-generator.toml" {
            continue;
        }
        assert_eq!(done.get(path), Some(text), "{path} after recovery");
    }
}

#[test]
fn a_kill_while_writing_the_journal_leaves_the_tree_intact() {
    let p = Project::new("torn", V1);
    p.ok(&[]);
    let before = p.snapshot();
    p.set_schema(V2);
    let o = p.generate_env(&[], &[("NEST_GENERATOR_FAULT", "torn-journal:1")]);
    assert!(!o.status.success() && o.status.code().is_none(), "killed by a signal");
    assert!(p.path(".nest-generator/journal.json.tmp").is_file(), "a torn journal was left behind");
    let after: BTreeMap<String, String> =
        p.snapshot().into_iter().filter(|(k, _)| !k.starts_with(".nest-generator/")).collect();
    let before: BTreeMap<String, String> =
        before.into_iter().filter(|(k, _)| !k.starts_with(".nest-generator/")).collect();
    assert_eq!(after, before, "nothing moved: every file is the old one");
    // The next run ignores the torn journal and generates V2 in full.
    p.ok(&[]);
    assert!(!p.path(".nest-generator/journal.json.tmp").exists());
    assert!(p.read("src/modules/books/books.resource.ts").contains("column: 'page_count'"));
    assert!(p.path("src/modules/reviews/reviews.controller.ts").is_file());
}

#[test]
fn remove_a_table() {
    let p = Project::new("remove", V2);
    p.ok(&[]);
    let o = Command::new(BIN).args(["remove", "reviews"]).current_dir(&p.api).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!p.path("src/modules/reviews").exists());
    assert!(!p.read("src/app.module.ts").contains("ReviewsModule"));
    let manifest = p.read(".nest-generator/manifest.json");
    assert!(!manifest.contains("public.reviews"));
    let o = Command::new(BIN).args(["remove", "nope"]).current_dir(&p.api).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    common::typecheck(&p.api);
}

#[test]
fn foreign_folders_and_symlinks_are_refused() {
    let p = Project::new("foreign", V1);
    std::fs::create_dir_all(&p.api).unwrap();
    p.write("README.md", "# my own project\n");
    let o = p.generate(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(std::fs::read_dir(&p.api).unwrap().count(), 1, "nothing written");
    // With --force, the user's README is merged, never overwritten.
    let o = p.generate(&["--force"]);
    assert_eq!(o.status.code(), Some(1), "conflict with the user's README");
    let readme = p.read("README.md");
    assert!(readme.contains("# my own project") && readme.contains("<<<<<<<"));

    let q = Project::new("symlink", V1);
    q.ok(&[]);
    let outside = q.root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::remove_dir_all(q.path("src/modules/books")).unwrap();
    std::os::unix::fs::symlink(&outside, q.path("src/modules/books")).unwrap();
    let o = q.generate(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("symlink"));
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "nothing written through the link");
}

/// xorshift64*: deterministic rounds.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A random schema: tables t0..tn with random columns.
fn random_schema(tables: &BTreeMap<String, Vec<(String, String)>>) -> String {
    let mut s = String::new();
    for (t, cols) in tables {
        let mut lines = vec!["  id uuid PRIMARY KEY DEFAULT gen_random_uuid()".to_string()];
        lines.extend(cols.iter().map(|(c, ty)| format!("  {c} {ty}")));
        s.push_str(&format!("CREATE TABLE {t} (\n{}\n);\n", lines.join(",\n")));
    }
    s
}

#[test]
fn property_no_user_line_is_ever_lost() {
    const TYPES: &[&str] = &[
        "text",
        "integer",
        "bigint",
        "boolean",
        "timestamptz",
        "numeric(10,2)",
        "varchar(50) NOT NULL",
        "jsonb",
        "date",
    ];
    let mut rng = Rng(0x5EED_1234_ABCD);
    let mut tables: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for t in 0..3 {
        tables.insert(
            format!("t{t}"),
            (0..3).map(|c| (format!("c{c}"), TYPES[(t + c) % TYPES.len()].to_string())).collect(),
        );
    }
    let p = Project::new("property", &random_schema(&tables));
    p.ok(&[]);
    // user line → file it was added to
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut conflicts = 0;
    let mut next_col = 100;
    for round in 0..25 {
        // The user adds a line to a generated file, anywhere in it (so merges meet changes
        // right beside it, and sometimes conflict).
        let files: Vec<String> = p
            .snapshot()
            .keys()
            .filter(|k| k.starts_with("src/modules/") && k.ends_with(".ts") && !k.ends_with(".service.ts"))
            .cloned()
            .collect();
        if !files.is_empty() {
            let f = &files[rng.below(files.len())];
            let text = p.read(f);
            let mut ls: Vec<&str> = text.lines().collect();
            let at = 1 + rng.below(ls.len().max(1));
            let marker = format!("// user line {round}");
            ls.insert(at.min(ls.len()), &marker);
            p.write(f, &(ls.join("\n") + "\n"));
            lines.push((f.clone(), marker));
        }
        // The schema changes.
        let names: Vec<String> = tables.keys().cloned().collect();
        let t = names[rng.below(names.len())].clone();
        match rng.below(6) {
            0 => {
                tables.get_mut(&t).unwrap().push((format!("c{next_col}"), TYPES[rng.below(TYPES.len())].to_string()));
                next_col += 1;
            }
            1 if tables[&t].len() > 1 => {
                let i = rng.below(tables[&t].len());
                tables.get_mut(&t).unwrap().remove(i);
            }
            2 => {
                let cols = tables.get_mut(&t).unwrap();
                let i = rng.below(cols.len());
                cols[i].0 = format!("c{next_col}");
                next_col += 1;
            }
            3 => {
                let cols = tables.get_mut(&t).unwrap();
                let i = rng.below(cols.len());
                cols[i].1 = TYPES[rng.below(TYPES.len())].to_string();
            }
            4 => {
                tables.insert(format!("t{}", 10 + round), vec![("name".into(), "text".into())]);
            }
            _ if tables.len() > 2 => {
                tables.remove(&t);
            }
            _ => {}
        }
        p.set_schema(&random_schema(&tables));
        let o = p.generate(&[]);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        let conflicted: Vec<String> =
            p.snapshot().into_iter().filter(|(_, t)| t.contains("<<<<<<<")).map(|(k, _)| k).collect();
        match o.status.code() {
            Some(0) => assert!(conflicted.is_empty(), "round {round}: exit 0 with conflict markers in {conflicted:?}"),
            Some(1) => {
                assert!(!conflicted.is_empty(), "round {round}: exit 1 without a conflict: {err}");
                for f in &conflicted {
                    assert!(err.contains(f.as_str()), "round {round}: conflict in {f} not reported: {err}");
                }
                conflicts += 1;
            }
            other => panic!("round {round}: exit {other:?}: {err}"),
        }
        // The property: every line the user wrote is still in its file (merged, or inside
        // conflict markers, or in a file kept because it was edited).
        for (f, marker) in &lines {
            let text = std::fs::read_to_string(p.path(f))
                .unwrap_or_else(|_| panic!("round {round}: {f} (edited) was deleted"));
            assert!(text.contains(marker.as_str()), "round {round}: `{marker}` lost from {f}");
        }
        // The user resolves conflicts: the generator's side, plus their own lines.
        for f in &conflicted {
            p.write(f, &resolve(&p.read(f)));
        }
        // And the schema change landed in every resource spec, edited or not.
        for (t, cols) in &tables {
            let spec = p.read(&format!("src/modules/{t}/{t}.resource.ts"));
            for (c, _) in cols {
                assert!(spec.contains(&format!("column: '{c}'")), "round {round}: {t}.{c} missing from its spec");
            }
            let listed = spec.matches("column: 'c").count();
            assert_eq!(
                listed,
                cols.iter().filter(|(c, _)| c.starts_with('c')).count(),
                "round {round}: {t}'s spec has dropped columns"
            );
        }
    }
    assert!(conflicts > 0, "25 rounds of edits anywhere gave no conflict: the test no longer exercises one");
}

/// Resolve conflict markers as a user would: keep the generated side and the user's own lines.
fn resolve(text: &str) -> String {
    let mut out = Vec::new();
    let mut section = None;
    for l in text.lines() {
        match l {
            _ if l.starts_with("<<<<<<<") => section = Some("ours"),
            _ if l.starts_with("|||||||") => section = Some("base"),
            _ if l.starts_with("=======") => section = Some("theirs"),
            _ if l.starts_with(">>>>>>>") => section = None,
            _ => match section {
                Some("ours") if l.starts_with("// user line") => out.push(l),
                Some("ours") | Some("base") => {}
                _ => out.push(l),
            },
        }
    }
    out.join("\n") + "\n"
}
