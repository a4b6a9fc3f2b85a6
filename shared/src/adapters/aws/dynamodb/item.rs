//! Items as the table stores them: keys, attribute helpers, and what a DynamoDB failure means.

use crate::adapters::aws::describe;
use crate::adapters::aws::retry::Failed;
use crate::domain::values::{BuildingId, Email, MigrationId};
use crate::ports::{PortError, PortResult};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) const BUILDINGS_INDEX: &str = "BUILDINGS";
pub(super) const MIGRATIONS_INDEX: &str = "MIGRATIONS";
/// The partition listing the last platform-users snapshot's members (sort key: the address).
pub(super) const PLATFORM_USERS_INDEX: &str = "PLATFORM_USERS";
/// The partition of messages parked while the mail service paused sending (sort key: the
/// message's ledger key).
pub(super) const PARKED_MAIL_INDEX: &str = "PARKED_MAIL";
pub(super) const META: &str = "META";
pub(super) const CONTACT_PREFIX: &str = "CONTACT#";

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: String, sk: impl Into<String>) -> Item {
    Item::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

pub(super) fn event_key(event: &str) -> Item {
    key(format!("EVENT#{event}"), "EVENT")
}

pub(super) fn building_pk(id: &BuildingId) -> String {
    format!("BUILDING#{id}")
}

pub(super) fn building_key(id: &BuildingId) -> Item {
    key(building_pk(id), META)
}

pub(super) fn contact_key(building: &BuildingId, email: &Email) -> Item {
    key(building_pk(building), format!("{CONTACT_PREFIX}{email}"))
}

pub(super) fn user_key(email: &Email) -> Item {
    key(format!("USER#{email}"), "USER")
}

pub(super) fn migration_key(id: &MigrationId) -> Item {
    key(format!("MIGRATION#{id}"), META)
}

/// The partition of a queued apply's part records.
pub(super) fn apply_part_pk(run: &str) -> String {
    format!("APPLY#{run}")
}

/// Part `index` of a queued apply (zero-padded, so the sort key orders the parts).
pub(super) fn apply_part_key(run: &str, index: u32) -> Item {
    key(apply_part_pk(run), format!("PART#{index:08}"))
}

/// Partitions a migration's invites are spread over, and of the due index: one partition key
/// takes at most 1,000 writes a second, so a million invites under one key would take over a
/// quarter of an hour to queue; sixteen keys take them as fast as the table allows.
pub(super) const INVITE_SHARDS: u8 = 16;

/// The shard of an address: the first byte of its SHA-256, mod [`INVITE_SHARDS`] (stable
/// across releases and runs, unlike a std hasher).
pub(super) fn invite_shard(email: &Email) -> u8 {
    use sha2::{Digest, Sha256};
    Sha256::digest(email.as_str().as_bytes())[0] % INVITE_SHARDS
}

/// The partition of shard `shard` of a migration's invites.
pub(super) fn invite_pk(migration: &MigrationId, shard: u8) -> String {
    format!("INVITE#{migration}#{shard}")
}

pub(super) fn invite_key(migration: &MigrationId, email: &Email) -> Item {
    key(invite_pk(migration, invite_shard(email)), email.as_str())
}

pub(super) fn delivery_key(message_id: &str) -> Item {
    key(format!("DELIVERY#{message_id}"), "DELIVERY")
}

pub(super) fn suppression_key(email: &Email) -> Item {
    key(format!("SUPPRESSED#{email}"), "SUPPRESSED")
}

pub(super) fn tally_key() -> Item {
    key("SERVICE#delivery".to_string(), "TALLY")
}

pub(super) fn mail_key(mail: &str) -> Item {
    key(format!("MAIL#{mail}"), "MAIL")
}

/// An entry of a fixed index partition (`BUILDINGS`, `MIGRATIONS`) naming one record.
pub(super) fn index_key(index: &str, id: &str) -> Item {
    key(index.to_string(), id)
}

/// The item: its key plus `attributes`.
pub(super) fn with(mut key: Item, attributes: impl IntoIterator<Item = (&'static str, AttributeValue)>) -> Item {
    key.extend(attributes.into_iter().map(|(name, value)| (name.to_string(), value)));
    key
}

pub(super) fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

pub(super) fn required<'a>(item: &'a Item, name: &str) -> PortResult<&'a str> {
    text(item, name).ok_or_else(|| PortError::Unexpected(format!("a DynamoDB item lacks its `{name}` attribute")))
}

