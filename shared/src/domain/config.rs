//! Settings an implementation team changes without a deploy: `config/settings.json` beside the
//! role guide and the role-mapping matrix.

use crate::issue::{FileRejection, RejectionCode};
use crate::roles::{RoleGuide, RoleMatrix};
use crate::values::{Email, PhoneRegion};
use serde::{Deserialize, Serialize};

pub const SETTINGS_KEY: &str = "config/settings.json";
pub const ROLE_GUIDE_KEY: &str = "config/role-guide.csv";
pub const ROLE_MATRIX_KEY: &str = "config/role-matrix.csv";

/// `settings.json` as written by people; every field has a sensible default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The From of every e-mail, e.g. `Visitor Onboarding <onboarding@example.com>`.
    pub sender: String,
    /// Copied on every kickstart e-mail.
    pub integrations_inbox: String,
    /// Who gets the daily validation summary.
    pub ops_recipients: Vec<String>,
    /// The link in each invite; `{email}` is replaced by the URL-encoded address.
    pub invite_link_template: String,
    /// Region for phone numbers written without a country code (ISO 3166 code, e.g. `US`).
    pub default_phone_region: String,
    /// Replace mode refuses to revoke more than this share of a building's contacts unless forced.
    pub revoke_threshold_percent: f64,
    /// A building still at `kickstart_sent` after this many days is flagged as stale.
    pub stale_kickstart_days: i64,
    /// The most e-mails a second, whatever the mail service allows.
    pub max_send_rate_per_second: f64,
    /// The product name used in invite e-mails.
    pub platform_name: String,
    /// Uploaded files larger than this are refused (`file_too_large`).
    pub max_file_megabytes: u64,
    /// Kickstart e-mails go only to addresses in these domains (or their subdomains), the
    /// sender's own domain and the integrations inbox's, so a buildings file cannot make the
    /// product mail arbitrary people.
    pub kickstart_domains: Vec<String>,
    /// Who is told, by e-mail, what became of each upload, per kind of upload.
    pub notify: NotifyLists,
    /// People always in a building's Envoy import file, never removed by replace mode: the
    /// implementation manager of the integration guide's Phase II, step six.
    pub pinned_contacts: Vec<PinnedSetting>,
    /// Invites pause themselves when bounces pass this share (percent) of the messages that
    /// were delivered or bounced since sending last resumed ...
    pub max_bounce_rate_percent: f64,
    /// ... once at least this many messages reached an end.
    pub bounce_rate_min_messages: u64,
    /// An invite date means this hour (0–23) in the time zone of the person's first building
    /// (UTC where it has none).
    pub invite_local_hour: u8,
}

/// The hour an invite date means when nothing else says (`invite_local_hour`'s default).
pub const DEFAULT_INVITE_HOUR: u8 = 9;

/// One pinned person as `settings.json` writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PinnedSetting {
    pub full_name: String,
    pub email: String,
    /// Optional.
    pub phone: String,
    /// The buildings (UUIDs) the person is pinned to; empty: every building.
    pub buildings: Vec<String>,
}

/// A pinned person, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    pub contact: crate::tenants::TenantContact,
    /// Empty: every building.
    pub buildings: Vec<crate::values::BuildingId>,
}

/// `settings.json`'s `notify`: the addresses told about each kind of upload (processed or
/// refused, counts, first issues, where the reports are). Approvals count as `users`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyLists {
    pub buildings: Vec<String>,
    pub tenants: Vec<String>,
    pub users: Vec<String>,
    #[serde(alias = "platform-users")]
    pub platform_users: Vec<String>,
}

/// The kinds of upload a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadKind {
    Buildings,
    Tenants,
    /// User-migration exports and their approvals.
    Users,
    /// Platform-users snapshots.
    PlatformUsers,
}

