//! No input makes the reader panic: every prefix of the seed files (cut at many points, also
//! inside strings, dollar quotes and comments), and random token soup from a deterministic
//! generator. A panic fails the test with the input that caused it.

use nest_ddl::parse_str;
use std::path::Path;

/// xorshift64*: deterministic, no dependency.
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

fn check(input: &str) {
    let owned = input.to_string();
    let r = std::panic::catch_unwind(move || {
        let _ = parse_str("fuzz.sql", &owned);
    });
    assert!(r.is_ok(), "reader panicked on input:\n---\n{input}\n---");
}

fn seed_texts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut out = Vec::new();
    for sub in ["seed", "pg"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "sql") {
                out.push(std::fs::read_to_string(p).unwrap());
            }
        }
    }
    out
}

#[test]
fn truncated_seed_files_never_panic() {
    for text in seed_texts() {
        let bounds: Vec<usize> = (0..=text.len()).filter(|i| text.is_char_boundary(*i)).collect();
        // Every 5th cut point, and every cut in the first 200 bytes.
        for (k, &b) in bounds.iter().enumerate() {
            if k % 5 == 0 || b < 200 {
                check(&text[..b]);
                check(&text[b..]);
            }
        }
    }
}

const VOCAB: &[&str] = &[
    "CREATE",
    "TABLE",
    "INDEX",
    "UNIQUE",
    "ON",
    "ALTER",
    "ADD",
    "COLUMN",
    "CONSTRAINT",
    "PRIMARY",
    "KEY",
    "FOREIGN",
    "REFERENCES",
    "CHECK",
    "DEFAULT",
    "NOT",
    "NULL",
    "DROP",
    "RENAME",
    "TO",
    "TYPE",
    "AS",
    "ENUM",
    "DOMAIN",
    "VIEW",
    "MATERIALIZED",
    "SELECT",
    "FROM",
    "WHERE",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "POLICY",
    "USING",
    "WITH",
    "TRIGGER",
    "FUNCTION",
    "RETURNS",
    "LANGUAGE",
    "PARTITION",
    "OF",
    "BY",
    "RANGE",
    "FOR",
    "GENERATED",
    "ALWAYS",
    "IDENTITY",
    "SEQUENCE",
    "OWNED",
    "ONLY",
    "ATTACH",
    "COMMENT",
    "IS",
    "EXTENSION",
    "meta.table_metadata",
    "meta.enterprise_features",
    "users",
    "t",
    "id",
    "name",
    "x",
    "public.t",
    "\"Q\"",
    "uuid",
    "int",
    "varchar(10)",
    "numeric(10,2)",
    "text[]",
    "timestamptz",
    "jsonb",
    "serial",
    "mood",
    "(",
    ")",
    ",",
    ";",
    ";",
    ";",
    ".",
    "::",
    "=",
    "<>",
    "||",
    "'a'",
    "'it''s'",
    "E'\\''",
    "$$",
    "$x$",
    "$1",
    "--",
    "/*",
    "*/",
    "\n",
    "\\restrict x\n",
    "\\.",
    "0",
    "-1",
    "1.5",
    "true",
    "ARRAY[",
    "]",
    "[]",
    "create_hypertable('t','x')",
    "IN",
    "(1,2)",
    "IF",
    "EXISTS",
    "CASCADE",
    "BEGIN",
    "ATOMIC",
    "END",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "ÿ",
    "é",
    "ON CONFLICT",
    "DO NOTHING",
    "DO UPDATE",
    "EXCLUDED.x",
];

#[test]
fn random_token_soup_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let n = 1 + rng.below(60);
        let mut s = String::new();
        for _ in 0..n {
            s.push_str(VOCAB[rng.below(VOCAB.len())]);
            s.push(if rng.below(4) == 0 { '\n' } else { ' ' });
        }
        check(&s);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let n = rng.below(200);
        let bytes: Vec<u8> = (0..n).map(|_| (rng.next() & 0x7f) as u8).collect();
        check(&String::from_utf8_lossy(&bytes));
    }
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    let deep = format!("CREATE TABLE t (id int CHECK ({}1{}));", "(".repeat(5000), ")".repeat(5000));
    check(&deep);
    let deep = format!("CREATE TABLE t (id int DEFAULT {}1);", "-".repeat(5000));
    check(&deep);
}
