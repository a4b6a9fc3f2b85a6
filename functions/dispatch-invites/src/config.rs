//! What `dispatch-invites` needs from its environment, read once at start.

use onboarding::domain::config::{Config, Mailbox};
use onboarding::domain::issue::FileRejection;

/// The function's settings. The SAM template sets every variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchConfig {
    /// The uploads bucket (`BUCKET`), where `config/` lives.
    pub bucket: String,
    /// The one DynamoDB table (`TABLE`).
    pub table: String,
    /// The SES configuration set invites go through (`SES_CONFIGURATION_SET`; empty: none).
    pub ses_configuration_set: Option<String>,
    pub mail: MailOverrides,
}

/// Mail settings the deployment fixes over `config/settings.json`: the sender is the address
/// verified in SES (`SENDER_ADDRESS`), the link the deployment's app (`INVITE_LINK_TEMPLATE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailOverrides {
    pub sender: Mailbox,
    pub invite_link_template: Option<String>,
}

/// A variable is missing or unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "the environment variable {name} is not set ({what}); the SAM template sets it, set it yourself to run the function elsewhere"
    )]
    Missing { name: &'static str, what: &'static str },
    #[error("the environment variable {name} is not usable: {what}")]
    Invalid { name: &'static str, what: &'static str },
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
        let sender = Mailbox::parse(&sender)
            .ok_or(ConfigError::Invalid { name: "SENDER_ADDRESS", what: "expected name@domain or Name <name@domain>" })?;
        let invite_link_template = value("INVITE_LINK_TEMPLATE");
        if invite_link_template.as_ref().is_some_and(|t| !t.contains("{email}")) {
            return Err(ConfigError::Invalid {
                name: "INVITE_LINK_TEMPLATE",
                what: "it must contain {email}, where the invitee's address goes",
            });
        }
        Ok(Self {
            bucket: required("BUCKET", "the uploads bucket name")?,
            table: required("TABLE", "the DynamoDB table name")?,
            ses_configuration_set: value("SES_CONFIGURATION_SET"),
            mail: MailOverrides { sender, invite_link_template },
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
        if let Some(template) = &self.invite_link_template {
            settings.invite_link_template = template.clone();
        }
        Config::new(settings, config.guide, config.matrix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onboarding::domain::config::Settings;
    use onboarding::domain::roles::{RoleGuide, RoleMatrix};
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const BASE: [(&str, &str); 3] = [("BUCKET", "b"), ("TABLE", "t"), ("SENDER_ADDRESS", "invites@tenant.example")];

    #[test]
    fn reads_the_variables() {
        let mut pairs = BASE.to_vec();
        pairs.extend([("INVITE_LINK_TEMPLATE", "https://tenant.example/join?u={email}"), ("SES_CONFIGURATION_SET", "")]);
        let config = DispatchConfig::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!((config.bucket.as_str(), config.table.as_str(), config.ses_configuration_set), ("b", "t", None));
        assert_eq!(config.mail.sender.email.as_str(), "invites@tenant.example");
        assert_eq!(config.mail.invite_link_template.as_deref(), Some("https://tenant.example/join?u={email}"));
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
    }

    #[test]
    fn overrides_keep_the_display_name_of_settings() {
        let settings = Settings { sender: "Acme Onboarding <old@example.com>".into(), ..Settings::default() };
        let config = Config::new(settings, RoleGuide::default(), RoleMatrix::default()).unwrap();
        let overrides = MailOverrides { sender: Mailbox::parse("invites@tenant.example").unwrap(), invite_link_template: None };
        let config = overrides.apply(config).unwrap();
        assert_eq!((config.sender.name.as_str(), config.sender.email.as_str()), ("Acme Onboarding", "invites@tenant.example"));
        assert_eq!(config.settings.invite_link_template, Settings::default().invite_link_template);
        let named = MailOverrides {
            sender: Mailbox::parse("Tenant App <invites@tenant.example>").unwrap(),
            invite_link_template: Some("https://t.example/{email}".into()),
        };
        let config = named.apply(config).unwrap();
        assert_eq!(config.sender.name, "Tenant App");
        assert_eq!(config.settings.invite_link_template, "https://t.example/{email}");
    }
}