impl UploadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Buildings => "buildings",
            Self::Tenants => "tenants",
            Self::Users => "users",
            Self::PlatformUsers => "platform users",
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            sender: "Visitor Onboarding <onboarding@example.com>".into(),
            integrations_inbox: "integrations@example.com".into(),
            ops_recipients: Vec::new(),
            invite_link_template: "https://app.example.com/invite?email={email}".into(),
            default_phone_region: "US".into(),
            revoke_threshold_percent: 20.0,
            stale_kickstart_days: 14,
            max_send_rate_per_second: 10.0,
            platform_name: "the tenant app".into(),
            max_file_megabytes: crate::intake::DEFAULT_MAX_FILE_BYTES / (1024 * 1024),
            kickstart_domains: vec!["envoy.com".into()],
            notify: NotifyLists::default(),
            pinned_contacts: Vec::new(),
            max_bounce_rate_percent: 5.0,
            bounce_rate_min_messages: 20,
            invite_local_hour: DEFAULT_INVITE_HOUR,
        }
    }
}

/// A checked mailbox: a display name (one line) and an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    pub name: String,
    pub email: Email,
}

impl Mailbox {
    /// Accepts `Name <address>` or a bare address.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        match (raw.rfind('<'), raw.ends_with('>')) {
            (Some(open), true) => Some(Self {
                name: crate::text::single_line(raw[..open].trim().trim_matches('"')),
                email: Email::parse(&raw[open + 1..raw.len() - 1]).ok()?,
            }),
            _ => Some(Self { name: String::new(), email: Email::parse(raw).ok()? }),
        }
    }
}

/// Everything a flow needs from configuration, checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub sender: Mailbox,
    pub integrations_inbox: Option<Email>,
    pub ops_recipients: Vec<Email>,
    pub phone_region: PhoneRegion,
    pub guide: RoleGuide,
    pub matrix: RoleMatrix,
    /// `notify`, checked: buildings, tenants, users, platform users.
    notify: [Vec<Email>; 4],
    /// `pinned_contacts`, checked.
    pub pinned: Vec<Pinned>,
}

impl Config {
    /// When invites pause themselves for bounces and complaints.
    pub fn pause_rule(&self) -> crate::delivery::PauseRule {
        crate::delivery::PauseRule {
            max_bounce_rate_percent: self.settings.max_bounce_rate_percent,
            min_messages: self.settings.bounce_rate_min_messages,
        }
    }

