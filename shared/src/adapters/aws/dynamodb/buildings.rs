//! Buildings, their tenant contacts and tile grants: one partition per building.

use super::batch::{delete, put};
use super::item::{
    building_key, building_pk, contact_key, from_json, index_key, json, required, rfc3339, s, text, with, Item, BUILDINGS_INDEX,
    CONTACT_PREFIX,
};
use super::{condition_failed, DynamoTable};
use crate::domain::building::{Building, BuildingState, Phase};
use crate::domain::tenants::TenantContact;
use crate::domain::values::{BuildingId, Email, Phone};
use crate::ports::{BuildingTable, ContactTable, PortError, PortResult};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Select};
use std::collections::{BTreeMap, HashMap};
use time::OffsetDateTime;

fn building_state(item: &Item) -> PortResult<BuildingState> {
    Ok(BuildingState {
        building: from_json(item, "data")?,
        phase: Phase::parse(required(item, "phase")?).unwrap_or_default(),
        phase_changed_at: crate::domain::moment::parse_or_epoch(text(item, "phase_changed_at").unwrap_or_default()),
        kickstart_message_id: text(item, "kickstart_message_id").map(str::to_string),
    })
}

fn contact(item: &Item) -> PortResult<TenantContact> {
    Ok(TenantContact {
        full_name: text(item, "full_name").unwrap_or_default().to_string(),
        email: Email::parse(required(item, "email")?).map_err(|e| PortError::Unexpected(format!("a stored contact: {e}")))?,
        phone: text(item, "phone").map(|p| Phone::from_stored(p.to_string())),
    })
}

fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[async_trait]
impl BuildingTable for DynamoTable {
    async fn get_building(&self, id: &BuildingId) -> PortResult<Option<BuildingState>> {
        self.get_item(building_key(id)).await?.as_ref().map(building_state).transpose()
    }

    async fn list_buildings(&self) -> PortResult<Vec<BuildingState>> {
        let ids = self.query_partition(BUILDINGS_INDEX, None).await?;
        let keys: Vec<Item> = ids
            .iter()
            .filter_map(|entry| text(entry, "sk"))
            .filter_map(|id| BuildingId::parse(id).ok())
            .map(|id| building_key(&id))
            .collect();
        // An index entry whose building write has not happened yet is skipped.
        let mut buildings = self.batch_get(keys).await?.iter().map(building_state).collect::<PortResult<Vec<_>>>()?;
        buildings.sort_by(|a, b| a.building.id.cmp(&b.building.id));
        Ok(buildings)
    }

    async fn upsert_building(&self, building: &Building, now: OffsetDateTime) -> PortResult<BuildingState> {
        // The index entry first: a crash in between leaves an entry that lists nothing yet.
        self.put_item(index_key(BUILDINGS_INDEX, building.id.as_str())).await?;
        let names = names(&[("#data", "data"), ("#phase", "phase"), ("#changed", "phase_changed_at")]);
        let values: Item = [(":data", json(building)?), (":new", s(Phase::New.as_str())), (":now", s(rfc3339(now)))]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let output = self
            .run("DynamoDB UpdateItem", || {
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(building_key(&building.id)))
                    .update_expression("SET #data = :data, #phase = if_not_exists(#phase, :new), #changed = if_not_exists(#changed, :now)")
                    .set_expression_attribute_names(Some(names.clone()))
                    .set_expression_attribute_values(Some(values.clone()))
                    .return_values(ReturnValue::AllNew)
                    .send()
            })
            .await?;
        match output.attributes {
            Some(item) => building_state(&item),
            None => self.get_building(&building.id).await?.ok_or_else(|| PortError::NotFound(building.id.to_string())),
        }
    }

    async fn set_phase(&self, id: &BuildingId, phase: Phase, now: OffsetDateTime, message_id: Option<&str>) -> PortResult<()> {
        let mut names = names(&[("#pk", "pk"), ("#phase", "phase"), ("#changed", "phase_changed_at")]);
        let mut values: Item =
            [(":phase", s(phase.as_str())), (":now", s(rfc3339(now)))].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let mut update = "SET #phase = :phase, #changed = :now".to_string();
        // Like SQLite's COALESCE: no new message id keeps the old one.
        if let Some(id) = message_id {
            update.push_str(", #message_id = :message_id");
            names.insert("#message_id".into(), "kickstart_message_id".into());
            values.insert(":message_id".into(), s(id));
        }
        let result = self
            .call("DynamoDB UpdateItem", || {
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(building_key(id)))
                    .update_expression(update.as_str())
                    .condition_expression("attribute_exists(#pk)")
                    .set_expression_attribute_names(Some(names.clone()))
                    .set_expression_attribute_values(Some(values.clone()))
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(failed) if condition_failed(&failed) => Err(PortError::NotFound(format!("building {id}"))),
            Err(failed) => Err(super::item::failure("DynamoDB UpdateItem", failed)),
        }
    }
}

