//! Injection: names, roles, buildings and extra columns that look like spreadsheet formulas,
//! HTML or e-mail headers go through every flow; every CSV the product writes neutralises
//! formula starts (`=`, `+`, `-`, `@`, tab, CR), every HTML report escapes them, and no e-mail
//! gets a header from them (the messages are parsed as the mail service receives them, and the
//! outbox's `.eml` files too).

use crate::data::*;
use crate::helpers::*;
use onboarding::app::route::UploadOutcome;
use onboarding::app::{dispatch, validate};

const FORMULAS: [&str; 6] = ["=cmd|' /C calc'!A0", "+SUM(1;2)", "-2+3", "@SUM(A1)", "\tTabbed", "\rCarriage"];
const HTML: &str = "<script>alert(1)</script>";

/// The cells of a CSV text (RFC 4180 quoting).
fn csv_cells(text: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => cells.push(std::mem::take(&mut cell)),
            (false, '\n') => cells.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, c) => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

fn e164(cell: &str) -> bool {
    cell.len() >= 9 && cell.len() <= 16 && cell.starts_with('+') && cell[1..].bytes().all(|b| b.is_ascii_digit())
}

/// The header lines of an RFC 5322 message (continuation lines joined).
fn headers(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = lines.last_mut() {
                last.push_str(line);
            }
        } else {
            lines.push(line.to_string());
        }
    }
    lines
}

const ALLOWED_HEADERS: [&str; 9] =
    ["from", "to", "cc", "subject", "message-id", "date", "mime-version", "content-type", "content-transfer-encoding"];

/// Every message's header names are the ones we write, each once, and none came from data;
/// the HTML part (when given) shows data escaped.
fn check_messages(messages: &[(String, Vec<u8>, Option<String>)]) -> usize {
    for (key, raw, html) in messages {
        let lines = headers(raw);
        let mut seen = std::collections::HashMap::new();
        for line in &lines {
            let name = line.split(':').next().unwrap_or_default().to_ascii_lowercase();
            assert!(ALLOWED_HEADERS.contains(&name.as_str()), "{key}: header “{name}” in\n{}", lines.join("\n"));
            *seen.entry(name).or_insert(0) += 1;
        }
        assert!(seen.values().all(|n| *n == 1), "{key}: a header twice: {seen:?}");
        // "Bcc: …" from a name may show as text inside From or Subject; it never starts a line.
        assert!(!lines.iter().any(|l| l.to_ascii_lowercase().starts_with("bcc")), "{key}: {lines:?}");
        if let Some(html) = html {
            assert!(!html.contains(HTML) && !html.contains("<script"), "{key}: raw HTML from data in the HTML part");
        }
    }
    messages.len()
}

async fn hostile_data(h: &Harness) -> String {
    h.load_example_config().await;
    set_settings(h, serde_json::json!({"platform_name": "Tenant App\r\nBcc: victim@evil.example", "sender": "Onboarding\r\nBcc: x@evil.example <onboarding@example.com>", "max_send_rate_per_second": 1000})).await;
    let name = |i: usize| format!("{}{HTML}", FORMULAS[i % FORMULAS.len()]);
    let buildings = format!(
        "Building UUID,Building Name,Address,Envoy CSM Email,Tile Policy,Aliases\n{ONE_MARKET},\"{}\",\"{}\",csm@envoy.example,,\"=1MKT\"\n{HARBOR_VIEW},\"Harbor\r\nBcc: victim@evil.example\",\"-1 Harbor Dr\",csm@envoy.example,everyone,HVB\n",
        name(0).replace('"', "\"\""),
        name(3)
    );
    let UploadOutcome::Buildings(b) = h.upload("inbox/buildings/b.csv", buildings.as_bytes()).await else { panic!() };
    assert_eq!(b.accepted, 2, "{:?}", b.issues);
    let mut tenants = String::from("Full Name,Email,Phone Number\n");
    for (i, formula) in FORMULAS.iter().enumerate() {
        tenants.push_str(&format!("\"{}{HTML}\",t{i}@acme.example,+1415555{:04}\n", formula.replace('"', "\"\""), 1000 + i));
    }
    tenants.push_str("\"=bad\",=bad@acme.example,\n");
    let UploadOutcome::Tenants(_) = h.upload(&format!("inbox/tenants/{ONE_MARKET}/t.csv"), tenants.as_bytes()).await else { panic!() };
    let mut users = String::from("First Name,Last Name,Email,Role(s),Building assignments,Status,=Extra\n");
    for (i, formula) in FORMULAS.iter().enumerate() {
        users.push_str(&format!(
            "\"{}\",\"{HTML}\r\nBcc: victim@evil.example\",u{i}@acme.example,Employee,HVB,active,\"{}\"\n",
            formula.replace('"', "\"\""),
            formula.replace('"', "\"\"")
        ));
    }
    users.push_str("\"=HYPERLINK(\"\"http://evil.example\"\")\",X,=1@acme.example,=Role,=Building,=1,@x\n");
    let UploadOutcome::Plan(plan) = h.upload("inbox/users/m1/export.csv", users.as_bytes()).await else { panic!() };
    let UploadOutcome::Applied { .. } = h.upload("approvals/m1.json", &approval_json("m1", &plan.plan_sha256, Some("2026-11-24"))).await
    else {
        panic!()
    };
    plan.plan_sha256
}