    /// The people pinned to `building`'s Envoy import file.
    pub fn pinned_for<'a>(
        &'a self,
        building: &'a crate::values::BuildingId,
    ) -> impl Iterator<Item = &'a crate::tenants::TenantContact> + 'a {
        self.pinned.iter().filter(move |p| p.buildings.is_empty() || p.buildings.contains(building)).map(|p| &p.contact)
    }

    /// Who is told about an upload of `kind`.
    pub fn notify(&self, kind: UploadKind) -> &[Email] {
        &self.notify[kind as usize]
    }

    /// May a kickstart e-mail go to `email`? Its domain (or a parent of it) is one of
    /// `kickstart_domains`, the sender's own domain or the integrations inbox's (the platform's).
    pub fn kickstart_domain_allowed(&self, email: &crate::values::Email) -> bool {
        let domain = email.as_str().rsplit('@').next().unwrap_or_default().to_ascii_lowercase();
        let sender = self.sender.email.as_str().rsplit('@').next().unwrap_or_default().to_ascii_lowercase();
        let within = |allowed: &str| {
            let allowed = allowed.trim().trim_start_matches('@').to_ascii_lowercase();
            !allowed.is_empty() && (domain == allowed || domain.ends_with(&format!(".{allowed}")))
        };
        let inbox = self.integrations_inbox.as_ref().map(|e| e.as_str().rsplit('@').next().unwrap_or_default().to_ascii_lowercase());
        within(&sender) || inbox.is_some_and(|d| within(&d)) || self.settings.kickstart_domains.iter().any(|d| within(d))
    }

    pub fn new(settings: Settings, guide: RoleGuide, matrix: RoleMatrix) -> Result<Self, FileRejection> {
        let invalid = |field: &str, value: &str| {
            FileRejection::new(
                RejectionCode::InvalidConfig,
                format!("settings.json: “{field}” has the value “{value}”, which is not usable. Fix it and load the configuration again."),
            )
        };
        let sender = Mailbox::parse(&settings.sender).ok_or_else(|| invalid("sender", &settings.sender))?;
        let integrations_inbox = match settings.integrations_inbox.trim() {
            "" => None,
            raw => Some(Email::parse(raw).map_err(|_| invalid("integrations_inbox", raw))?),
        };
        let ops_recipients = settings
            .ops_recipients
            .iter()
            .map(|raw| Email::parse(raw).map_err(|_| invalid("ops_recipients", raw)))
            .collect::<Result<_, _>>()?;
        let phone_region = PhoneRegion::parse(&settings.default_phone_region)
            .ok_or_else(|| invalid("default_phone_region", &settings.default_phone_region))?;
        if !settings.invite_link_template.contains("{email}") {
            return Err(invalid("invite_link_template", &settings.invite_link_template));
        }
        if !(0.0..=100.0).contains(&settings.revoke_threshold_percent) {
            return Err(invalid("revoke_threshold_percent", &settings.revoke_threshold_percent.to_string()));
        }
        if !(0.0..=100.0).contains(&settings.max_bounce_rate_percent) {
            return Err(invalid("max_bounce_rate_percent", &settings.max_bounce_rate_percent.to_string()));
        }
        if settings.invite_local_hour > 23 {
            return Err(invalid("invite_local_hour", &settings.invite_local_hour.to_string()));
        }
        if settings.max_file_megabytes == 0 {
            return Err(invalid("max_file_megabytes", "0"));
        }
        if settings.max_send_rate_per_second.is_nan() || settings.max_send_rate_per_second <= 0.0 {
            return Err(invalid("max_send_rate_per_second", &settings.max_send_rate_per_second.to_string()));
        }
        let lists = &settings.notify;
        let notify = [
            ("notify.buildings", &lists.buildings),
            ("notify.tenants", &lists.tenants),
            ("notify.users", &lists.users),
            ("notify.platform_users", &lists.platform_users),
        ]
        .map(|(field, list)| list.iter().map(|raw| Email::parse(raw).map_err(|_| invalid(field, raw))).collect::<Result<Vec<_>, _>>());
        let [buildings, tenants, users, platform_users] = notify;
        let notify = [buildings?, tenants?, users?, platform_users?];
        let pinned = settings.pinned_contacts.iter().map(|p| pinned(p, phone_region, &invalid)).collect::<Result<_, _>>()?;
        Ok(Self { settings, sender, integrations_inbox, ops_recipients, phone_region, guide, matrix, notify, pinned })
    }

    pub fn parse_settings(bytes: &[u8]) -> Result<Settings, FileRejection> {
        serde_json::from_slice(bytes).map_err(|e| {
            FileRejection::new(
                RejectionCode::InvalidConfig,
                format!("settings.json could not be read: {e}. Fix it and load the configuration again."),
            )
        })
    }

    /// What intake accepts, with the configured file size limit.
    pub fn intake_limits(&self) -> crate::intake::IntakeLimits {
        let max_file_bytes = self.settings.max_file_megabytes.saturating_mul(1024 * 1024);
        crate::intake::IntakeLimits { max_file_bytes, ..crate::intake::IntakeLimits::default() }
    }

    /// The invite link for one address.
    pub(crate) fn invite_link(&self, email: &Email) -> String {
        let encoded = percent_encoding::utf8_percent_encode(email.as_str(), percent_encoding::NON_ALPHANUMERIC).to_string();
        self.settings.invite_link_template.replace("{email}", &encoded)
    }
}

