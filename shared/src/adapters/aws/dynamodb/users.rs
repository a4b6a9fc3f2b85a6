//! Platform users (one partition each, so an import spreads over many partitions) and
//! migration records.

use super::batch::{delete, put};
use super::item::{
    apply_part_key, apply_part_pk, from_json, index_key, json, migration_key, n, number, required, s, strings, text, user_key, with, Item,
    MIGRATIONS_INDEX, PLATFORM_USERS_INDEX,
};
use super::{condition_failed, DynamoTable};
use crate::domain::plan::ExistingUser;
use crate::domain::platform_users::{PlatformMember, PlatformUser};
use crate::domain::values::{BuildingId, Email, MigrationId};
use crate::ports::{MigrationRecord, MigrationTable, NewUser, PortError, PortResult, UserTable};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeSet, HashMap, HashSet};

fn existing_user(item: &Item) -> PortResult<(Email, ExistingUser)> {
    let email = text(item, "email").unwrap_or_default();
    let email = Email::parse(email).map_err(|e| PortError::Unexpected(format!("a stored user: {e}")))?;
    let buildings = strings(item, "buildings")
        .iter()
        .map(|id| BuildingId::parse(id).map_err(|e| PortError::Unexpected(format!("a stored user's building: {e}"))))
        .collect::<PortResult<BTreeSet<_>>>()?;
    let created_by = text(item, "migration").and_then(|m| MigrationId::parse(m).ok());
    Ok((email, ExistingUser { roles: strings(item, "roles").into_iter().collect(), buildings, created_by }))
}

/// A string set attribute, or nothing for an empty set (DynamoDB refuses empty sets).
fn string_set<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<AttributeValue> {
    let set: BTreeSet<String> = values.into_iter().map(str::to_string).collect();
    (!set.is_empty()).then(|| AttributeValue::Ss(set.into_iter().collect()))
}

/// Conditional user puts in flight at once (each is one round trip).
const CREATES_IN_FLIGHT: usize = 16;

fn user_item(user: &NewUser) -> Item {
    let mut item = with(
        user_key(&user.email),
        [
            ("email", s(user.email.as_str())),
            ("first_name", s(user.first_name.as_str())),
            ("last_name", s(user.last_name.as_str())),
            ("migration", s(user.migration.as_str())),
        ],
    );
    if let Some(roles) = string_set(user.roles.iter().map(String::as_str)) {
        item.insert("roles".into(), roles);
    }
    if let Some(buildings) = string_set(user.buildings.iter().map(BuildingId::as_str)) {
        item.insert("buildings".into(), buildings);
    }
    item
}

#[async_trait]
impl UserTable for DynamoTable {
    async fn get_users(&self, emails: &[Email]) -> PortResult<crate::ports::ExistingUsers> {
        let unique: BTreeSet<&Email> = emails.iter().collect();
        let items = self.batch_get(unique.into_iter().map(user_key).collect()).await?;
        items.iter().map(existing_user).collect()
    }

    async fn create_users(&self, users: &[NewUser]) -> PortResult<HashMap<Email, Option<MigrationId>>> {
        // The first row of an address wins, as in SQLite.
        let mut seen = HashSet::new();
        let unique: Vec<&NewUser> = users.iter().filter(|user| seen.insert(&user.email)).collect();
        let mut existed: HashMap<Email, Option<MigrationId>> = HashMap::new();
        // Each user is a conditional put, a hundred to a transaction, with no read first (the
        // caller has just read them: apply asks only for users it did not find): one that
        // exists (created meanwhile by another migration, or a concurrent apply) is never
        // overwritten; the cancelled transaction names it with its item, it is answered as
        // existing with its creator, and the others go again. Users written before a failure
        // stay: a re-run finds them and passes over them.
        let items: Vec<Item> = unique.iter().map(|user| user_item(user)).collect();
        for (at, old) in self.put_absent(&items).await? {
            if let Some(user) = unique.get(at) {
                existed.insert(user.email.clone(), text(&old, "migration").and_then(|m| MigrationId::parse(m).ok()));
            }
        }
        Ok(existed)
    }

