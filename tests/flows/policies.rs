//! The IAM policies template.yaml gives each function and each kind of person, resolved as
//! CloudFormation would resolve them for one stack (`!Sub`, `!GetAtt`, `!If`, `!Ref`), and the
//! static checks on them: every object grant is exactly the key layouts the code uses
//! (`onboarding::domain::keys`), and every table, index, identity, configuration-set and queue
//! ARN the code touches is covered.

use onboarding::domain::keys::{self, Actor};
use serde_json::{json, Value as Json};
use serde_yaml_ng::Value;
use std::collections::BTreeSet;

/// The values CloudFormation fills in for one stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub account: String,
    pub region: String,
    pub table: String,
    pub sender: String,
    /// The `SesConfigurationSet` parameter ("" for none).
    pub configuration_set: String,
}

impl Stack {
    pub fn bucket(&self) -> String {
        format!("{}-{}-uploads", self.name, self.account)
    }

    fn table_arn(&self) -> String {
        format!("arn:aws:dynamodb:{}:{}:table/{}", self.region, self.account, self.table)
    }

    fn attribute(&self, resource: &str, attribute: &str) -> String {
        match (resource, attribute) {
            ("OnboardingTable", "Arn") => self.table_arn(),
            ("UploadsBucket", "Arn") => format!("arn:aws:s3:::{}", self.bucket()),
            ("IngestFailureQueue", "Arn") => format!("arn:aws:sqs:{}:{}:{}-IngestFailureQueue", self.region, self.account, self.name),
            ("ApplyQueue", "Arn") => self.apply_queue_arn(),
            ("DeliveryFeedbackFailureQueue", "Arn") => {
                format!("arn:aws:sqs:{}:{}:{}-DeliveryFeedbackFailureQueue", self.region, self.account, self.name)
            }
            other => panic!("the test does not know the attribute {other:?}; teach Stack::attribute"),
        }
    }

    /// The apply queue's ARN; the IAM test creates the queue under this name.
    pub fn apply_queue_arn(&self) -> String {
        format!("arn:aws:sqs:{}:{}:{}", self.region, self.account, self.apply_queue_name())
    }

    pub fn apply_queue_name(&self) -> String {
        format!("{}-ApplyQueue", self.name)
    }

    fn reference(&self, name: &str) -> Option<Json> {
        match name {
            "AWS::NoValue" => None,
            "SenderAddress" => Some(json!(self.sender)),
            "SesConfigurationSet" => Some(json!(self.configuration_set)),
            "AWS::Region" => Some(json!(self.region)),
            "AWS::AccountId" => Some(json!(self.account)),
            other => panic!("the test does not know !Ref {other}; teach Stack::reference"),
        }
    }

    fn condition(&self, name: &str) -> bool {
        match name {
            "HasSesConfigurationSet" => !self.configuration_set.is_empty(),
            "HasAlarmEmail" => false,
            other => panic!("the test does not know the condition {other}"),
        }
    }

