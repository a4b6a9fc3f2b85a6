//! What `validation-report` needs from its environment, read once at start.

use onboarding::domain::config::{Config, Mailbox};
use onboarding::domain::issue::FileRejection;
use onboarding::domain::values::Email;

/// The function's settings. The SAM template sets every variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportConfig {
    /// The uploads bucket (`BUCKET`): `config/`, the plans, and where reports go.
    pub bucket: String,
    /// The one DynamoDB table (`TABLE`).
    pub table: String,
    /// The SES configuration set the summary goes through (`SES_CONFIGURATION_SET`; empty: none).
    pub ses_configuration_set: Option<String>,
    pub mail: MailOverrides,
}

/// Mail settings the deployment fixes over `config/settings.json`: the sender is the address
/// verified in SES (`SENDER_ADDRESS`); the summary goes to `OPS_RECIPIENTS` (comma-separated)
/// when that is not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailOverrides {
    pub sender: Mailbox,
    pub ops_recipients: Option<Vec<Email>>,
}

/// A variable is missing or unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "the environment variable {name} is not set ({what}); the SAM template sets it, set it yourself to run the function elsewhere"
    )]
    Missing { name: &'static str, what: &'static str },
    #[error("the environment variable {name} is not usable: {what}")]
    Invalid { name: &'static str, what: String },
}

impl ReportConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var` (the environment, or a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let value = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let required = |name: &'static str, what: &'static str| value(name).ok_or(ConfigError::Missing { name, what });
        let sender = required("SENDER_ADDRESS", "the SES-verified address the summary is sent from")?;
        let sender = Mailbox::parse(&sender)
            .ok_or(ConfigError::Invalid { name: "SENDER_ADDRESS", what: "expected name@domain or Name <name@domain>".into() })?;
        let ops_recipients = match value("OPS_RECIPIENTS") {
            None => None,
            Some(list) => Some(
                list.split([',', ';'])
                    .map(str::trim)
                    .filter(|entry| !entry.is_empty())
                    .enumerate()
                    .map(|(index, entry)| {
                        Email::parse(entry).map_err(|_| ConfigError::Invalid {
                            name: "OPS_RECIPIENTS",
                            what: format!("entry {} is not an e-mail address", index + 1),
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            )
            .filter(|list| !list.is_empty()),
        };
        Ok(Self {
            bucket: required("BUCKET", "the uploads bucket name")?,
            table: required("TABLE", "the DynamoDB table name")?,
            ses_configuration_set: value("SES_CONFIGURATION_SET"),
            mail: MailOverrides { sender, ops_recipients },
        })
    }
}

impl MailOverrides {
    /// The configuration from `config/` with these settings put over it. A sender given as a
    /// bare address keeps the display name settings.json gives.
    pub fn apply(&self, config: Config) -> Result<Config, FileRejection> {
        let mut settings = config.settings;
        let name = match self.sender.name.as_str() {
            "" => config.sender.name,
            name => name.to_string(),
        };
        settings.sender = if name.is_empty() { self.sender.email.to_string() } else { format!("{name} <{}>", self.sender.email) };
        if let Some(recipients) = &self.ops_recipients {
            settings.ops_recipients = recipients.iter().map(|e| e.to_string()).collect();
        }
        Config::new(settings, config.guide, config.matrix)
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

    const BASE: [(&str, &str); 3] = [("BUCKET", "b"), ("TABLE", "t"), ("SENDER_ADDRESS", "Reports <reports@tenant.example>")];

    #[test]
    fn reads_the_variables() {
        let mut pairs = BASE.to_vec();
        pairs.extend([("OPS_RECIPIENTS", "ops@tenant.example, Night.Shift@tenant.example"), ("SES_CONFIGURATION_SET", "tracking")]);
        let config = ReportConfig::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(config.ses_configuration_set.as_deref(), Some("tracking"));
        assert_eq!(config.mail.sender.name, "Reports");
        let recipients: Vec<&str> = config.mail.ops_recipients.as_ref().unwrap().iter().map(|e| e.as_str()).collect();
        assert_eq!(recipients, ["ops@tenant.example", "night.shift@tenant.example"]);
        let mut pairs = BASE.to_vec();
        pairs.push(("OPS_RECIPIENTS", " , "));
        assert_eq!(ReportConfig::from_lookup(lookup(&pairs)).unwrap().mail.ops_recipients, None, "an empty list keeps settings.json's");
    }

    #[test]
    fn missing_and_unusable_variables_are_named() {
        let error = ReportConfig::from_lookup(lookup(&[("TABLE", "t"), ("SENDER_ADDRESS", "a@b.example")])).unwrap_err();
        assert!(error.to_string().contains("BUCKET is not set"), "{error}");
        let error = ReportConfig::from_lookup(lookup(&[("BUCKET", "b"), ("TABLE", "t")])).unwrap_err();
        assert!(matches!(error, ConfigError::Missing { name: "SENDER_ADDRESS", .. }), "{error}");
        let mut pairs = BASE.to_vec();
        pairs.push(("OPS_RECIPIENTS", "ops@tenant.example,not-an-address"));
        let error = ReportConfig::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(error.to_string().contains("OPS_RECIPIENTS") && error.to_string().contains("entry 2"), "{error}");
        assert!(!error.to_string().contains("not-an-address"), "values stay out of logs");
    }
}