/// Checks one pinned person: a name, an address, a phone (optional) and building UUIDs.
fn pinned(setting: &PinnedSetting, region: PhoneRegion, invalid: &dyn Fn(&str, &str) -> FileRejection) -> Result<Pinned, FileRejection> {
    let full_name = crate::text::single_line(setting.full_name.trim());
    if full_name.is_empty() {
        return Err(invalid("pinned_contacts.full_name", &setting.full_name));
    }
    let email = Email::parse(&setting.email).map_err(|_| invalid("pinned_contacts.email", &setting.email))?;
    let phone = match setting.phone.trim() {
        "" => None,
        raw => Some(crate::values::Phone::parse(raw, region).ok_or_else(|| invalid("pinned_contacts.phone", raw))?),
    };
    let buildings = setting
        .buildings
        .iter()
        .map(|raw| crate::values::BuildingId::parse(raw).map_err(|_| invalid("pinned_contacts.buildings", raw)))
        .collect::<Result<_, _>>()?;
    Ok(Pinned { contact: crate::tenants::TenantContact { full_name, email, phone }, buildings })
}

/// Settings the deployment fixes over `config/settings.json` (the Lambda environment): the
/// SES-verified sender, the deployment's invite link, the ops inbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigOverrides {
    pub sender: Option<Mailbox>,
    pub invite_link_template: Option<String>,
    pub ops_recipients: Option<Vec<Email>>,
}

