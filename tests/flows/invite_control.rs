//! Invite control on purpose: unsent invites moved to another day (with the CLI's use case or
//! an `approvals/<migration>.reschedule.json` object), one sent invite sent again as a new
//! ledger message, each refused where it would do harm.

use crate::data::*;
use crate::faults::FaultyTable;
use crate::helpers::*;
use onboarding::app::route::UploadOutcome;
use onboarding::app::{dispatch, invites, AppError};
use onboarding::domain::invite::MailStatus;
use onboarding::domain::values::MigrationId;

pub async fn unsent_invites_are_rescheduled_and_a_sent_one_resent_once(h: Harness) {
    let sha = planned(&h, "wave", 3).await;
    let today = h.clock_now().date();
    let tomorrow = today + time::Duration::days(1);
    let later = today + time::Duration::days(5);
    let UploadOutcome::Applied { apply, .. } =
        h.upload("approvals/wave.json", &approval_json("wave", &sha, Some(&tomorrow.to_string()))).await
    else {
        panic!()
    };
    assert_eq!(apply.invites_queued, 3);
    let m = MigrationId::parse("wave").unwrap();

    // A past day is refused; a later one moves every unsent invite, and the migration's date.
    let past = invites::reschedule_invites(h.svc(), &m, today - time::Duration::days(1)).await;
    assert!(matches!(&past, Err(AppError::Rejected(r)) if r.message.contains("in the past")), "{past:?}");
    let moved = invites::reschedule_invites(h.svc(), &m, later).await.unwrap();
    assert_eq!((moved.moved, moved.sent, moved.untouched), (3, 0, 0));
    assert!(h.table.list_invites(&m).await.unwrap().iter().all(|i| i.due == later && i.status == MailStatus::Pending));
    assert_eq!(h.table.get_migration(&m).await.unwrap().unwrap().invite_date, Some(later.to_string()));
    h.clock.advance_days(1);
    let config = h.config().await;
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 0, "not due on the old date any more");

    // An approver without the CLI moves them back to today with an object under approvals/.
    let body = format!(r#"{{"invite_date": "{tomorrow}", "requested_by": "Pat Property"}}"#);
    let UploadOutcome::Rescheduled(back) = h.upload("approvals/wave.reschedule.json", body.as_bytes()).await else {
        panic!("not routed to a reschedule")
    };
    assert_eq!(back.moved, 3);
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 3);
    let after = invites::reschedule_invites(h.svc(), &m, later).await.unwrap();
    assert_eq!((after.moved, after.sent), (0, 3), "sent invites are counted, untouched");

    // A resend on purpose: a new ledger message, sent once; not while it waits to go out.
    let ada = email("user0@acme.example");
    let resent = invites::resend_invite(h.svc(), &m, &ada).await.unwrap();
    assert_eq!(resent.round, 1);
    let again = invites::resend_invite(h.svc(), &m, &ada).await;
    assert!(matches!(&again, Err(AppError::Rejected(r)) if r.code == "invite_not_sent"), "{again:?}");
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 1);
    assert_eq!(dispatch::dispatch_invites(h.svc(), &config, 100, None).await.unwrap().sent, 0);
    let sent = h.mailer.sent();
    assert_eq!(sent.get("invite#wave#user0@acme.example"), Some(&1));
    assert_eq!(sent.get("invite#wave#user0@acme.example#retry1"), Some(&1));
    h.mailer.assert_each_sent_once();
    // A second resend opens the round after.
    assert_eq!(invites::resend_invite(h.svc(), &m, &ada).await.unwrap().round, 2);

    // Nobody may resend to an address on a suppression list.
    let simulator = onboarding::adapters::embedded::SIMULATOR_SUPPRESSED;
    let export = format!("First Name,Last Name,Email,Role(s),Building assignments,Status\nSim,Ulator,{simulator},Employee,HVB,active\n");
    let UploadOutcome::Plan(plan) = h.upload("inbox/users/supp/export.csv", export.as_bytes()).await else { panic!() };
    h.upload("approvals/supp.json", &approval_json("supp", &plan.plan_sha256, None)).await;
    let supp = MigrationId::parse("supp").unwrap();
    let refused = invites::resend_invite(h.svc(), &supp, &email(simulator)).await;
    assert!(matches!(&refused, Err(AppError::Rejected(r)) if r.code == "suppressed_address"), "{refused:?}");
}

