//! The synthetic platform a generated export belongs to: buildings (with aliases and UUIDs), the
//! role guide and the role-mapping matrix, tenant companies and people's names. Made-up data.

use crate::rng::Rng;

/// Old roles of the previous visitor system that the matrix maps, with how often they occur,
/// and the platform roles each maps to.
pub const MAPPED_ROLES: &[(u32, (&str, &[&str]))] = &[
    (50, ("Employee", &["Visitor Registration Host", "Tenant User"])),
    (10, ("Tenant Employee", &["Visitor Registration Host", "Tenant User"])),
    (8, ("Front Desk", &["Visitor Registration Coordinator", "Tenant User"])),
    (5, ("Receptionist", &["Visitor Registration Coordinator", "Tenant User"])),
    (5, ("Admin", &["Visitor Registration Administrator", "Tenant User"])),
    (4, ("Company Admin", &["Visitor Registration Administrator"])),
    (4, ("Security", &["Visitor Registration Coordinator"])),
    (4, ("Building Manager", &["Property Manager"])),
    (10, ("Host", &["Visitor Registration Host"])),
];

/// Old roles the matrix does not know (each makes an `unmapped_role` issue).
pub const UNMAPPED_ROLES: &[&str] = &["Janitor", "Contractor", "Legacy Superuser", "Temp Badge Printer", "Kiosk"];

pub const ROLE_GUIDE_CSV: &str = "Role,Capabilities,Description
Visitor Registration Administrator,register_visitors; manage_visitors; view_visitor_log; manage_hosts,SYNTHETIC DATA
Visitor Registration Coordinator,register_visitors; view_visitor_log,SYNTHETIC DATA
Visitor Registration Host,register_visitors,SYNTHETIC DATA
Tenant User,view_building_news; book_amenities,SYNTHETIC DATA
Property Manager,manage_building; view_visitor_log; register_visitors,SYNTHETIC DATA
";

pub const ROLE_MATRIX_CSV: &str = "Old Role,Platform Roles,Old Capabilities
Employee,Visitor Registration Host; Tenant User,register_visitors
Tenant Employee,Visitor Registration Host; Tenant User,register_visitors
Front Desk,Visitor Registration Coordinator; Tenant User,register_visitors; view_visitor_log; print_badges
Receptionist,Visitor Registration Coordinator; Tenant User,register_visitors; view_visitor_log
Admin,Visitor Registration Administrator; Tenant User,register_visitors; manage_visitors; view_visitor_log
Company Admin,Visitor Registration Administrator,register_visitors; manage_visitors
Security,Visitor Registration Coordinator,register_visitors; view_visitor_log; print_badges
Building Manager,Property Manager,manage_building; view_visitor_log
Host,Visitor Registration Host,register_visitors
";

pub const SETTINGS_JSON: &str = r#"{ "sender": "Visitor Onboarding <onboarding@example.com>", "default_phone_region": "US", "platform_name": "Synthetic Tenant App", "kickstart_domains": ["envoy.example"] }"#;

pub const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Dorothy",
    "Mary",
    "Margaret",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "John",
    "Radia",
    "Tim",
    "Vint",
    "Shafi",
    "Leslie",
    "Ken",
    "Dennis",
    "Bjarne",
    "Guido",
    "Linus",
    "Sophie",
    "Lucas",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Mia",
    "Ethan",
    "Chloé",
    "José",
    "Zoë",
    "Søren",
    "François",
    "Łukasz",
    "Ngozi",
    "Hiroshi",
    "Priya",
    "Mateo",
    "Aisha",
    "Wei",
    "Fatima",
    "Omar",
    "Ingrid",
    "Björn",
    "Anaïs",
    "Diego",
    "Yara",
    "Kofi",
    "Elena",
    "Ivan",
    "Nadia",
    "Pedro",
    "Hana",
    "Ravi",
    "Sara",
    "Tomás",
    "Uma",
    "Viktor",
];

pub const LAST_NAMES: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Vaughan",
    "Jackson",
    "Hamilton",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "McCarthy",
    "Perlman",
    "Berners-Lee",
    "Cerf",
    "Goldwasser",
    "Lamport",
    "Thompson",
    "Ritchie",
    "Stroustrup",
    "van Rossum",
    "Torvalds",
    "Müller",
    "García",
    "O'Brien",
    "Nakamura",
    "Okafor",
    "Patel",
    "Kowalski",
    "Dubois",
    "Rossi",
    "Jensen",
    "Andersson",
    "Novak",
    "Silva",
    "Kim",
    "Nguyen",
    "Haddad",
    "Schmidt",
    "Fernández",
    "Ivanova",
    "Mensah",
    "Svensson",
    "Costa",
    "Yilmaz",
    "Tanaka",
    "Chen",
    "Singh",
    "Brown",
    "Smith",
];