impl ConfigOverrides {
    /// `config` with these settings put over it. A sender given as a bare address keeps the
    /// display name settings.json gives.
    pub fn apply(&self, config: Config) -> Result<Config, FileRejection> {
        if *self == Self::default() {
            return Ok(config);
        }
        let mut settings = config.settings;
        if let Some(sender) = &self.sender {
            let name = if sender.name.is_empty() { config.sender.name.clone() } else { sender.name.clone() };
            settings.sender = if name.is_empty() { sender.email.to_string() } else { format!("{name} <{}>", sender.email) };
        }
        if let Some(template) = &self.invite_link_template {
            settings.invite_link_template = template.clone();
        }
        if let Some(recipients) = &self.ops_recipients {
            settings.ops_recipients = recipients.iter().map(Email::to_string).collect();
        }
        Config::new(settings, config.guide, config.matrix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kickstarts_go_only_to_allowed_domains_and_the_senders() {
        let settings = Settings { kickstart_domains: vec!["envoy.com".into(), " @partner.example ".into()], ..Settings::default() };
        let config = Config::new(settings, RoleGuide::default(), RoleMatrix::default()).unwrap();
        let allowed = |raw: &str| config.kickstart_domain_allowed(&Email::parse(raw).unwrap());
        assert!(allowed("csm@envoy.com") && allowed("csm@EU.Envoy.com") && allowed("pat@partner.example"));
        assert!(allowed("pat@example.com"), "the sender's own domain");
        assert!(!allowed("csm@notenvoy.com") && !allowed("csm@envoy.com.evil.example") && !allowed("anyone@gmail.com"));
    }

    #[test]
    fn overrides_win_and_keep_the_display_name() {
        let settings = Settings { sender: "Acme Onboarding <old@example.com>".into(), ..Settings::default() };
        let config = Config::new(settings, RoleGuide::default(), RoleMatrix::default()).unwrap();
        let overrides = ConfigOverrides {
            sender: Mailbox::parse("invites@tenant.example"),
            invite_link_template: Some("https://t.example/{email}".into()),
            ops_recipients: Some(vec![Email::parse("ops@tenant.example").unwrap()]),
        };
        let config = overrides.apply(config).unwrap();
        assert_eq!((config.sender.name.as_str(), config.sender.email.as_str()), ("Acme Onboarding", "invites@tenant.example"));
        assert_eq!(config.settings.invite_link_template, "https://t.example/{email}");
        assert_eq!(config.ops_recipients[0].as_str(), "ops@tenant.example");
        let bad = ConfigOverrides { invite_link_template: Some("https://t.example/".into()), ..ConfigOverrides::default() };
        assert!(bad.apply(config).is_err());
    }

    #[test]
    fn notify_lists_are_checked_and_read_per_kind() {
        let settings: Settings =
            Config::parse_settings(br#"{"notify": {"tenants": ["PM@Example.com"], "users": ["ops@example.com", "it@example.com"]}}"#)
                .unwrap();
        let config = Config::new(settings, RoleGuide::default(), RoleMatrix::default()).unwrap();
        assert!(config.notify(UploadKind::Buildings).is_empty());
        assert_eq!(config.notify(UploadKind::Tenants)[0].as_str(), "pm@example.com");
        assert_eq!(config.notify(UploadKind::Users).len(), 2);
        let settings = Config::parse_settings(br#"{"notify": {"users": ["not an address"]}}"#).unwrap();
        let refused = Config::new(settings, RoleGuide::default(), RoleMatrix::default()).unwrap_err();
        assert!(refused.message.contains("notify.users") && refused.message.contains("not an address"), "{}", refused.message);
        assert!(Config::parse_settings(br#"{"notify": {"user": []}}"#).is_err(), "a misspelt kind is refused");
    }

    #[test]
    fn pinned_people_are_checked_and_found_per_building() {
        let raw = br#"{"pinned_contacts": [
            {"full_name": "Liz Thomson", "email": "Liz@Example.com"},
            {"full_name": "Sam Site", "email": "sam@example.com", "phone": "(415) 555-2671", "buildings": ["3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10"]}
        ]}"#;
        let config = Config::new(Config::parse_settings(raw).unwrap(), RoleGuide::default(), RoleMatrix::default()).unwrap();
        let one = crate::values::BuildingId::parse("3f2b8c1e-0d4a-4c8e-9a51-2f6d7e8b9c10").unwrap();
        let other = crate::values::BuildingId::parse("9d1c3b5a-1111-4222-8333-444455556666").unwrap();
        let names = |b| config.pinned_for(b).map(|c| c.email.as_str().to_string()).collect::<Vec<_>>();
        assert_eq!(names(&one), ["liz@example.com", "sam@example.com"]);
        assert_eq!(names(&other), ["liz@example.com"]);
        assert_eq!(config.pinned[1].contact.phone.as_ref().map(|p| p.as_str()), Some("+14155552671"));
        for bad in [
            r#"{"pinned_contacts": [{"full_name": "", "email": "a@example.com"}]}"#,
            r#"{"pinned_contacts": [{"full_name": "A", "email": "nope"}]}"#,
            r#"{"pinned_contacts": [{"full_name": "A", "email": "a@example.com", "buildings": ["one market"]}]}"#,
        ] {
            let settings = Config::parse_settings(bad.as_bytes()).unwrap();
            let refused = Config::new(settings, RoleGuide::default(), RoleMatrix::default()).unwrap_err();
            assert!(refused.message.contains("pinned_contacts"), "{bad}: {}", refused.message);
        }
    }

    #[test]
    fn mailboxes_parse_with_and_without_names() {
        let m = Mailbox::parse("Visitor Onboarding <Onboarding@Example.com>").unwrap();
        assert_eq!(m.name, "Visitor Onboarding");
        assert_eq!(m.email.as_str(), "onboarding@example.com");
        assert_eq!(Mailbox::parse("ops@example.com").unwrap().name, "");
        assert!(Mailbox::parse("nobody").is_none());
    }

    #[test]
    fn settings_are_checked() {
        let mut settings = Settings::default();
        assert!(Config::new(settings.clone(), RoleGuide::default(), RoleMatrix::default()).is_ok());
        settings.invite_link_template = "https://app.example.com/invite".into();
        let err = Config::new(settings, RoleGuide::default(), RoleMatrix::default()).unwrap_err();
        assert!(err.message.contains("invite_link_template"));
        assert!(Config::parse_settings(br#"{"sendr": "x"}"#).is_err());
    }

    #[test]
    fn invite_links_encode_the_address() {
        let config = Config::new(Settings::default(), RoleGuide::default(), RoleMatrix::default()).unwrap();
        let email = Email::parse("ada+visits@example.com").unwrap();
        assert_eq!(config.invite_link(&email), "https://app.example.com/invite?email=ada%2Bvisits%40example%2Ecom");
    }
}