/// A reschedule goes over the invites a page at a time (a few invites a page here; a thousand
/// for real) with its writes several at once. One that stops part way, run again, writes only
/// what it had not moved; asked a third time, it writes nothing.
pub async fn a_reschedule_that_stopped_part_way_moves_only_the_rest(h: Harness) {
    const USERS: usize = 40;
    let sha = planned(&h, "big", USERS).await;
    let tomorrow = h.clock_now().date() + time::Duration::days(1);
    let later = tomorrow + time::Duration::days(6);
    let UploadOutcome::Applied { apply, .. } =
        h.upload("approvals/big.json", &approval_json("big", &sha, Some(&tomorrow.to_string()))).await
    else {
        panic!("not applied")
    };
    assert_eq!(apply.invites_queued, USERS as u64);
    let m = MigrationId::parse("big").unwrap();

    // The 25th table call fails: some invites are moved, the rest not.
    let crashing = FaultyTable::new(h.table.as_ref(), 25, false);
    let stopped = invites::reschedule_invites(h.svc_with(&crashing), &m, later).await;
    assert!(stopped.is_err(), "the injected failure stops the run: {stopped:?}");
    let moved_before = all_invites(&h, &m).await.iter().filter(|i| i.due == later).count();
    assert!(moved_before > 0 && moved_before < USERS, "{moved_before} of {USERS} moved before the stop");

    // Run again: only the rest is written, each once.
    let spy = FaultyTable::new(h.table.as_ref(), u64::MAX, false);
    let done = invites::reschedule_invites(h.svc_with(&spy), &m, later).await.unwrap();
    assert_eq!((done.moved, done.already, done.sent, done.untouched), ((USERS - moved_before) as u64, moved_before as u64, 0, 0));
    let writes = |log: Vec<String>| log.iter().filter(|call| call.starts_with("replace_invite(")).count();
    assert_eq!(writes(spy.log()), USERS - moved_before, "{:?}", spy.log());
    let pages = spy.log().iter().filter(|call| call.starts_with("invite_page(")).count();
    assert!(pages > USERS / INVITE_PAGE / 2, "read in pages, not all at once: {pages} page reads");
    // The table's runs are read side by side (DynamoDB: one a partition, so the writes go to
    // all of them at once): each run's first page is asked before any write waits.
    let runs = h.table.invite_runs(&m).len();
    assert_eq!(runs > 1, h.emulated, "DynamoDB gives a run a partition; SQLite one run: {runs}");
    let before_first_write = spy.log().iter().take_while(|call| !call.starts_with("replace_invite(")).count();
    assert!(before_first_write >= runs, "{runs} runs side by side: {:?}", spy.log());
    assert!(all_invites(&h, &m).await.iter().all(|i| i.due == later && i.status == MailStatus::Pending));
    assert_eq!(h.table.get_migration(&m).await.unwrap().unwrap().invite_date, Some(later.to_string()));

    // The same day asked again: nothing is written.
    let spy = FaultyTable::new(h.table.as_ref(), u64::MAX, false);
    let again = invites::reschedule_invites(h.svc_with(&spy), &m, later).await.unwrap();
    assert_eq!((again.moved, again.already), (0, USERS as u64));
    assert_eq!(writes(spy.log()), 0, "{:?}", spy.log());

    // A migration without invites is refused, after reading its (empty) pages.
    let none = invites::reschedule_invites(h.svc(), &MigrationId::parse("nobody").unwrap(), later).await;
    assert!(matches!(&none, Err(AppError::Rejected(r)) if r.code == "unknown_migration"), "{none:?}");
}

/// Many unconfirmed invites put back in one go: read page by page, several at once (on
/// DynamoDB the partitions side by side), each written once, the addresses answered in order.
pub async fn many_unconfirmed_invites_are_put_back_at_once_each_once(h: Harness) {
    const USERS: usize = 12;
    let sha = planned(&h, "lost", USERS).await;
    h.mailer.unconfirmed_next.store(USERS as u64, std::sync::atomic::Ordering::SeqCst);
    let UploadOutcome::Applied { dispatch, .. } = h.upload("approvals/lost.json", &approval_json("lost", &sha, None)).await else {
        panic!("not applied")
    };
    assert_eq!(dispatch.unconfirmed, USERS as u64, "{dispatch:?}");
    let m = MigrationId::parse("lost").unwrap();

    let spy = FaultyTable::new(h.table.as_ref(), u64::MAX, false);
    let retried = invites::retry_invites(h.svc_with(&spy), &m, None).await.unwrap();
    assert_eq!((retried.requeued.len(), retried.untouched), (USERS, 0), "{retried:?}");
    assert!(retried.requeued.windows(2).all(|w| w[0] < w[1]), "in address order: {:?}", retried.requeued);
    let writes = spy.log().iter().filter(|call| call.starts_with("update_invite(")).count();
    assert_eq!(writes, USERS, "each invite written once: {:?}", spy.log());
    let runs = h.table.invite_runs(&m).len();
    let before_first_write = spy.log().iter().take_while(|call| !call.starts_with("update_invite(")).count();
    assert!(before_first_write >= runs, "{runs} runs side by side: {:?}", spy.log());
    assert!(all_invites(&h, &m).await.iter().all(|i| i.status == MailStatus::Pending));

    // Asked again: nothing left to put back.
    let again = invites::retry_invites(h.svc(), &m, None).await.unwrap();
    assert_eq!((again.requeued.len(), again.untouched), (0, USERS as u64));
}

/// Every invite of `m`, page by page, run by run; each met once, each run in address order,
/// the same as one run from the first page gives, and merged in address order by
/// `list_invites` (the runs merged as `onboard invites list` merges them).
async fn all_invites(h: &Harness, m: &MigrationId) -> Vec<onboarding::domain::invite::Invite> {
    let table = h.table.as_ref();
    let mut all = Vec::new();
    for mut pages in onboarding::ports::InvitePages::runs(table, m) {
        let mut run: Vec<String> = Vec::new();
        while let Some(invites) = pages.next().await.unwrap() {
            run.extend(invites.iter().map(|i| i.email.to_string()));
            all.extend(invites);
        }
        assert!(run.windows(2).all(|w| w[0] < w[1]), "a run's invites in address order: {run:?}");
    }
    let mut emails: Vec<&str> = all.iter().map(|i| i.email.as_str()).collect();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), all.len(), "each invite in one run and on one page only");
    let mut one_run = Vec::new();
    let mut pages = onboarding::ports::InvitePages::new(table, m);
    while let Some(invites) = pages.next().await.unwrap() {
        one_run.extend(invites.into_iter().map(|i| i.email.to_string()));
    }
    one_run.sort();
    assert_eq!(one_run, emails, "the runs together are every invite");
    let merged: Vec<String> = table.list_invites(m).await.unwrap().into_iter().map(|i| i.email.to_string()).collect();
    assert_eq!(merged, emails, "the runs merged in address order");
    all
}