pub async fn outputs_neutralise_formulas_and_escape_html(h: Harness) {
    hostile_data(&h).await;
    h.clock.advance_days(3);
    let config = h.config().await;
    validate::validation_report(h.svc(), &config).await.unwrap();
    h.clock.advance_days(-2);
    dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap();
    h.clock.advance_days(2);
    validate::validation_report(h.svc(), &config).await.unwrap();

    let (mut csvs, mut htmls, mut cells_checked) = (0, 0, 0);
    for key in h.objects.list("").await.unwrap() {
        if key.starts_with("inbox/") || key.starts_with("config/") {
            continue;
        }
        let text = String::from_utf8(h.objects.get(&key).await.unwrap()).unwrap();
        if key.ends_with(".csv") {
            csvs += 1;
            for cell in csv_cells(&text) {
                cells_checked += 1;
                let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && !e164(&cell);
                assert!(!risky, "{key}: a cell a spreadsheet would run: {cell:?}");
            }
        }
        if key.ends_with(".html") {
            htmls += 1;
            assert!(!text.contains(HTML) && !text.contains("<script"), "{key}: raw HTML from data");
        }
    }
    for must in ["reports/users/m1/plan.csv", "reports/users/m1/issues.csv", &format!("exports/envoy/{ONE_MARKET}/envoy-employees.csv")] {
        let text = String::from_utf8(h.objects.get(must).await.unwrap()).unwrap();
        assert!(text.contains("'=") || text.contains("\"'="), "{must} holds neutralised cells: {text}");
    }
    let report = String::from_utf8(h.objects.get("reports/users/m1/report.html").await.unwrap()).unwrap();
    assert!(report.contains("&lt;script&gt;"), "the plan report shows the names, escaped");
    let validation = h.objects.list("reports/validation/").await.unwrap();
    assert!(validation.iter().any(|k| k.ends_with("report.csv")) && validation.iter().any(|k| k.ends_with("report.html")));
    assert!(csvs >= 7 && htmls >= 2, "{csvs} CSV and {htmls} HTML files checked");
    eprintln!("injection: {csvs} CSV files ({cells_checked} cells) and {htmls} HTML reports checked");
}

pub async fn names_cannot_inject_mail_headers(h: Harness) {
    hostile_data(&h).await;
    h.clock.advance_days(1);
    let config = h.config().await;
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, FORMULAS.len() as u64);
    validate::validation_report(h.svc(), &config).await.unwrap();
    let messages: Vec<(String, Vec<u8>, Option<String>)> =
        h.mailer.raw_messages().into_iter().map(|(key, (raw, html))| (key, raw, Some(html))).collect();
    let kinds = ["kickstart#", "invite#", "validation#"];
    for kind in kinds {
        assert!(messages.iter().any(|(k, _, _)| k.starts_with(kind)), "no {kind} mail");
    }
    let kickstart = messages.iter().find(|(k, _, _)| k.starts_with(&format!("kickstart#{ONE_MARKET}"))).unwrap();
    assert!(kickstart.2.as_deref().unwrap_or_default().contains("&lt;script&gt;"), "the building's name is shown, escaped");
    let checked = check_messages(&messages);
    // The outbox's files, as a mail program opens them.
    let mut files = Vec::new();
    if let Some(dir) = &h.outbox {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "eml") {
                files.push((path.display().to_string(), std::fs::read(&path).unwrap(), None));
            }
        }
        assert_eq!(files.len(), checked);
        check_messages(&files);
    }
    eprintln!("mail headers: {checked} messages parsed, {} outbox files", files.len());
}
