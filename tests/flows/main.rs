//! Whole flows, run twice: over the embedded adapters (`embedded::*`) and over an AWS emulator
//! with the real SDK (`emulator::*`). `bash infra/test.sh` starts the emulator; without it the
//! emulator tests fail and say so.

mod faults;
mod helpers;
mod scenarios;
mod template;

macro_rules! both_adapter_sets {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::scenarios::$name(crate::helpers::Harness::embedded()).await;
                }
            )*
        }
        mod emulator {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::scenarios::$name(crate::helpers::Harness::emulator().await).await;
                }
            )*
        }
    };
}

both_adapter_sets!(
    buildings_are_upserted_and_kicked_off_once,
    tenant_contacts_grant_the_tile_and_write_the_envoy_file,
    replace_mode_refuses_a_mass_removal_unless_forced,
    migration_plans_approves_applies_and_invites_exactly_once,
    stale_and_unknown_approvals_are_refused,
    apply_resumes_after_a_crash_at_any_point,
    dispatch_resumes_after_mail_failures_without_duplicates,
    validation_report_flags_stale_kickstarts_and_late_invites,
    rejected_files_write_nothing_and_say_why,
);