    async fn grant_access(&self, email: &Email, roles: &[String], buildings: &[BuildingId]) -> PortResult<()> {
        let mut adds = Vec::new();
        let mut names = HashMap::from([("#pk".to_string(), "pk".to_string())]);
        let mut values = Item::new();
        if let Some(roles) = string_set(roles.iter().map(String::as_str)) {
            adds.push("#roles :roles");
            names.insert("#roles".into(), "roles".into());
            values.insert(":roles".into(), roles);
        }
        if let Some(buildings) = string_set(buildings.iter().map(BuildingId::as_str)) {
            adds.push("#buildings :buildings");
            names.insert("#buildings".into(), "buildings".into());
            values.insert(":buildings".into(), buildings);
        }
        let not_found = || PortError::NotFound(format!("user {}", email.redacted()));
        if adds.is_empty() {
            // Nothing to add; still an unknown user is an error, as in SQLite.
            return self.get_item(user_key(email)).await?.map(|_| ()).ok_or_else(not_found);
        }
        let update = format!("ADD {}", adds.join(", "));
        let result = self
            .call("DynamoDB UpdateItem", || {
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(user_key(email)))
                    .update_expression(update.as_str())
                    .condition_expression("attribute_exists(#pk)")
                    .set_expression_attribute_names(Some(names.clone()))
                    .set_expression_attribute_values(Some(values.clone()))
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(failed) if condition_failed(&failed) => Err(not_found()),
            Err(failed) => Err(super::item::failure("DynamoDB UpdateItem", failed)),
        }
    }

    async fn platform_members(&self) -> PortResult<Vec<PlatformMember>> {
        self.query_partition(PLATFORM_USERS_INDEX, None).await?.iter().map(|item| from_json(item, "data")).collect()
    }

    async fn load_platform_users(&self, users: &[PlatformUser]) -> PortResult<()> {
        // The users first, then their membership: a run cut short in between is loaded again
        // whole by the retry (adding roles twice changes nothing).
        in_flight(users.to_vec(), |user| {
            let table = self.clone();
            async move { table.load_platform_user(&user).await }
        })
        .await?;
        let members = users
            .iter()
            .map(|user| {
                let data = PlatformMember { email: user.email.clone(), snapshot: user.snapshot.clone() };
                put(with(index_key(PLATFORM_USERS_INDEX, user.email.as_str()), [("data", json(&data)?)]))
            })
            .collect::<PortResult<Vec<_>>>()?;
        self.batch_write(members).await
    }

    async fn drop_platform_users(&self, emails: &[Email]) -> PortResult<()> {
        for email in emails {
            self.forget_platform_user(email).await?;
        }
        self.batch_write(
            emails.iter().map(|email| delete(index_key(PLATFORM_USERS_INDEX, email.as_str()))).collect::<PortResult<Vec<_>>>()?,
        )
        .await
    }
}

/// Runs `call` on each item with at most [`CREATES_IN_FLIGHT`] calls at once (one by one,
/// their round trips would bound a large load rather than the table). The first failure is
/// answered once the calls in flight have ended; no new call starts after it.
async fn in_flight<I, T, Fut>(items: Vec<I>, call: impl Fn(I) -> Fut) -> PortResult<Vec<T>>
where
    Fut: std::future::Future<Output = PortResult<T>> + Send + 'static,
    T: Send + 'static,
{
    let mut pending = items.into_iter();
    let mut running = tokio::task::JoinSet::new();
    let (mut answers, mut failure) = (Vec::new(), None);
    loop {
        while running.len() < CREATES_IN_FLIGHT && failure.is_none() {
            let Some(item) = pending.next() else { break };
            running.spawn(call(item));
        }
        let Some(joined) = running.join_next().await else { break };
        match joined {
            Ok(Ok(answer)) => answers.push(answer),
            Ok(Err(error)) => {
                failure.get_or_insert(error);
            }
            Err(error) => {
                failure.get_or_insert(PortError::Unexpected(format!("DynamoDB: a call's task failed: {error}")));
            }
        }
    }
    match failure {
        Some(error) => Err(error),
        None => Ok(answers),
    }
}

