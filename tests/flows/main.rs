//! Whole flows, run twice: over the embedded adapters (`embedded::*`) and over an AWS emulator
//! with the real SDK (`emulator::*`). `bash infra/test.sh` starts the emulator; without it the
//! emulator tests fail and say so. Tests are named `<adapter set>::<module>::<scenario>`, so
//! `cargo test -p tests replays` runs one module on both sets.

mod access;
mod crashes;
mod data;
mod envoy_guard;
mod faults;
mod feedback;
mod golive;
mod helpers;
mod hostile;
mod iam;
mod injection;
mod invite_control;
mod logs;
mod notices;
mod outputs;
mod platform;
mod policies;
mod queued;
mod real_files;
mod replays;
mod scenarios;
mod sending;
mod state;
mod template;
mod throttling;
mod zones;

macro_rules! both_adapter_sets {
    ($($module:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        mod embedded {
            $(
                mod $module {
                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                        async fn $name() {
                            crate::$module::$name(crate::helpers::Harness::embedded()).await;
                        }
                    )*
                }
            )*
        }
        mod emulator {
            $(
                mod $module {
                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                        async fn $name() {
                            crate::$module::$name(crate::helpers::Harness::emulator().await).await;
                        }
                    )*
                }
            )*
        }
    };
}

both_adapter_sets!(
    scenarios: [
        buildings_are_upserted_and_kicked_off_once,
        tenant_contacts_grant_the_tile_and_write_the_envoy_file,
        replace_mode_refuses_a_mass_removal_unless_forced,
        migration_plans_approves_applies_and_invites_exactly_once,
        stale_and_unknown_approvals_are_refused,
        apply_resumes_after_a_crash_at_any_point,
        dispatch_resumes_after_mail_failures_without_duplicates,
        validation_report_flags_stale_kickstarts_and_late_invites,
        rejected_files_write_nothing_and_say_why,
    ],
    invite_control: [
        unsent_invites_are_rescheduled_and_a_sent_one_resent_once,
        a_reschedule_that_stopped_part_way_moves_only_the_rest,
        many_unconfirmed_invites_are_put_back_at_once_each_once,
    ],
    feedback: [bounces_and_complaints_suppress_addresses_and_pause_invites_until_resumed],
    zones: [an_invite_date_is_the_local_hour_in_the_persons_building, reports_show_local_times_with_the_zone],
    platform: [existing_platform_users_are_compared_and_a_newer_snapshot_replaces_them],
    golive: [pinned_people_are_in_every_envoy_file_and_replace_mode_keeps_them],
    outputs: [large_outputs_are_written_in_parts_and_appear_only_when_finished],
    queued: [a_plan_applied_in_queued_parts_ends_as_one_run_does],
    notices: [
        every_upload_tells_its_people_once_with_links_that_open,
        a_throttled_notice_fails_the_delivery_and_the_retry_sends_it_once,
    ],
    real_files: [
        the_guides_tenant_file_is_accepted_and_other_flows_send_it_back,
        replace_mode_keeps_people_whose_rows_were_rejected_and_reports_it,
        a_buildings_reupload_keeps_what_it_leaves_out_and_lists_what_changed,
        a_workbook_with_typed_cells_reads_as_excel_shows_it,
        an_export_with_its_own_header_words_plans_like_the_canonical_one,
    ],
    replays: [
        buildings_events_replayed_and_concurrent_write_once,
        tenants_events_replayed_and_concurrent_write_once,
        users_plan_events_replayed_and_concurrent_write_once,
        approval_events_replayed_and_concurrent_apply_once,
        dispatch_schedule_replayed_and_concurrent_sends_once,
        validation_schedule_replayed_and_concurrent_mails_once,
    ],
    crashes: [
        apply_resumes_from_every_partial_state,
        dispatch_resumes_after_a_crash_at_any_point,
        dispatch_resumes_after_the_mailer_fails_at_any_send,
        totals_add_up_after_crashed_and_resumed_plans,
    ],
    throttling: [
        throttled_apply_and_dispatch_resume_with_nothing_lost,
        a_failed_delivery_leaves_the_event_to_the_next_delivery,
    ],
    hostile: [every_hostile_file_gets_a_clear_answer_and_writes_nothing_when_rejected, hostile_keys_are_refused_or_ignored],
    injection: [outputs_neutralise_formulas_and_escape_html, names_cannot_inject_mail_headers],
    access: [tile_answers_reveal_nothing_about_other_users, tile_batches_are_limited_to_100],
    logs: [logs_of_whole_flows_carry_no_addresses_or_phone_numbers],
    envoy_guard: [envoy_export_refuses_to_drop_many_unless_forced],
    sending: [
        an_unverified_sender_pauses_everything_and_the_next_run_sends_each_mail_once,
        an_unconfirmed_send_is_never_resent_by_itself_and_retry_puts_it_back,
        throttling_never_counts_as_an_attempt,
        a_person_planned_in_two_migrations_applied_at_once_is_created_and_invited_once,
        kickstarts_only_go_to_allowed_domains,
        uploads_are_read_at_their_event_version_and_sized_before_download,
        an_invite_to_a_suppressed_address_is_not_put_back,
        sends_in_flight_go_out_once_each_through_throttling_a_failure_and_a_crash,
    ],
);
