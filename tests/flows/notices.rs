//! After every upload, the people configured for its kind get one e-mail: processed or
//! refused, counts, the first issues, where the reports are (with links that open them), how to
//! approve a plan; once per object version, whatever the retries.

use crate::data::*;
use crate::helpers::*;
use onboarding::app::route::{handle_upload, UploadOutcome};
use onboarding::app::AppError;
use onboarding::ports::PortError;
use std::collections::HashMap;

/// Each notice that went out: its HTML, keyed by the mail's ledger key.
fn notices(h: &Harness) -> HashMap<String, String> {
    h.mailer.raw_messages().into_iter().filter(|(key, _)| key.starts_with("notice#")).map(|(key, (_, html))| (key, html)).collect()
}

/// The one notice whose HTML contains `marker`.
fn notice_with(h: &Harness, marker: &str) -> String {
    let found: Vec<String> = notices(h).into_values().filter(|html| html.contains(marker)).collect();
    assert_eq!(found.len(), 1, "one notice mentioning {marker}, got {}: {found:#?}", found.len());
    found.into_iter().next().unwrap()
}

/// Every `href` of an HTML part, unescaped.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"").skip(1).filter_map(|rest| rest.split('"').next()).map(|l| l.replace("&amp;", "&")).collect()
}

/// What a person opening `link` gets: a file URL read from disk, an http URL (a presigned S3
/// GET on the emulator) fetched with a plain HTTP/1.1 GET.
pub async fn open(link: &str) -> Vec<u8> {
    let (status, body) = fetch(link).await;
    assert!(status.starts_with("HTTP/1.1 200"), "{link}: {status}");
    body
}

/// The status line and body `link` answers (a file URL answers 200 with the file).
pub async fn fetch(link: &str) -> (String, Vec<u8>) {
    if let Some(path) = link.strip_prefix("file://") {
        let mut bytes = Vec::new();
        let raw = path.as_bytes();
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'%' && i + 2 < raw.len() {
                bytes.push(u8::from_str_radix(std::str::from_utf8(&raw[i + 1..i + 3]).unwrap(), 16).unwrap());
                i += 3;
            } else {
                bytes.push(raw[i]);
                i += 1;
            }
        }
        return ("HTTP/1.1 200 (file)".into(), std::fs::read(String::from_utf8(bytes).unwrap()).unwrap());
    }
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = link.strip_prefix("http://").unwrap_or_else(|| panic!("not a local http link: {link}"));
    let (host, path) = rest.split_once('/').unwrap();
    let mut socket = tokio::net::TcpStream::connect(host).await.unwrap();
    socket.write_all(format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head.lines().next().unwrap_or_default().to_string();
    let body = answer[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let line_end = at + body[at..].windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(std::str::from_utf8(&body[at..line_end]).unwrap().trim(), 16).unwrap();
            if size == 0 {
                return (status, out);
            }
            out.extend_from_slice(&body[line_end + 2..line_end + 2 + size]);
            at = line_end + 2 + size + 2;
        }
    }
    (status, body)
}