impl DynamoTable {
    /// One snapshot user as a known user: names set if missing, roles and buildings added.
    async fn load_platform_user(&self, user: &PlatformUser) -> PortResult<()> {
        let mut names = HashMap::from(
            [("#email", "email"), ("#first", "first_name"), ("#last", "last_name")].map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let mut values: Item =
            [(":email", s(user.email.as_str())), (":first", s(user.first_name.as_str())), (":last", s(user.last_name.as_str()))]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        let mut update =
            "SET #email = if_not_exists(#email, :email), #first = if_not_exists(#first, :first), #last = if_not_exists(#last, :last)"
                .to_string();
        let mut adds = Vec::new();
        if let Some(roles) = string_set(user.roles.iter().map(String::as_str)) {
            adds.push("#roles :roles");
            names.insert("#roles".into(), "roles".into());
            values.insert(":roles".into(), roles);
        }
        if let Some(buildings) = string_set(user.buildings.iter().map(BuildingId::as_str)) {
            adds.push("#buildings :buildings");
            names.insert("#buildings".into(), "buildings".into());
            values.insert(":buildings".into(), buildings);
        }
        if !adds.is_empty() {
            update.push_str(&format!(" ADD {}", adds.join(", ")));
        }
        self.run("DynamoDB UpdateItem", || {
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(user_key(&user.email)))
                .update_expression(update.as_str())
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .send()
        })
        .await?;
        Ok(())
    }

    /// Forgets a user only a snapshot knew (one this product created has a `migration`).
    async fn forget_platform_user(&self, email: &Email) -> PortResult<()> {
        let result = self
            .call("DynamoDB DeleteItem", || {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(user_key(email)))
                    .condition_expression("attribute_not_exists(#migration)")
                    .expression_attribute_names("#migration", "migration")
                    .send()
            })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(failed) if condition_failed(&failed) => Ok(()),
            Err(failed) => Err(super::item::failure("DynamoDB DeleteItem", failed)),
        }
    }
}

#[async_trait]
impl MigrationTable for DynamoTable {
    async fn get_migration(&self, id: &MigrationId) -> PortResult<Option<MigrationRecord>> {
        self.get_item(migration_key(id)).await?.map(|item| from_json(&item, "data")).transpose()
    }

    async fn put_migration(&self, record: &MigrationRecord) -> PortResult<()> {
        // The index entry first: a crash in between leaves an entry that lists nothing yet.
        self.put_item(index_key(MIGRATIONS_INDEX, record.id.as_str())).await?;
        self.put_item(with(migration_key(&record.id), [("data", json(record)?)])).await
    }

    async fn list_migrations(&self) -> PortResult<Vec<MigrationRecord>> {
        let entries = self.query_partition(MIGRATIONS_INDEX, None).await?;
        let keys: Vec<Item> = entries
            .iter()
            .filter_map(|entry| text(entry, "sk"))
            .filter_map(|id| MigrationId::parse(id).ok())
            .map(|id| migration_key(&id))
            .collect();
        let mut records =
            self.batch_get(keys).await?.iter().map(|item| from_json::<MigrationRecord>(item, "data")).collect::<PortResult<Vec<_>>>()?;
        records.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        Ok(records)
    }

    /// PutItem if `attribute_not_exists(pk)`: the first record of a part stays. Part records
    /// expire with the event memory (a finished apply reads them once).
    async fn record_apply_part(&self, run: &str, index: u32, outcome: &str) -> PortResult<bool> {
        let expires = time::OffsetDateTime::now_utc().unix_timestamp() + super::claims::EVENT_MEMORY_SECONDS;
        let item = with(apply_part_key(run, index), [("part", n(i64::from(index))), ("data", s(outcome)), ("expires_at", n(expires))]);
        let names = HashMap::from([("#pk".to_string(), "pk".to_string())]);
        Ok(self.put_if(&item, "attribute_not_exists(#pk)", &names, &Item::new()).await?.is_none())
    }

    /// Query with `Select: COUNT` (strongly consistent, every page): no item is sent back.
    async fn count_apply_parts(&self, run: &str) -> PortResult<u64> {
        let names = HashMap::from([("#pk".to_string(), "pk".to_string())]);
        let values = Item::from([(":pk".to_string(), s(apply_part_pk(run)))]);
        let mut count = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .run("DynamoDB Query", || {
                    self.client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("#pk = :pk")
                        .set_expression_attribute_names(Some(names.clone()))
                        .set_expression_attribute_values(Some(values.clone()))
                        .select(aws_sdk_dynamodb::types::Select::Count)
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

    async fn apply_parts(&self, run: &str) -> PortResult<Vec<(u32, String)>> {
        let items = self.query_partition(&apply_part_pk(run), None).await?;
        items
            .iter()
            .map(|item| {
                let index = number(item, "part").and_then(|i| u32::try_from(i).ok());
                let index = index.ok_or_else(|| PortError::Unexpected("an apply part record lacks its index".into()))?;
                Ok((index, required(item, "data")?.to_string()))
            })
            .collect()
    }
}
