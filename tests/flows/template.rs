//! The SAM template: cfn-lint is clean, and each function's role allows only what its code uses.

use serde_yaml_ng::Value;
use std::collections::BTreeSet;

fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

/// Every action a function's inline policies allow.
fn actions(template: &Value, function: &str) -> BTreeSet<String> {
    let policies = &template["Resources"][function]["Properties"]["Policies"];
    let mut out = BTreeSet::new();
    for policy in policies.as_sequence().unwrap() {
        for statement in policy["Statement"].as_sequence().unwrap() {
            assert_eq!(statement["Effect"].as_str(), Some("Allow"));
            match &statement["Action"] {
                Value::String(action) => {
                    out.insert(action.clone());
                }
                Value::Sequence(list) => out.extend(list.iter().filter_map(|a| a.as_str().map(String::from))),
                other => panic!("unexpected Action {other:?}"),
            }
        }
    }
    out
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn each_function_may_do_only_what_its_code_does() {
    let t = template();
    assert_eq!(actions(&t, "TileCheckFunction"), set(&["dynamodb:BatchGetItem", "dynamodb:GetItem"]));
    let table_rw = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"];
    let dispatch = actions(&t, "DispatchInvitesFunction");
    for action in table_rw.iter().chain(&["ses:SendRawEmail", "ses:GetAccount", "s3:GetObject"]) {
        assert!(dispatch.contains(*action), "dispatch-invites lacks {action}");
    }
    assert!(!dispatch.iter().any(|a| a.starts_with("s3:Put") || a == "dynamodb:BatchWriteItem"), "{dispatch:?}");
    let ingest = actions(&t, "IngestFunction");
    for action in
        table_rw.iter().chain(&["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "s3:GetObject", "s3:PutObject", "ses:SendRawEmail"])
    {
        assert!(ingest.contains(*action), "ingest lacks {action}");
    }
    let report = actions(&t, "ValidationReportFunction");
    assert!(report.contains("s3:PutObject") && report.contains("dynamodb:PutItem"), "{report:?}");
    assert!(!report.contains("dynamodb:BatchWriteItem"));
    assert_eq!(
        actions(&t, "DeliveryFeedbackFunction"),
        set(&["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "s3:GetObject", "s3:ListBucket", "sqs:SendMessage"])
    );
    assert!(ingest.contains("sqs:SendMessage"), "ingest hands approved plans to the apply queue");
    let apply = actions(&t, "ApplyPlanFunction");
    for action in
        table_rw.iter().chain(&["dynamodb:BatchGetItem", "s3:GetObject", "ses:SendRawEmail", "sqs:ReceiveMessage", "sqs:DeleteMessage"])
    {
        assert!(apply.contains(*action), "apply-plan lacks {action}");
    }
    assert!(!apply.iter().any(|a| a.starts_with("s3:Put") || a == "dynamodb:BatchWriteItem" || a == "sqs:SendMessage"), "{apply:?}");
    for function in [
        "IngestFunction",
        "TileCheckFunction",
        "DispatchInvitesFunction",
        "ValidationReportFunction",
        "DeliveryFeedbackFunction",
        "ApplyPlanFunction",
    ] {
        for action in actions(&t, function) {
            assert!(!action.contains('*'), "{function} allows a wildcard action {action}");
        }
    }
}

#[test]
fn approved_plans_go_through_a_queue_that_retries_parts_and_parks_the_failing_ones() {
    let t = template();
    let ingest_env = &t["Resources"]["IngestFunction"]["Properties"]["Environment"]["Variables"];
    let yaml = |value: &Value| serde_yaml_ng::to_string(value).unwrap().trim().to_string();
    assert_eq!(yaml(&ingest_env["APPLY_QUEUE_URL"]), "!Ref ApplyQueue", "ingest queues approved plans");
    let queue = &t["Resources"]["ApplyQueue"]["Properties"];
    assert_eq!(yaml(&queue["RedrivePolicy"]["deadLetterTargetArn"]), "!GetAtt ApplyDeadLetterQueue.Arn");
    assert_eq!(
        yaml(&t["Resources"]["ApplyPlanFunction"]["Properties"]["Events"]["ApplyParts"]["Properties"]["Queue"]),
        "!GetAtt ApplyQueue.Arn"
    );
    let events = &t["Resources"]["ApplyPlanFunction"]["Properties"]["Events"]["ApplyParts"];
    assert_eq!(events["Type"].as_str(), Some("SQS"));
    let response_types = events["Properties"]["FunctionResponseTypes"].as_sequence().unwrap();
    assert_eq!(response_types[0].as_str(), Some("ReportBatchItemFailures"), "a failed part is retried alone");
    let timeout = t["Resources"]["ApplyPlanFunction"]["Properties"]["Timeout"].as_u64().unwrap();
    let visibility = queue["VisibilityTimeout"].as_u64().unwrap();
    assert!(visibility >= 6 * timeout, "a part in work must not be delivered to a second consumer ({visibility} s < 6 × {timeout} s)");
    assert!(queue["RedrivePolicy"]["maxReceiveCount"].as_u64().unwrap() >= 5, "a part is tried several times before it is parked");
    let alarm = &t["Resources"]["ApplyDeadLetterQueueAlarm"]["Properties"];
    assert_eq!(alarm["MetricName"].as_str(), Some("ApproximateNumberOfMessagesVisible"), "a parked part raises the alarm");
}

#[test]
fn the_bucket_is_private_and_tls_only_and_the_api_needs_iam() {
    let t = template();
    let bucket = &t["Resources"]["UploadsBucket"]["Properties"];
    let block = &bucket["PublicAccessBlockConfiguration"];
    for key in ["BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"] {
        assert_eq!(block[key].as_bool(), Some(true), "{key}");
    }
    let policy = serde_yaml_ng::to_string(&t["Resources"]["UploadsBucketPolicy"]).unwrap();
    assert!(policy.contains("aws:SecureTransport") && policy.contains("Deny"), "{policy}");
    let table = &t["Resources"]["OnboardingTable"]["Properties"];
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"].as_str(), Some("expires_at"));
    assert_eq!(t["Resources"]["TileApi"]["Properties"]["Auth"]["DefaultAuthorizer"].as_str(), Some("AWS_IAM"));
}

#[test]
fn cfn_lint_is_clean() {
    let output = std::process::Command::new("cfn-lint")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml"))
        .output()
        .unwrap_or_else(|e| panic!("cfn-lint is not on PATH ({e}): run the tests with `bash infra/test.sh`, which installs it"));
    assert!(
        output.status.success(),
        "cfn-lint found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Delivery feedback is wired: every message goes through the stack's configuration set, whose
/// six event types reach the feedback function over SNS; the alarms read the metric names the
/// function writes.
#[test]
fn ses_events_reach_the_feedback_function_and_the_alarms_read_its_metrics() {
    let t = template();
    let env = &t["Globals"]["Function"]["Environment"]["Variables"]["SES_CONFIGURATION_SET"];
    assert_eq!(serde_yaml_ng::to_string(env).unwrap().trim(), "!Ref MailConfigurationSet");
    let configuration_set = &t["Resources"]["MailConfigurationSet"]["Properties"];
    let reasons: Vec<&str> =
        configuration_set["SuppressionOptions"]["SuppressedReasons"].as_sequence().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(reasons, ["BOUNCE", "COMPLAINT"], "SES's account suppression list applies");
    let destination = &t["Resources"]["MailEventDestination"]["Properties"]["EventDestination"];
    let types: BTreeSet<String> =
        destination["MatchingEventTypes"].as_sequence().unwrap().iter().filter_map(|v| v.as_str().map(String::from)).collect();
    assert_eq!(types, set(&["send", "delivery", "bounce", "complaint", "reject", "deliveryDelay"]));
    assert_eq!(serde_yaml_ng::to_string(&destination["SnsDestination"]["TopicARN"]).unwrap().trim(), "!Ref DeliveryEventsTopic");
    let subscription = &t["Resources"]["DeliveryFeedbackFunction"]["Properties"]["Events"]["SesEvents"];
    assert_eq!(subscription["Type"].as_str(), Some("SNS"));
    assert_eq!(serde_yaml_ng::to_string(&subscription["Properties"]["Topic"]).unwrap().trim(), "!Ref DeliveryEventsTopic");
    let topic_policy = serde_yaml_ng::to_string(&t["Resources"]["DeliveryEventsTopicPolicy"]).unwrap();
    assert!(topic_policy.contains("ses.amazonaws.com") && topic_policy.contains("sns:Publish"), "{topic_policy}");
    // The metric names the function writes (functions/delivery-feedback/src/handler.rs).
    let alarms = serde_yaml_ng::to_string(&t["Resources"]["MailBounceRateAlarm"]).unwrap();
    assert!(alarms.contains("MailBounced") && alarms.contains("MailDelivered"), "{alarms}");
    assert_eq!(t["Resources"]["MailComplaintsAlarm"]["Properties"]["MetricName"].as_str(), Some("MailComplained"));
    assert_eq!(t["Resources"]["SendingPausedAlarm"]["Properties"]["MetricName"].as_str(), Some("SendingPaused"));
}

/// The dashboard shows every metric the functions write, and the alarms read names and
/// dimensions the code writes (`onboarding::app::metrics`).
#[test]
fn the_dashboard_and_alarms_read_the_metrics_the_functions_write() {
    use onboarding::app::metrics::*;
    let t = template();
    let body = &t["Resources"]["Dashboard"]["Properties"]["DashboardBody"];
    let Value::Tagged(sub) = body else { panic!("the dashboard body is a !Sub") };
    let text = sub.value.as_sequence().unwrap()[0].as_str().unwrap();
    // `${...}` are filled in by CloudFormation; what is left must be JSON.
    let mut filled = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        filled.push_str(&rest[..start]);
        let end = start + rest[start..].find('}').unwrap();
        filled.push('X');
        rest = &rest[end + 1..];
    }
    filled.push_str(rest);
    let dashboard: serde_json::Value = serde_json::from_str(&filled).expect("the dashboard body is JSON");
    let shown = dashboard.to_string();
    for metric in [
        ROWS_PROCESSED,
        ROWS_REJECTED,
        FILES_REFUSED,
        PLANS_READY,
        USERS_CREATED,
        INVITES_QUEUED,
        INVITES_SENT,
        INVITES_FAILED,
        INVITES_PAUSED,
        SENDING_PAUSED,
        MAIL_DELIVERED,
        MAIL_BOUNCED,
        MAIL_COMPLAINED,
        TILE_CHECKS,
    ] {
        assert!(shown.contains(&format!("\"{metric}\"")), "the dashboard lacks {metric}");
    }
    for reason in ["granted", "not_granted", "everyone_policy_no_envoy", "building_not_live", "unknown_building"] {
        assert!(shown.contains(&format!("\"{reason}\"")), "the dashboard lacks the tile reason {reason}");
    }
    let refused = &t["Resources"]["FilesRefusedAlarm"]["Properties"];
    assert_eq!(refused["MetricName"].as_str(), Some(FILES_REFUSED));
    assert_eq!(refused["Dimensions"][0]["Name"].as_str(), Some("Function"));
    assert_eq!(refused["Dimensions"][0]["Value"].as_str(), Some("ingest"));
    let complaints = &t["Resources"]["MailComplaintsAlarm"]["Properties"];
    assert_eq!(complaints["MetricName"].as_str(), Some(MAIL_COMPLAINED));
    assert_eq!((complaints["Dimensions"][0]["Name"].as_str(), complaints["Dimensions"][0]["Value"].as_str()), (Some(SES.0), Some(SES.1)));
}