pub async fn every_upload_tells_its_people_once_with_links_that_open(h: Harness) {
    h.with_buildings().await;
    set_settings(&h, serde_json::json!({"max_send_rate_per_second": 1000})).await;
    let buildings = notice_with(&h, "The buildings file was processed");
    assert!(buildings.contains("2 of 3 rows accepted") && buildings.contains("Envoy CSM Email"), "counts and the first issue: {buildings}");

    // Tenants: counts, the report and the Envoy file, each with a link that opens it.
    let UploadOutcome::Tenants(tenants) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/contacts.csv"), &tenants_csv(3)).await else {
        panic!()
    };
    let html = notice_with(&h, "Tenant contacts were processed");
    assert!(html.contains("3 of 3 rows accepted") && html.contains("Tile granted"), "{html}");
    let report = tenants.outputs.iter().find(|k| k.ends_with("/report.html")).unwrap();
    assert!(html.contains(report.as_str()), "the report's key: {html}");
    let report_link = links(&html).into_iter().find(|l| l.contains("report.html")).expect("a link to the report");
    assert_eq!(open(&report_link).await, h.objects.get(report).await.unwrap(), "the link opens the report");
    let envoy_link = links(&html).into_iter().find(|l| l.contains("envoy-employees")).expect("a link to the Envoy file");
    assert!(String::from_utf8(open(&envoy_link).await).unwrap().contains("person2@tenant.example"));

    // A plan: its SHA-256 and exactly how to approve it, both ways.
    let UploadOutcome::Plan(plan) = h.upload("inbox/users/wave-1/export.csv", &users_csv(3)).await else { panic!() };
    let html = notice_with(&h, "is ready for approval");
    for part in [
        format!("onboard approve --migration wave-1 --plan-sha256 {}", plan.plan_sha256),
        "approvals/wave-1.json".to_string(),
        "New users to create and invite".to_string(),
        "Issues (".to_string(),
    ] {
        assert!(html.contains(&part), "{part} missing: {html}");
    }

    // The approval: what was applied.
    h.upload("approvals/wave-1.json", &approval_json("wave-1", &plan.plan_sha256, None)).await;
    let html = notice_with(&h, "was applied");
    assert!(html.contains("Invites queued"), "{html}");

    // A refused file: the fix, not a success.
    let refused = h.upload("inbox/users/wave-2/export.csv", b"Name,Phone\nAda,1\n").await;
    assert!(matches!(refused, UploadOutcome::Rejected { .. }), "{refused:?}");
    let html = notice_with(&h, "The file was refused");
    assert!(html.contains("missing_column") && html.contains("Email"), "names the code and the column: {html}");

    // Who gets what: the tenants list has two people, the others one.
    let raw = h.mailer.raw_messages();
    let to_of = |marker: &str| {
        let (bytes, _) = raw.values().find(|(_, html)| html.contains(marker)).unwrap();
        let text = String::from_utf8_lossy(bytes).to_string();
        text.lines().find(|l| l.starts_with("To:")).unwrap_or_default().to_string()
    };
    assert!(to_of("Tenant contacts were processed").contains("property.manager@example.com"));
    assert!(!to_of("is ready for approval").contains("property.manager@example.com"));

    // Every event delivered again: nothing is told twice.
    let before = notices(&h).len();
    assert_eq!(before, 5);
    h.deliver(&format!("inbox/tenants/{ONE_MARKET}/contacts.csv"), &tenants_csv(3)).await;
    h.deliver("inbox/users/wave-2/export.csv", b"Name,Phone\nAda,1\n").await;
    h.deliver("inbox/buildings/buildings.csv", BUILDINGS_CSV).await;
    assert_eq!(notices(&h).len(), before);
    h.mailer.assert_each_sent_once();
}

/// A notice that cannot go out because the mail service throttles (after the adapter's own
/// retries) fails the delivery, so Lambda's retry tells the people later; the work the flow did
/// is not done twice and the notice goes out once.
pub async fn a_throttled_notice_fails_the_delivery_and_the_retry_sends_it_once(h: Harness) {
    h.with_buildings().await;
    let key = format!("inbox/tenants/{ONE_MARKET}/contacts.csv");
    let bytes = tenants_csv(4);
    h.objects.put(&key, bytes.clone(), "text/csv").await.unwrap();
    h.mailer.fail_after_more(0);
    let failed = handle_upload(h.svc(), &key, &version_of(&bytes)).await;
    assert!(matches!(failed, Err(AppError::Port(PortError::Throttled(_)))), "{failed:?}");
    assert!(notices(&h).keys().all(|k| !k.contains("contacts")), "nothing told yet");
    h.mailer.fail_after.store(0, std::sync::atomic::Ordering::SeqCst);
    let UploadOutcome::Tenants(retried) = h.deliver(&key, &bytes).await else { panic!("the retry processes the upload") };
    assert_eq!(retried.accepted, 4);
    notice_with(&h, "Tenant contacts were processed");
    let again = h.deliver(&key, &bytes).await;
    assert!(matches!(again, UploadOutcome::AlreadyProcessed), "{again:?}");
    h.mailer.assert_each_sent_once();
}
