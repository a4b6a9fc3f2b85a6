//! What `dispatch-invites` needs from its environment, read once at start.

use onboarding::domain::config::{ConfigOverrides, Mailbox};
use onboarding::domain::values::Email;

/// The function's settings. The SAM template sets every variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchConfig {
    /// The uploads bucket (`BUCKET`), where `config/` lives.
    pub bucket: String,
    /// The one DynamoDB table (`TABLE`).
    pub table: String,
    /// The SES configuration set invites go through (`SES_CONFIGURATION_SET`; empty: none).
    pub ses_configuration_set: Option<String>,
    /// What the deployment fixes over `config/settings.json`: the sender verified in SES
    /// (`SENDER_ADDRESS`, required), the invite link (`INVITE_LINK_TEMPLATE`) and the ops inbox
    /// (`OPS_RECIPIENTS`, comma-separated), each when not empty.
    pub overrides: ConfigOverrides,
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

impl DispatchConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var` (the environment, or a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let value = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let required = |name: &'static str, what: &'static str| value(name).ok_or(ConfigError::Missing { name, what });
        let sender = required("SENDER_ADDRESS", "the SES-verified address invites are sent from")?;
        let overrides = ConfigOverrides {
            sender: Some(parse_sender(&sender)?),
            invite_link_template: value("INVITE_LINK_TEMPLATE").map(check_invite_link_template).transpose()?,
            ops_recipients: value("OPS_RECIPIENTS").map(|list| parse_ops_recipients(&list)).transpose()?.flatten(),
        };
        Ok(Self {
            bucket: required("BUCKET", "the uploads bucket name")?,
            table: required("TABLE", "the DynamoDB table name")?,
            ses_configuration_set: value("SES_CONFIGURATION_SET"),
            overrides,
        })
    }
}

/// `Name <name@domain>` or `name@domain`.
fn parse_sender(raw: &str) -> Result<Mailbox, ConfigError> {
    Mailbox::parse(raw).ok_or(ConfigError::Invalid { name: "SENDER_ADDRESS", what: "expected name@domain or Name <name@domain>".into() })
}

fn check_invite_link_template(template: String) -> Result<String, ConfigError> {
    if template.contains("{email}") {
        Ok(template)
    } else {
        Err(ConfigError::Invalid { name: "INVITE_LINK_TEMPLATE", what: "it must contain {email}, where the invitee's address goes".into() })
    }
}

/// A comma-separated list; `None` when it names nobody (settings.json's list then stands).
/// The error names the entry by position, never by value, so addresses stay out of logs.
fn parse_ops_recipients(list: &str) -> Result<Option<Vec<Email>>, ConfigError> {
    let recipients = list
        .split([',', ';'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .enumerate()
        .map(|(index, entry)| {
            Email::parse(entry)
                .map_err(|_| ConfigError::Invalid { name: "OPS_RECIPIENTS", what: format!("entry {} is not an e-mail address", index + 1) })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(recipients).filter(|list| !list.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const BASE: [(&str, &str); 3] = [("BUCKET", "b"), ("TABLE", "t"), ("SENDER_ADDRESS", "invites@tenant.example")];

    #[test]
    fn reads_the_variables() {
        let mut pairs = BASE.to_vec();
        pairs.extend([
            ("INVITE_LINK_TEMPLATE", "https://tenant.example/join?u={email}"),
            ("OPS_RECIPIENTS", "ops@tenant.example"),
            ("SES_CONFIGURATION_SET", ""),
        ]);
        let config = DispatchConfig::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!((config.bucket.as_str(), config.table.as_str(), config.ses_configuration_set), ("b", "t", None));
        assert_eq!(config.overrides.sender.unwrap().email.as_str(), "invites@tenant.example");
        assert_eq!(config.overrides.invite_link_template.as_deref(), Some("https://tenant.example/join?u={email}"));
        assert_eq!(config.overrides.ops_recipients.unwrap()[0].as_str(), "ops@tenant.example");
        let config = DispatchConfig::from_lookup(lookup(&BASE)).unwrap();
        assert_eq!((config.overrides.invite_link_template, config.overrides.ops_recipients), (None, None), "unset keeps settings.json's");
    }

    #[test]
    fn missing_and_unusable_variables_are_named() {
        let error = DispatchConfig::from_lookup(lookup(&[("BUCKET", "b"), ("TABLE", "t")])).unwrap_err();
        assert!(matches!(error, ConfigError::Missing { name: "SENDER_ADDRESS", .. }), "{error}");
        let error = DispatchConfig::from_lookup(lookup(&[("BUCKET", "b"), ("SENDER_ADDRESS", "a@b.example")])).unwrap_err();
        assert!(error.to_string().contains("TABLE is not set"), "{error}");
        let error = DispatchConfig::from_lookup(lookup(&[("BUCKET", "b"), ("TABLE", "t"), ("SENDER_ADDRESS", "nobody")])).unwrap_err();
        assert!(matches!(error, ConfigError::Invalid { name: "SENDER_ADDRESS", .. }), "{error}");
        let mut pairs = BASE.to_vec();
        pairs.push(("INVITE_LINK_TEMPLATE", "https://tenant.example/join"));
        let error = DispatchConfig::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(matches!(error, ConfigError::Invalid { name: "INVITE_LINK_TEMPLATE", .. }), "{error}");
        let mut pairs = BASE.to_vec();
        pairs.push(("OPS_RECIPIENTS", "ops@tenant.example,not-an-address"));
        let error = DispatchConfig::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(error.to_string().contains("OPS_RECIPIENTS") && error.to_string().contains("entry 2"), "{error}");
        assert!(!error.to_string().contains("not-an-address"), "values stay out of logs");
    }
}
