//! Model-stage errors: typed, located where the input allows (the table's definition), and
//! turned into the same diagnostics the readers print.

use nest_catalog::{Diagnostic, Location, Table, codes};
use std::error::Error;

/// A feature's own error type: says how to fix it.
pub trait FeatureError: Error + Send + Sync + 'static {
    /// One line: what to change (in the schema, the config or the flags).
    fn help(&self) -> String;
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A table named on the command line that the schema does not have.
    #[error("table `{spec}` is not in the schema")]
    UnknownTable { spec: String, known: Vec<String> },
    /// A feature cannot be built as the input stands.
    #[error("{error}")]
    Feature {
        feature: &'static str,
        /// Where the table it is about is defined, when known.
        at: Option<Location>,
        error: Box<dyn FeatureError>,
    },
}

impl ModelError {
    /// A feature's error about `table` (located at its definition).
    pub fn feature(feature: &'static str, table: Option<&Table>, error: impl FeatureError) -> Self {
        ModelError::Feature { feature, at: table.and_then(|t| t.origin.clone()), error: Box::new(error) }
    }

    pub fn to_diagnostic(&self) -> Diagnostic {
        match self {
            ModelError::UnknownTable { known, .. } => {
                Diagnostic::error(codes::UNKNOWN_TABLE, &Location::default(), self.to_string())
                    .with_help(format!("known tables: {}", known.join(", ")))
            }
            ModelError::Feature { at, error, .. } => {
                Diagnostic::error(codes::BAD_METADATA, at.as_ref().unwrap_or(&Location::default()), self.to_string())
                    .with_help(error.help())
            }
        }
    }
}