#[async_trait]
impl ContactTable for DynamoTable {
    async fn list_contacts(&self, building: &BuildingId) -> PortResult<Vec<TenantContact>> {
        self.query_partition(&building_pk(building), Some(CONTACT_PREFIX)).await?.iter().map(contact).collect()
    }

    async fn put_contacts(&self, building: &BuildingId, contacts: &[TenantContact], grant: bool, now: OffsetDateTime) -> PortResult<()> {
        // One write per address (BatchWriteItem refuses two on one key): later rows win, as
        // SQLite's successive upserts do, and a phone given once is kept.
        let mut merged: BTreeMap<&Email, (&str, Option<&Phone>)> = BTreeMap::new();
        for contact in contacts {
            let earlier_phone = merged.get(&contact.email).and_then(|(_, phone)| *phone);
            merged.insert(&contact.email, (contact.full_name.as_str(), contact.phone.as_ref().or(earlier_phone)));
        }
        let stored: HashMap<String, Item> = self
            .batch_get(merged.keys().map(|email| contact_key(building, email)).collect())
            .await?
            .into_iter()
            .filter_map(|item| text(&item, "email").map(str::to_string).map(|email| (email, item)))
            .collect();
        let granted_now = grant.then(|| rfc3339(now));
        let mut writes = Vec::with_capacity(merged.len());
        for (email, (full_name, phone)) in merged {
            let old = stored.get(email.as_str());
            let mut item = with(contact_key(building, email), [("email", s(email.as_str())), ("full_name", s(full_name))]);
            let phone = phone.map(|p| p.as_str().to_string()).or_else(|| old.and_then(|o| text(o, "phone")).map(str::to_string));
            let granted_at = old.and_then(|o| text(o, "granted_at")).map(str::to_string).or_else(|| granted_now.clone());
            if let Some(phone) = phone {
                item.insert("phone".into(), s(phone));
            }
            if let Some(granted_at) = granted_at {
                item.insert("granted_at".into(), s(granted_at));
            }
            writes.push(put(item)?);
        }
        self.batch_write(writes).await
    }

    async fn remove_contacts(&self, building: &BuildingId, emails: &[Email]) -> PortResult<()> {
        let mut unique: Vec<&Email> = emails.iter().collect();
        unique.sort();
        unique.dedup();
        let deletes = unique.into_iter().map(|email| delete(contact_key(building, email))).collect::<PortResult<Vec<_>>>()?;
        self.batch_write(deletes).await
    }

    async fn has_grant(&self, building: &BuildingId, email: &Email) -> PortResult<bool> {
        Ok(self.get_item(contact_key(building, email)).await?.is_some_and(|item| text(&item, "granted_at").is_some()))
    }

    async fn grants(&self, building: &BuildingId, emails: &[Email]) -> PortResult<Vec<bool>> {
        // BatchGetItem refuses a request naming one key twice.
        let unique: std::collections::BTreeSet<&Email> = emails.iter().collect();
        let found = self.batch_get(unique.into_iter().map(|email| contact_key(building, email)).collect()).await?;
        let granted: std::collections::HashSet<&str> =
            found.iter().filter(|item| text(item, "granted_at").is_some()).filter_map(|item| text(item, "email")).collect();
        Ok(emails.iter().map(|email| granted.contains(email.as_str())).collect())
    }

    async fn count_grants(&self, building: &BuildingId) -> PortResult<u64> {
        let names = names(&[("#pk", "pk"), ("#sk", "sk"), ("#granted_at", "granted_at")]);
        let values: Item =
            [(":pk", s(building_pk(building))), (":prefix", s(CONTACT_PREFIX))].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let mut count = 0u64;
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .run("DynamoDB Query", || {
                    self.client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                        .filter_expression("attribute_exists(#granted_at)")
                        .set_expression_attribute_names(Some(names.clone()))
                        .set_expression_attribute_values(Some(values.clone()))
                        .select(Select::Count)
                        .consistent_read(true)
                        .set_exclusive_start_key(start.clone())
                        .send()
                })
                .await?;
            count += u64::try_from(page.count).unwrap_or_default();
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(count),
            }
        }
    }
}