pub(super) fn number(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().ok(),
        _ => None,
    }
}

/// A string set (absent = empty: DynamoDB stores no empty sets).
pub(super) fn strings(item: &Item, name: &str) -> Vec<String> {
    match item.get(name) {
        Some(AttributeValue::Ss(values)) => values.clone(),
        _ => Vec::new(),
    }
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> PortResult<AttributeValue> {
    serde_json::to_string(value).map(AttributeValue::S).map_err(|e| PortError::Unexpected(e.to_string()))
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> PortResult<T> {
    serde_json::from_str(required(item, name)?).map_err(|e| PortError::Unexpected(format!("the table holds unreadable data: {e}")))
}

pub(super) use crate::domain::moment::rfc3339;

/// A random token marking one claim attempt as ours.
pub(super) fn claim_token() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// The failures of the DynamoDB operations this adapter calls.
pub(super) trait ServiceFailure: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static {
    /// A modeled throttling or internal server error: worth another try.
    fn throttled(&self) -> bool;
    /// A conditional write whose condition did not hold.
    fn condition_failed(&self) -> bool {
        false
    }
}

macro_rules! service_failure {
    ($($error:ty),* ; conditional: $($conditional:ty),*) => {
        $(impl ServiceFailure for $error {
            fn throttled(&self) -> bool {
                matches!(self, Self::ProvisionedThroughputExceededException(_) | Self::RequestLimitExceeded(_) | Self::ThrottlingException(_) | Self::InternalServerError(_))
            }
        })*
        $(impl ServiceFailure for $conditional {
            fn throttled(&self) -> bool {
                matches!(
                    self,
                    Self::ProvisionedThroughputExceededException(_)
                        | Self::RequestLimitExceeded(_)
                        | Self::ThrottlingException(_)
                        | Self::InternalServerError(_)
                        | Self::ReplicatedWriteConflictException(_)
                )
            }
            fn condition_failed(&self) -> bool {
                self.is_conditional_check_failed_exception()
            }
        })*
    };
}

use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemError, batch_write_item::BatchWriteItemError, delete_item::DeleteItemError, get_item::GetItemError,
    put_item::PutItemError, query::QueryError, update_item::UpdateItemError,
};

service_failure!(GetItemError, QueryError, BatchGetItemError, BatchWriteItemError; conditional: PutItemError, UpdateItemError, DeleteItemError);

/// Codes DynamoDB uses for "slow down" and "try again", also when not modeled.
const RETRY_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "ReplicatedWriteConflictException",
];

/// Why a failure is worth another try, or `None`. Timeouts and lost connections count: every
/// write here is idempotent or conditional with a claim token.
pub(super) fn dynamo_transient<E: ServiceFailure>(error: &SdkError<E, HttpResponse>) -> Option<String> {
    match error {
        SdkError::TimeoutError(_) => Some("timeout".into()),
        SdkError::DispatchFailure(_) => Some("connection failure".into()),
        SdkError::ResponseError(context) => {
            let status = context.raw().status();
            status.is_server_error().then(|| format!("HTTP {}", status.as_u16()))
        }
        SdkError::ServiceError(context) => {
            let (error, status) = (context.err(), context.raw().status());
            let code = error.code().map(str::to_string);
            let worth_it = error.throttled() || code.as_deref().is_some_and(|c| RETRY_CODES.contains(&c)) || status.is_server_error();
            worth_it.then(|| code.unwrap_or_else(|| format!("HTTP {}", status.as_u16())))
        }
        _ => None,
    }
}

/// The `PortError` for a call that did not succeed.
pub(super) fn failure<E: ServiceFailure>(operation: &str, failed: Failed<E>) -> PortError {
    match failed {
        Failed::GaveUp(error) => error,
        Failed::Final(error) => PortError::Unexpected(format!("{operation}: {}", describe(&error))),
    }
}
