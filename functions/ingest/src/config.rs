//! What `ingest` needs from its environment, read once at start.

/// The function's settings. The SAM template sets every variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// The uploads bucket (`BUCKET`).
    pub bucket: String,
    /// The one DynamoDB table (`TABLE`).
    pub table: String,
    /// The SES configuration set kickstart and invite mails go through (`SES_CONFIGURATION_SET`;
    /// empty or unset: none).
    pub ses_configuration_set: Option<String>,
}

/// A required variable is missing or empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the environment variable {name} is not set ({what}); the SAM template sets it, set it yourself to run the function elsewhere")]
pub struct MissingVar {
    pub name: &'static str,
    pub what: &'static str,
}

impl IngestConfig {
    pub fn from_env() -> Result<Self, MissingVar> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var` (the environment, or a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, MissingVar> {
        let value = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let required = |name: &'static str, what: &'static str| value(name).ok_or(MissingVar { name, what });
        Ok(Self {
            bucket: required("BUCKET", "the uploads bucket name")?,
            table: required("TABLE", "the DynamoDB table name")?,
            ses_configuration_set: value("SES_CONFIGURATION_SET"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn reads_the_variables_and_treats_empty_as_unset() {
        let config = IngestConfig::from_lookup(lookup(&[("BUCKET", "b"), ("TABLE", "t"), ("SES_CONFIGURATION_SET", "")])).unwrap();
        assert_eq!(config, IngestConfig { bucket: "b".into(), table: "t".into(), ses_configuration_set: None });
        let config = IngestConfig::from_lookup(lookup(&[("BUCKET", "b"), ("TABLE", "t"), ("SES_CONFIGURATION_SET", "tracking")])).unwrap();
        assert_eq!(config.ses_configuration_set.as_deref(), Some("tracking"));
    }

    #[test]
    fn a_missing_variable_is_named() {
        let error = IngestConfig::from_lookup(lookup(&[("BUCKET", "b"), ("TABLE", " ")])).unwrap_err();
        assert_eq!(error.name, "TABLE");
        assert!(error.to_string().contains("TABLE is not set"), "{error}");
    }
}
