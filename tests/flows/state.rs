//! Everything a run can have written, as comparable lines: the bucket (every key and a hash of
//! its content) and the table (buildings, contacts and grants, users, migrations, invites and
//! the mail ledger). Message ids are shown only as present or absent (SES makes new ones).

use crate::helpers::Harness;
use onboarding::domain::mail::{invite_key, kickstart_key};
use onboarding::domain::values::Email;
use sha2::Digest;

/// Every object and its content hash. `skip` leaves out keys starting with any of the prefixes.
pub async fn bucket(h: &Harness, skip: &[&str]) -> Vec<String> {
    let mut lines = Vec::new();
    for key in h.objects.list("").await.unwrap() {
        if skip.iter().any(|p| key.starts_with(p)) {
            continue;
        }
        let bytes = h.objects.get(&key).await.unwrap();
        lines.push(format!("{key} {}", &hex::encode(sha2::Sha256::digest(&bytes))[..16]));
    }
    lines
}

/// The table as the product's ports show it. `people` are the addresses whose user records are
/// read (users cannot be listed); invitees and contacts are added to them.
pub async fn table(h: &Harness, people: &[&str]) -> Vec<String> {
    let t = h.table.as_ref();
    let mut lines = Vec::new();
    let mut emails: Vec<Email> = people.iter().map(|e| Email::parse(e).unwrap()).collect();
    for state in t.list_buildings().await.unwrap() {
        let b = &state.building;
        lines.push(format!(
            "building {} {:?} phase={:?} since={} kickstart_id={}",
            b.id,
            b,
            state.phase,
            onboarding::domain::moment::rfc3339(state.phase_changed_at),
            state.kickstart_message_id.is_some()
        ));
        for contact in t.list_contacts(&b.id).await.unwrap() {
            let granted = t.has_grant(&b.id, &contact.email).await.unwrap();
            lines.push(format!("contact {} {:?} granted={granted}", b.id, contact));
        }
        lines.push(format!("grants {} {}", b.id, t.count_grants(&b.id).await.unwrap()));
        lines.extend(ledger(h, &kickstart_key(b, 0)).await);
    }
    for record in t.list_migrations().await.unwrap() {
        lines.push(format!("migration {record:?}"));
        for invite in t.list_invites(&record.id).await.unwrap() {
            lines.push(format!(
                "invite {} {} {:?} due={} error={:?} id={} attempts={}",
                invite.migration,
                invite.email,
                invite.status,
                invite.due,
                invite.error,
                invite.message_id.is_some(),
                invite.attempts
            ));
            lines.extend(ledger(h, &invite_key(invite.migration.as_str(), &invite.email)).await);
            emails.push(invite.email);
        }
    }
    emails.sort();
    emails.dedup();
    for chunk in emails.chunks(100) {
        let users = t.get_users(chunk).await.unwrap();
        let mut found: Vec<String> =
            users.iter().map(|(e, u)| format!("user {e} roles={:?} buildings={:?}", sorted(&u.roles), sorted(&u.buildings))).collect();
        found.sort();
        lines.extend(found);
    }
    let today = h.clock_now().date();
    lines.extend(ledger(h, &format!("validation#{today}")).await);
    lines
}

fn sorted<T: std::fmt::Debug>(items: impl IntoIterator<Item = T>) -> Vec<String> {
    let mut out: Vec<String> = items.into_iter().map(|i| format!("{i:?}")).collect();
    out.sort();
    out
}

async fn ledger(h: &Harness, key: &str) -> Option<String> {
    let entry = h.table.get_mail(key).await.unwrap()?;
    Some(format!("mail {key} {:?} id={} detail={:?}", entry.status, entry.message_id.is_some(), entry.detail))
}

/// Both, for "nothing changed" checks.
pub async fn all(h: &Harness, people: &[&str]) -> Vec<String> {
    let mut lines = bucket(h, &[]).await;
    lines.extend(table(h, people).await);
    lines
}

/// Lines of `after` that `before` does not have, and the other way round, for messages.
pub fn diff(before: &[String], after: &[String]) -> String {
    let gone: Vec<_> = before.iter().filter(|l| !after.contains(l)).collect();
    let new: Vec<_> = after.iter().filter(|l| !before.contains(l)).collect();
    format!("gone: {gone:#?}\nnew: {new:#?}")
}

/// The lines without the invites' attempt counts (a failed attempt is history, not state).
pub fn without_attempts(lines: &[String]) -> Vec<String> {
    lines.iter().map(|l| l.split(" attempts=").next().unwrap_or(l).to_string()).collect()
}
