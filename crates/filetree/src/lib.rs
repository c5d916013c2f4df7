//! The output of generation: relative path → file text and who owns it after it is written.
//! Emitters build it (no disk access); the writer turns it into files.

use std::collections::BTreeMap;

/// Who owns a file after it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ownership {
    /// Rewritten on every generation (user edits are merged by the writer).
    Generated,
    /// Created once, then the user's (extension points, config).
    UserOwned,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    pub content: String,
    pub ownership: Ownership,
}

/// Output of generation: relative path → file, sorted.
pub type FileTree = BTreeMap<String, GeneratedFile>;
