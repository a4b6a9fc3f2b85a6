//! What `tile-check` needs from its environment, read once at start.

/// The function's settings. The SAM template sets every variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileCheckConfig {
    /// The uploads bucket (`BUCKET`); the adapters are built over it though the check reads only the table.
    pub bucket: String,
    /// The one DynamoDB table (`TABLE`).
    pub table: String,
}

/// A required variable is missing or empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the environment variable {name} is not set ({what}); the SAM template sets it, set it yourself to run the function elsewhere")]
pub struct MissingVar {
    pub name: &'static str,
    pub what: &'static str,
}

impl TileCheckConfig {
    pub fn from_env() -> Result<Self, MissingVar> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var` (the environment, or a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, MissingVar> {
        let required = |name: &'static str, what: &'static str| {
            var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).ok_or(MissingVar { name, what })
        };
        Ok(Self { bucket: required("BUCKET", "the uploads bucket name")?, table: required("TABLE", "the DynamoDB table name")? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_names_are_required() {
        let config = TileCheckConfig::from_lookup(|name| Some(format!("{name}-value"))).unwrap();
        assert_eq!(config, TileCheckConfig { bucket: "BUCKET-value".into(), table: "TABLE-value".into() });
        let error = TileCheckConfig::from_lookup(|name| (name == "BUCKET").then(|| "b".to_string())).unwrap_err();
        assert_eq!(error.name, "TABLE");
        assert!(error.to_string().contains("TABLE is not set"), "{error}");
    }
}
