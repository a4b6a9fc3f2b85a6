//! How a function's run failed, as Lambda reports it: one error type for the scheduled
//! functions, and one name per kind of failure for every function's `errorType`.

use crate::app::AppError;
use crate::ports::PortError;
use std::fmt;

/// The scheduled functions, each with what its failure means for the next run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduledRun {
    /// `dispatch-invites`: the due invites within the SES rate.
    DispatchInvites,
    /// `validation-report`: the daily report and its mailed summary.
    ValidationReport,
    /// `delivery-feedback`: SES's delivery events for one SNS delivery.
    DeliveryFeedback,
}

impl ScheduledRun {
    /// A refusal's `errorType` and the words before its message.
    fn refused(self) -> (&'static str, &'static str) {
        match self {
            Self::DispatchInvites => ("InvalidConfig", "the configuration in config/ cannot be used"),
            // A stored plan can be what is refused here, not only config/.
            Self::ValidationReport => ("Rejected", "the report cannot be made"),
            Self::DeliveryFeedback => ("InvalidConfig", "the configuration in config/ cannot be used"),
        }
    }

    /// What failed, and what happens (or is to be done) next.
    fn failed(self) -> (&'static str, &'static str) {
        match self {
            Self::DispatchInvites => ("dispatching invites", "The next scheduled run continues where this one stopped."),
            Self::ValidationReport => {
                ("making the validation report", "Run the function again (its summary is mailed at most once a day).")
            }
            Self::DeliveryFeedback => (
                "recording delivery events",
                "Lambda retries the SNS delivery; an event recorded twice changes nothing, and one that fails every retry is parked in the failure queue.",
            ),
        }
    }
}

/// A scheduled run that stopped: its input was refused (the message says what to fix) or an
/// adapter failed (nothing unfinished was recorded as finished).
#[derive(Debug)]
pub struct RunError {
    pub run: ScheduledRun,
    pub cause: AppError,
}

impl RunError {
    pub fn new(run: ScheduledRun, cause: AppError) -> Self {
        Self { run, cause }
    }

    /// Lambda's `errorType` for this failure.
    pub fn error_type(&self) -> &'static str {
        match &self.cause {
            AppError::Rejected(_) => self.run.refused().0,
            AppError::Port(port) => port_error_type(port),
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            AppError::Rejected(rejection) => write!(f, "{}: {}", self.run.refused().1, rejection.message),
            AppError::Port(port) => {
                let (what, next) = self.run.failed();
                write!(f, "{what} failed: {port}. {next}")
            }
        }
    }
}

impl std::error::Error for RunError {}

/// Lambda's `errorType` for an adapter failure, the same in every function: throttling (the
/// retry comes later, slower) apart from everything else.
pub fn port_error_type(error: &PortError) -> &'static str {
    match error {
        PortError::Throttled(_) => "Throttled",
        _ => "AdapterFailed",
    }
}

#[cfg(feature = "lambda")]
impl From<RunError> for lambda_runtime::Diagnostic {
    fn from(error: RunError) -> Self {
        Self { error_type: error.error_type().into(), error_message: error.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::issue::{FileRejection, RejectionCode};

    #[test]
    fn each_run_words_its_failures_and_names_their_type() {
        let refused = || AppError::Rejected(FileRejection::new(RejectionCode::InvalidConfig, "max_send_rate_per_second must be above 0"));
        let dispatch = RunError::new(ScheduledRun::DispatchInvites, refused());
        assert_eq!(dispatch.error_type(), "InvalidConfig");
        assert_eq!(dispatch.to_string(), "the configuration in config/ cannot be used: max_send_rate_per_second must be above 0");
        let report = RunError::new(ScheduledRun::ValidationReport, refused());
        assert_eq!((report.error_type(), report.to_string().starts_with("the report cannot be made: ")), ("Rejected", true));

        let throttled = RunError::new(ScheduledRun::ValidationReport, AppError::Port(PortError::Throttled("SES".into())));
        assert_eq!(throttled.error_type(), "Throttled");
        assert!(throttled.to_string().starts_with("making the validation report failed: "), "{throttled}");
        assert!(throttled.to_string().ends_with("Run the function again (its summary is mailed at most once a day)."), "{throttled}");
        let broken = RunError::new(ScheduledRun::DispatchInvites, AppError::Port(PortError::Unexpected("S3 down".into())));
        assert_eq!(broken.error_type(), "AdapterFailed");
        assert_eq!(broken.to_string(), "dispatching invites failed: S3 down. The next scheduled run continues where this one stopped.");
    }
}
