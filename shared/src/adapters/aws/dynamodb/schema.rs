//! Creating the table as `template.yaml` declares it, for emulators and tests.

use super::invites::DUE_INDEX;
use super::DynamoTable;
use crate::adapters::aws::describe;
use crate::ports::{PortError, PortResult};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
    TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use std::time::Duration;

const TTL_ATTRIBUTE: &str = "expires_at";
/// How long to wait for a new table to become active.
const ACTIVE_WITHIN: Duration = Duration::from_secs(60);

fn unexpected<E: ProvideErrorMetadata + std::error::Error + 'static>(what: &str, error: SdkError<E, HttpResponse>) -> PortError {
    PortError::Unexpected(format!("DynamoDB {what}: {}", describe(&error)))
}

fn built<T>(result: Result<T, aws_sdk_dynamodb::error::BuildError>) -> PortResult<T> {
    result.map_err(|e| PortError::Unexpected(format!("DynamoDB table definition: {e}")))
}

fn string_attribute(name: &str) -> PortResult<AttributeDefinition> {
    built(AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build())
}

fn key(name: &str, kind: KeyType) -> PortResult<KeySchemaElement> {
    built(KeySchemaElement::builder().attribute_name(name).key_type(kind).build())
}

impl DynamoTable {
    /// Creates the table (keys `pk` / `sk`, index `due-invites` on `due_pk` / `due_sk` with
    /// every attribute, on-demand billing, TTL on `expires_at`) unless it exists, and waits
    /// until it is active. For emulators and tests; a deployment's table comes from the
    /// template.
    pub async fn ensure_table(&self) -> PortResult<()> {
        let index = built(
            GlobalSecondaryIndex::builder()
                .index_name(DUE_INDEX)
                .key_schema(key("due_pk", KeyType::Hash)?)
                .key_schema(key("due_sk", KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build(),
        )?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string_attribute("pk")?)
            .attribute_definitions(string_attribute("sk")?)
            .attribute_definitions(string_attribute("due_pk")?)
            .attribute_definitions(string_attribute("due_sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(index)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(error) => return Err(unexpected("CreateTable", error)),
        }
        self.wait_until_active().await?;
        self.ensure_ttl().await
    }

    async fn wait_until_active(&self) -> PortResult<()> {
        let deadline = tokio::time::Instant::now() + ACTIVE_WITHIN;
        loop {
            let described =
                self.client.describe_table().table_name(&self.table).send().await.map_err(|e| unexpected("DescribeTable", e))?;
            if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(PortError::Unexpected(format!("DynamoDB table {} is not active after {ACTIVE_WITHIN:?}", self.table)));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn ensure_ttl(&self) -> PortResult<()> {
        let current =
            self.client.describe_time_to_live().table_name(&self.table).send().await.map_err(|e| unexpected("DescribeTimeToLive", e))?;
        let status = current.time_to_live_description().and_then(|d| d.time_to_live_status());
        if matches!(status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)) {
            return Ok(());
        }
        let specification = built(TimeToLiveSpecification::builder().attribute_name(TTL_ATTRIBUTE).enabled(true).build())?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(specification)
            .send()
            .await
            .map_err(|e| unexpected("UpdateTimeToLive", e))?;
        Ok(())
    }
}
