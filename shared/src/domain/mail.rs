//! The e-mails the product sends, composed as data and rendered to RFC 5322 (text + HTML).
//! Every header value is a single line, so no name or building can inject a header.

use crate::building::Building;
use crate::config::{Config, Mailbox};
use crate::text::single_line;
use crate::values::Email;
use maud::html;
use serde::{Deserialize, Serialize};

/// A message ready to send. `key` is its ledger key: one key, at most one send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMail {
    pub key: String,
    pub from_name: String,
    pub from: Email,
    pub to: Vec<Email>,
    pub cc: Vec<Email>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl OutgoingMail {
    pub fn new(key: String, sender: &Mailbox, subject: &str) -> Self {
        Self {
            key,
            from_name: single_line(&sender.name),
            from: sender.email.clone(),
            to: Vec::new(),
            cc: Vec::new(),
            subject: single_line(subject),
            text: String::new(),
            html: String::new(),
        }
    }

    /// Every recipient, for counting and rate limiting.
    pub fn recipients(&self) -> usize {
        self.to.len() + self.cc.len()
    }

    /// The message as RFC 5322 bytes (multipart/alternative, text then HTML).
    pub fn to_rfc5322(&self, message_id: &str, unix_time: i64) -> Vec<u8> {
        let to: Vec<String> = self.to.iter().map(|e| e.to_string()).collect();
        let cc: Vec<String> = self.cc.iter().map(|e| e.to_string()).collect();
        let mut builder = mail_builder::MessageBuilder::new()
            .from((single_line(&self.from_name), self.from.to_string()))
            .to(to)
            .subject(single_line(&self.subject))
            .message_id(single_line(message_id).trim_start_matches('<').trim_end_matches('>').to_string())
            .date(unix_time)
            .text_body(self.text.clone())
            .html_body(self.html.clone());
        if !cc.is_empty() {
            builder = builder.cc(cc);
        }
        builder.write_to_vec().unwrap_or_default()
    }
}

pub fn kickstart_key(building: &Building, attempt: u32) -> String {
    match attempt {
        0 => format!("kickstart#{}", building.id),
        n => format!("kickstart#{}#resend{n}", building.id),
    }
}

/// The "please start the Envoy integration" e-mail for a building.
pub fn kickstart(config: &Config, building: &Building, attempt: u32) -> OutgoingMail {
    let subject = format!("Envoy integration kickstart: {} ({})", building.name, building.address);
    let mut mail = OutgoingMail::new(kickstart_key(building, attempt), &config.sender, &subject);
    mail.to.push(building.envoy_csm.clone());
    mail.to.extend(building.envoy_account_executive.clone());
    mail.cc.extend(config.integrations_inbox.clone());
    mail.cc.extend(building.platform_csm.clone());
    mail.to.dedup();
    mail.cc.retain(|cc| !mail.to.contains(cc));
    let policy = match building.tile_policy {
        crate::building::TilePolicy::Permissioned => "permissioned (only granted tenant contacts see the Visitor Registration tile)",
        crate::building::TilePolicy::Everyone => "everyone (every tenant sees the Visitor Registration tile)",
    };
    mail.text = format!(
        "Hello,\n\nPlease start the Envoy visitor-management integration for this building:\n\n  Building: {}\n  Address: {}\n  Building UUID: {}\n  Tile policy: {}\n\nNext steps: set up the Envoy account, connect the building by its UUID, and reply to this e-mail when testing can start. At go-live we will send the tenant contacts as an Envoy employee-import file.\n\nThank you,\n{}\n",
        building.name,
        building.address,
        building.id,
        policy,
        if config.sender.name.is_empty() { "Visitor Onboarding" } else { &config.sender.name }
    );
    mail.html = html! {
        p { "Hello," }
        p { "Please start the Envoy visitor-management integration for this building:" }
        table {
            tr { th align="left" { "Building" } td { (building.name) } }
            tr { th align="left" { "Address" } td { (building.address) } }
            tr { th align="left" { "Building UUID" } td { code { (building.id) } } }
            tr { th align="left" { "Tile policy" } td { (policy) } }
        }
        p { "Next steps: set up the Envoy account, connect the building by its UUID, and reply to this e-mail when testing can start. At go-live we will send the tenant contacts as an Envoy employee-import file." }
        p { "Thank you," br; (if config.sender.name.is_empty() { "Visitor Onboarding" } else { &config.sender.name }) }
    }
    .into_string();
    mail
}

pub fn invite_key(migration: &str, email: &Email) -> String {
    format!("invite#{migration}#{email}")
}

