//! Located messages about the input: parse failures, facts that break the model.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// A position in an input file; lines and columns count from 1.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Stable diagnostic codes; tests and users match on these.
pub mod codes {
    /// A statement the SQL parser could not read; it was skipped.
    pub const UNPARSED_STATEMENT: &str = "unparsed-statement";
    /// A statement kind the tool does not model (it had no effect on the catalog).
    pub const IGNORED_STATEMENT: &str = "ignored-statement";
    /// Two definitions of the same table, view or type.
    pub const DUPLICATE_OBJECT: &str = "duplicate-object";
    /// A statement names a table that was never created.
    pub const UNKNOWN_TABLE: &str = "unknown-table";
    /// A constraint or index names a column its table does not have.
    pub const UNKNOWN_COLUMN: &str = "unknown-column";
    /// A column uses a type that is neither built in nor declared.
    pub const UNKNOWN_TYPE: &str = "unknown-type";
    /// A foreign key references a table that never appears.
    pub const UNKNOWN_FK_TARGET: &str = "unknown-foreign-key-target";
    /// `PARTITION OF` a table that was not declared `PARTITION BY`.
    pub const PARENT_NOT_PARTITIONED: &str = "partition-parent-not-partitioned";
    /// A metadata row (meta.*) that cannot be used as written.
    pub const BAD_METADATA: &str = "bad-metadata";
    /// The input has no table at all.
    pub const EMPTY_SCHEMA: &str = "empty-schema";
    /// A file or directory could not be read.
    pub const IO: &str = "io";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub code: String,
    pub severity: Severity,
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, code: &str, at: &Location, message: impl Into<String>) -> Self {
        Diagnostic {
            code: code.to_string(),
            severity,
            file: at.file.clone(),
            line: at.line,
            column: at.column,
            message: message.into(),
            help: None,
        }
    }
    pub fn error(code: &str, at: &Location, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, at, message)
    }
    pub fn warning(code: &str, at: &Location, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, code, at, message)
    }
    pub fn info(code: &str, at: &Location, message: impl Into<String>) -> Self {
        Self::new(Severity::Info, code, at, message)
    }
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    pub fn location(&self) -> Location {
        Location { file: self.file.clone(), line: self.line, column: self.column }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}[{}]: {}", self.file, self.line, self.column, self.severity, self.code, self.message)?;
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}