pub const DEPARTMENTS: &[&str] =
    &["Engineering", "Reception", "Research", "Facilities", "Finance", "Legal", "Sales", "Marketing", "Research, Development", "HR"];

pub const COMPANIES: &[&str] = &[
    "acme.example",
    "initech.example",
    "globex.example",
    "umbrella.example",
    "hooli.example",
    "stark.example",
    "wayne.example",
    "wonka.example",
    "tyrell.example",
    "cyberdyne.example",
    "soylent.example",
    "vandelay.example",
    "piedpiper.example",
    "dundermifflin.example",
    "oscorp.example",
    "aperture.example",
    "blackmesa.example",
    "monarch.example",
    "gringotts.example",
    "nakatomi.example",
];

const STREETS: &[&str] = &[
    "Market", "Harbor", "River", "Mission", "Beacon", "Union", "Liberty", "Madison", "Lake", "Park", "Canal", "Bridge", "Summit",
    "Granite", "Cedar", "Willow", "Meridian", "Pioneer", "Franklin", "Atlantic",
];
const KINDS: &[&str] = &["Plaza", "Tower", "Commons", "Center", "House", "Yards", "Point", "Square"];

/// A building of the synthetic platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthBuilding {
    pub id: String,
    pub name: String,
    pub alias: String,
    pub permissioned: bool,
}

/// Buildings of the synthetic platform (`count` of them), the same for a given seed.
pub fn buildings(seed: u64, count: usize) -> Vec<SynthBuilding> {
    (0..count)
        .map(|i| {
            let mut rng = Rng::for_item(seed, 0xB111, i as u64);
            let street = STREETS[i % STREETS.len()];
            let kind = KINDS[(i / STREETS.len()) % KINDS.len()];
            let round = i / (STREETS.len() * KINDS.len());
            let name = if round == 0 { format!("{street} {kind}") } else { format!("{street} {kind} {}", round + 1) };
            let alias = format!("{}{}{}", &street[..3].to_uppercase(), &kind[..1], i + 1);
            let a = rng.next_u64();
            let b = rng.next_u64();
            let id = format!(
                "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
                a >> 32,
                (a >> 16) & 0xffff,
                a & 0xfff,
                0x8000 | (b >> 48) & 0x3fff,
                b & 0xffff_ffff_ffff
            );
            SynthBuilding { id, name, alias, permissioned: i % 5 != 4 }
        })
        .collect()
}

/// The buildings file for `buildings`.
pub fn buildings_csv(buildings: &[SynthBuilding]) -> String {
    let mut out = String::from("Building UUID,Building Name,Address,Envoy CSM Email,Tile Policy,Aliases\n");
    for (i, b) in buildings.iter().enumerate() {
        let policy = if b.permissioned { "permissioned" } else { "everyone" };
        out.push_str(&format!(
            "{},{},\"{} {} St, Springfield\",csm{}@envoy.example,{policy},{}\n",
            b.id,
            b.name,
            i + 1,
            b.name,
            i % 7,
            b.alias
        ));
    }
    out
}

/// Lower-case ASCII for an e-mail local part: `Zoë O'Brien` → `zoeobrien`.
pub fn ascii_slug(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            'é' | 'è' | 'ë' | 'É' => Some('e'),
            'á' | 'à' | 'ä' => Some('a'),
            'ï' | 'í' => Some('i'),
            'ö' | 'ø' | 'ó' | 'Ø' => Some('o'),
            'ü' | 'ú' => Some('u'),
            'ç' => Some('c'),
            'ł' | 'Ł' => Some('l'),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildings_are_distinct_and_stable() {
        let a = buildings(7, 200);
        assert_eq!(a, buildings(7, 200));
        let mut names: Vec<_> = a.iter().map(|b| b.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 200);
        assert!(onboarding::domain::values::BuildingId::parse(&a[0].id).is_ok());
        assert_eq!(ascii_slug("Zoë O'Brien"), "zoeobrien");
    }
}