/// The invite a newly created user receives.
pub fn invite(config: &Config, migration: &str, email: &Email, first_name: &str, building_names: &[String]) -> OutgoingMail {
    let platform = single_line(&config.settings.platform_name);
    let mut mail = OutgoingMail::new(invite_key(migration, email), &config.sender, &format!("You're invited to {platform}"));
    mail.to.push(email.clone());
    let link = config.invite_link(email);
    let greeting = match single_line(first_name) {
        name if name.is_empty() => "Hello,".to_string(),
        name => format!("Hello {name},"),
    };
    let buildings = building_names.join(", ");
    mail.text = format!(
        "{greeting}\n\nYour building{} {} now use{} {platform} for visitor registration. Accept your invitation to set up your account:\n\n{link}\n\nIf you did not expect this e-mail, you can ignore it.\n",
        if building_names.len() == 1 { "" } else { "s" },
        if buildings.is_empty() { "team".to_string() } else { buildings.clone() },
        if building_names.len() == 1 { "s" } else { "" },
    );
    mail.html = html! {
        p { (greeting) }
        p { "Your building" (if building_names.len() == 1 { "" } else { "s" }) " " strong { (buildings) } " now use" (if building_names.len() == 1 { "s" } else { "" }) " " (platform) " for visitor registration." }
        p { a href=(link) { "Accept your invitation" } }
        p { small { "If you did not expect this e-mail, you can ignore it." } }
    }
    .into_string();
    mail
}

/// The short daily summary of the validation report.
pub fn validation_summary(config: &Config, date: &str, text: String, html: String) -> Option<OutgoingMail> {
    if config.ops_recipients.is_empty() {
        return None;
    }
    let mut mail = OutgoingMail::new(format!("validation#{date}"), &config.sender, &format!("Visitor onboarding validation report {date}"));
    mail.to = config.ops_recipients.clone();
    mail.text = text;
    mail.html = html;
    Some(mail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::building::TilePolicy;
    use crate::config::Settings;
    use crate::roles::{RoleGuide, RoleMatrix};
    use crate::values::BuildingId;

    fn config() -> Config {
        let settings = Settings { integrations_inbox: "integrations@example.com".into(), ..Settings::default() };
        Config::new(settings, RoleGuide::default(), RoleMatrix::default()).unwrap()
    }

    fn building(name: &str) -> Building {
        Building {
            id: BuildingId::parse("3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10").unwrap(),
            name: name.into(),
            address: "1 Market St".into(),
            envoy_csm: Email::parse("csm@envoy.com").unwrap(),
            envoy_account_executive: Some(Email::parse("ae@envoy.com").unwrap()),
            platform_csm: Some(Email::parse("csm@platform.com").unwrap()),
            tile_policy: TilePolicy::Permissioned,
            aliases: vec![],
            time_zone: None,
        }
    }

    #[test]
    fn kickstart_goes_to_envoy_and_copies_the_platform() {
        let mail = kickstart(&config(), &building("One Market"), 0);
        assert_eq!(mail.to.iter().map(Email::as_str).collect::<Vec<_>>(), ["csm@envoy.com", "ae@envoy.com"]);
        assert_eq!(mail.cc.iter().map(Email::as_str).collect::<Vec<_>>(), ["integrations@example.com", "csm@platform.com"]);
        assert!(mail.subject.contains("One Market") && mail.subject.contains("1 Market St"));
        assert!(mail.text.contains("1 Market St"));
        let raw = String::from_utf8(mail.to_rfc5322("<k@onboard>", 1_700_000_000)).unwrap();
        assert!(raw.contains("multipart/alternative"), "{raw}");
    }

    #[test]
    fn hostile_names_cannot_inject_headers_or_html() {
        let mail = kickstart(&config(), &building("Evil\r\nBcc: victim@example.com <script>"), 0);
        let raw = String::from_utf8(mail.to_rfc5322("<k@onboard>", 1_700_000_000)).unwrap();
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(!headers.lines().any(|l| l.to_lowercase().starts_with("bcc:")), "{raw}");
        assert!(raw.contains("Message-ID: <k@onboard>"), "{raw}");
        assert!(!mail.html.contains("<script>"));
        assert!(mail.html.contains("&lt;script&gt;"));
    }

    #[test]
    fn invites_carry_the_link_and_greeting() {
        let email = Email::parse("ada@example.com").unwrap();
        let mail = invite(&config(), "acme", &email, "Ada", &["One Market".into()]);
        assert_eq!(mail.key, "invite#acme#ada@example.com");
        assert!(mail.text.contains("Hello Ada,"));
        assert!(mail.text.contains("https://app.example.com/invite?email=ada%40example%2Ecom"));
    }
}
