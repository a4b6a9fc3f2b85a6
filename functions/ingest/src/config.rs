//! What `ingest` needs from its environment, read once at start.

use onboarding::domain::config::{ConfigOverrides, Mailbox};
use onboarding::domain::values::Email;

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
    /// What the deployment fixes over `config/settings.json` for the kickstart mails and the
    /// invites sent right after an approval: the sender verified in SES (`SENDER_ADDRESS`), the
    /// invite link (`INVITE_LINK_TEMPLATE`) and the ops inbox (`OPS_RECIPIENTS`,
    /// comma-separated). Each is optional here; empty or unset keeps settings.json's.
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

impl IngestConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var` (the environment, or a map in tests).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let value = |name: &str| var(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let required = |name: &'static str, what: &'static str| value(name).ok_or(ConfigError::Missing { name, what });
        let overrides = ConfigOverrides {
            sender: value("SENDER_ADDRESS").map(|raw| parse_sender(&raw)).transpose()?,
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

    #[test]
    fn reads_the_variables_and_treats_empty_as_unset() {
        let blank = [("BUCKET", "b"), ("TABLE", "t"), ("SES_CONFIGURATION_SET", ""), ("SENDER_ADDRESS", " "), ("OPS_RECIPIENTS", " , ")];
        let config = IngestConfig::from_lookup(lookup(&blank)).unwrap();
        let expected =
            IngestConfig { bucket: "b".into(), table: "t".into(), ses_configuration_set: None, overrides: ConfigOverrides::default() };
        assert_eq!(config, expected, "nothing set: settings.json stands");
        let config = IngestConfig::from_lookup(lookup(&[
            ("BUCKET", "b"),
            ("TABLE", "t"),
            ("SES_CONFIGURATION_SET", "tracking"),
            ("SENDER_ADDRESS", "Tenant App <Invites@Tenant.example>"),
            ("INVITE_LINK_TEMPLATE", "https://tenant.example/join?u={email}"),
            ("OPS_RECIPIENTS", "ops@tenant.example; night@tenant.example"),
        ]))
        .unwrap();
        assert_eq!(config.ses_configuration_set.as_deref(), Some("tracking"));
        let sender = config.overrides.sender.unwrap();
        assert_eq!((sender.name.as_str(), sender.email.as_str()), ("Tenant App", "invites@tenant.example"));
        assert_eq!(config.overrides.invite_link_template.as_deref(), Some("https://tenant.example/join?u={email}"));
        assert_eq!(config.overrides.ops_recipients.map(|list| list.len()), Some(2));
    }

    #[test]
    fn missing_and_unusable_variables_are_named() {
        let error = IngestConfig::from_lookup(lookup(&[("BUCKET", "b"), ("TABLE", " ")])).unwrap_err();
        assert!(matches!(error, ConfigError::Missing { name: "TABLE", .. }), "{error}");
        assert!(error.to_string().contains("TABLE is not set"), "{error}");
        let base = [("BUCKET", "b"), ("TABLE", "t")];
        for (name, bad) in [
            ("SENDER_ADDRESS", "nobody"),
            ("INVITE_LINK_TEMPLATE", "https://tenant.example/join"),
            ("OPS_RECIPIENTS", "ops@x.example,nope"),
        ] {
            let mut pairs = base.to_vec();
            pairs.push((name, bad));
            let error = IngestConfig::from_lookup(lookup(&pairs)).unwrap_err();
            assert!(matches!(&error, ConfigError::Invalid { name: invalid, .. } if *invalid == name), "{error}");
            assert!(!error.to_string().contains(bad), "values stay out of logs: {error}");
        }
    }
}