    fn substitute(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').map(|e| start + e).unwrap_or_else(|| panic!("unclosed ${{ in {text}"));
            let name = &rest[start + 2..end];
            let value = match name {
                "AWS::Partition" => "aws".to_string(),
                "AWS::StackName" => self.name.clone(),
                "AWS::AccountId" => self.account.clone(),
                "AWS::Region" => self.region.clone(),
                "AWS::URLSuffix" => "amazonaws.com".to_string(),
                _ => match name.split_once('.') {
                    Some((resource, attribute)) => self.attribute(resource, attribute),
                    None => self.reference(name).and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                },
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// A template value with its intrinsic functions resolved; `None` is `AWS::NoValue`.
    pub fn resolve(&self, value: &Value) -> Option<Json> {
        match value {
            Value::Null => Some(Json::Null),
            Value::Bool(b) => Some(json!(b)),
            Value::Number(n) => Some(serde_json::from_str(&n.to_string()).unwrap()),
            Value::String(s) => Some(json!(s)),
            Value::Sequence(items) => Some(Json::Array(items.iter().filter_map(|v| self.resolve(v)).collect())),
            Value::Mapping(map) => Some(Json::Object(
                map.iter().filter_map(|(k, v)| Some((k.as_str().expect("string keys").to_string(), self.resolve(v)?))).collect(),
            )),
            Value::Tagged(tagged) => {
                let inner = &tagged.value;
                if tagged.tag == "Sub" {
                    let text = inner.as_str().expect("the template's !Sub take one string");
                    Some(json!(self.substitute(text)))
                } else if tagged.tag == "GetAtt" {
                    let text = inner.as_str().expect("the template's !GetAtt take Resource.Attribute");
                    let (resource, attribute) = text.split_once('.').expect("Resource.Attribute");
                    Some(json!(self.attribute(resource, attribute)))
                } else if tagged.tag == "Ref" {
                    self.reference(inner.as_str().expect("!Ref takes a name"))
                } else if tagged.tag == "If" {
                    let parts = inner.as_sequence().expect("!If takes [condition, then, else]");
                    let branch = if self.condition(parts[0].as_str().expect("condition name")) { &parts[1] } else { &parts[2] };
                    self.resolve(branch)
                } else {
                    panic!("the test does not know the intrinsic {}", tagged.tag)
                }
            }
        }
    }
}

pub fn template() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

/// The policy document `actor` holds on AWS, resolved for `stack`: a function's inline
/// `Policies:` merged into one document, or a managed policy's document.
pub fn policy(template: &Value, stack: &Stack, actor: Actor) -> Json {
    let resource = &template["Resources"][actor.template_resource()];
    let documents: Vec<&Value> = match resource["Type"].as_str() {
        Some("AWS::Serverless::Function") => resource["Properties"]["Policies"].as_sequence().unwrap().iter().collect(),
        Some("AWS::IAM::ManagedPolicy") => vec![&resource["Properties"]["PolicyDocument"]],
        other => panic!("{} is a {other:?}", actor.template_resource()),
    };
    let mut statements = Vec::new();
    for document in documents {
        let resolved = stack.resolve(document).unwrap();
        statements.extend(resolved["Statement"].as_array().unwrap().iter().cloned());
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// A statement's actions, or resources, as a list.
pub fn list(statement: &Json, field: &str) -> Vec<String> {
    match &statement[field] {
        Json::String(one) => vec![one.clone()],
        Json::Array(many) => many.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
        Json::Null => Vec::new(),
        other => panic!("unexpected {field}: {other}"),
    }
}

/// IAM's wildcard match (`*` any run of characters, `?` one).
pub fn arn_matches(pattern: &str, arn: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), arn.as_bytes())
}

/// True when some Allow statement of `policy` grants `action` on `arn`.
pub fn allows(policy: &Json, action: &str, arn: &str) -> bool {
    policy["Statement"].as_array().unwrap().iter().any(|statement| {
        statement["Effect"] == "Allow"
            && list(statement, "Action").iter().any(|a| a == action)
            && list(statement, "Resource").iter().any(|r| arn_matches(r, arn))
    })
}

/// The same policy as moto 5.2 can check it: it compares DynamoDB and SES calls against the
/// resource `*` (per action only) and cannot supply condition keys such as `ses:FromAddress`,
/// so those statements get `*` and lose their condition (the static tests check both on the
/// template). S3 statements stay exactly as written: moto checks them per object ARN.
pub fn as_moto_checks_it(policy: &Json) -> Json {
    let mut policy = policy.clone();
    for statement in policy["Statement"].as_array_mut().unwrap() {
        let mut actions = list(statement, "Action");
        // AWS authorizes a TransactWriteItems by the PutItem of each item it puts; moto checks
        // an action of that name instead, so where the template grants PutItem, so does this.
        if actions.iter().any(|a| a == "dynamodb:PutItem") {
            actions.push("dynamodb:TransactWriteItems".into());
            statement["Action"] = json!(actions.clone());
        }
        // Likewise AWS authorizes SendMessageBatch by sqs:SendMessage; moto checks its own name.
        if actions.iter().any(|a| a == "sqs:SendMessage") {
            actions.push("sqs:SendMessageBatch".into());
            statement["Action"] = json!(actions.clone());
        }
        if actions.iter().any(|a| !a.starts_with("s3:")) {
            assert!(actions.iter().all(|a| !a.starts_with("s3:")), "a statement mixes S3 with other services: {statement}");
            statement["Resource"] = json!("*");
            statement.as_object_mut().unwrap().remove("Condition");
        }
    }
    policy
}

fn stack(configuration_set: &str) -> Stack {
    Stack {
        name: "onboarding".into(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
        table: "onboarding-OnboardingTable-1A2B3C".into(),
        sender: "onboarding@example.com".into(),
        configuration_set: configuration_set.into(),
    }
}

/// Every object grant is one of the key layouts, granted exactly to the actors the layout
/// names: nothing the code needs is missing, and nothing wider is granted.
#[test]
fn object_grants_are_exactly_the_key_layouts_each_actor_uses() {
    let template = template();
    let stack = stack("");
    let bucket_arn = format!("arn:aws:s3:::{}", stack.bucket());
    for actor in Actor::ALL {
        let policy = policy(&template, &stack, actor);
        for (action, write) in [("s3:GetObject", false), ("s3:PutObject", true)] {
            let granted: BTreeSet<String> = policy["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| list(s, "Action").iter().any(|a| a == action))
                .flat_map(|s| list(s, "Resource"))
                .collect();
            let expected: BTreeSet<String> = keys::prefixes(actor, write).iter().map(|p| format!("{bucket_arn}/{p}*")).collect();
            assert_eq!(granted, expected, "{actor:?} {action}: the template differs from domain::keys::LAYOUTS");
        }
        for statement in policy["Statement"].as_array().unwrap() {
            for action in list(statement, "Action") {
                assert!(!action.contains('*'), "{actor:?} is granted a wildcard action {action}");
                if action.starts_with("s3:") {
                    assert!(
                        ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListBucket"]
                            .contains(&action.as_str()),
                        "{actor:?}: {action}"
                    );
                }
                // A failed multipart upload is aborted only where the actor writes.
                if action == "s3:AbortMultipartUpload" {
                    assert!(list(statement, "Action").iter().any(|a| a == "s3:PutObject"), "{actor:?}: abort without write");
                }
            }
        }
        // Uploads are read at their event's version: only ingest, only the upload prefixes.
        let versions: BTreeSet<String> = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| list(s, "Action").iter().any(|a| a == "s3:GetObjectVersion"))
            .flat_map(|s| list(s, "Resource"))
            .collect();
        let expected: BTreeSet<String> = match actor {
            Actor::Ingest => [keys::INBOX, keys::APPROVALS].iter().map(|p| format!("{bucket_arn}/{p}*")).collect(),
            _ => BTreeSet::new(),
        };
        assert_eq!(versions, expected, "{actor:?} s3:GetObjectVersion");
        // ListBucket only on the bucket itself (a missing key then answers 404, not 403).
        let lists = allows(&policy, "s3:ListBucket", &bucket_arn);
        assert_eq!(lists, actor != Actor::TileCheck, "{actor:?} ListBucket");
    }
}

/// Every ARN the code's calls name is covered by the statements of the function that makes
/// the call (checked with a configuration set, so the `!If` branch is covered too).
#[test]
fn every_table_index_identity_configuration_set_and_queue_the_code_uses_is_granted() {
    let template = template();
    let stack = stack("onboarding-events");
    let table = stack.table_arn();
    let index = format!("{table}/index/due-invites");
    let identity = |name: &str| format!("arn:aws:ses:us-east-1:123456789012:identity/{name}");
    let configuration_set = format!("arn:aws:ses:us-east-1:123456789012:configuration-set/{}-mail", stack.name);
    let ingest = policy(&template, &stack, Actor::Ingest);
    let dispatch = policy(&template, &stack, Actor::DispatchInvites);
    let report = policy(&template, &stack, Actor::ValidationReport);
    let tile = policy(&template, &stack, Actor::TileCheck);
    let table_writes = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"];
    for (name, policy) in [("ingest", &ingest), ("dispatch-invites", &dispatch), ("validation-report", &report)] {
        for action in table_writes {
            assert!(allows(policy, action, &table), "{name}: {action} on the table");
        }
        assert!(allows(policy, "dynamodb:Query", &index), "{name}: Query on the due-invites index");
        for action in ["ses:SendEmail", "ses:SendRawEmail"] {
            // SESv2 SendEmail is authorised against the sender's address and its domain.
            for arn in [identity("onboarding@example.com"), identity("example.com"), configuration_set.clone()] {
                assert!(allows(policy, action, &arn), "{name}: {action} on {arn}");
            }
        }
        assert!(allows(policy, "ses:GetAccount", "*"), "{name}: GetAccount (the account's send rate)");
        // Sending is limited to the configured sender.
        let send =
            policy["Statement"].as_array().unwrap().iter().find(|s| list(s, "Action").contains(&"ses:SendEmail".to_string())).unwrap();
        assert_eq!(send["Condition"]["StringEquals"]["ses:FromAddress"], "onboarding@example.com", "{name}: {send}");
    }
    for action in ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"] {
        assert!(allows(&ingest, action, &table), "ingest: {action}");
    }
    assert!(allows(&report, "dynamodb:BatchGetItem", &table));
    assert!(allows(&dispatch, "dynamodb:BatchGetItem", &table), "dispatch-invites lists buildings waiting for a kickstart");
    assert!(allows(&ingest, "sqs:SendMessage", &format!("arn:aws:sqs:us-east-1:123456789012:{}-IngestFailureQueue", stack.name)));
    for action in ["dynamodb:GetItem", "dynamodb:BatchGetItem"] {
        assert!(allows(&tile, action, &table), "tile-check: {action}");
    }
    // delivery-feedback: the delivery states, the suppression list, the tally and the pause;
    // it sends nothing and writes no object.
    let feedback = policy(&template, &stack, Actor::DeliveryFeedback);
    for action in ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"] {
        assert!(allows(&feedback, action, &table), "delivery-feedback: {action}");
    }
    assert!(allows(
        &feedback,
        "sqs:SendMessage",
        &format!("arn:aws:sqs:us-east-1:123456789012:{}-DeliveryFeedbackFailureQueue", stack.name)
    ));
    for action in ["ses:SendEmail", "ses:SendRawEmail", "dynamodb:BatchWriteItem", "dynamodb:DeleteItem", "s3:PutObject"] {
        assert!(
            !feedback["Statement"].as_array().unwrap().iter().any(|s| list(s, "Action").contains(&action.to_string())),
            "delivery-feedback: {action}"
        );
    }
    for action in ["dynamodb:PutItem", "dynamodb:Query", "ses:SendEmail", "s3:GetObject"] {
        assert!(
            !tile["Statement"].as_array().unwrap().iter().any(|s| list(s, "Action").contains(&action.to_string())),
            "tile-check: {action}"
        );
    }
    // The people's policies touch no table and send no mail.
    for actor in [Actor::Uploader, Actor::Approver, Actor::Operator] {
        let policy = policy(&template, &stack, actor);
        for statement in policy["Statement"].as_array().unwrap() {
            assert!(list(statement, "Action").iter().all(|a| a.starts_with("s3:")), "{actor:?}: {statement}");
        }
    }
}

#[test]
fn the_wildcard_match_is_iams() {
    assert!(arn_matches("arn:aws:s3:::b/inbox/*", "arn:aws:s3:::b/inbox/users/m1/x.csv"));
    assert!(!arn_matches("arn:aws:s3:::b/inbox/*", "arn:aws:s3:::b/approvals/m1.json"));
    assert!(arn_matches("*", "anything"));
    assert!(arn_matches("a?c", "abc") && !arn_matches("a?c", "ac"));
}
