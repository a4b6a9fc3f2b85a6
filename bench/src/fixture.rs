//! The benchmark's world on disk: generated exports inside the embedded bucket folder, and the
//! embedded state (SQLite table) holding the configuration, the buildings, the users the
//! platform already has and one building's tenant contacts for the tile check. Made once per
//! seed and reused (generation is deterministic; markers record what is done).

use crate::tenants::{write_tenants, TenantsSpec};
use crate::users::{existing_users, write_users, UsersSpec};
use crate::world::{buildings, buildings_csv, SynthBuilding, ROLE_GUIDE_CSV, ROLE_MATRIX_CSV, SETTINGS_JSON};
use onboarding::adapters::embedded::EmbeddedState;
use onboarding::app::{NoProgress, Services};
use onboarding::domain::config::Config;
use onboarding::domain::values::{BuildingId, Email, MigrationId};
use onboarding::ports::{NewUser, SystemClock, UserTable};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

pub const BUILDINGS: usize = 40;

pub struct Fixture {
    pub dir: PathBuf,
    pub seed: u64,
    pub state: EmbeddedState,
    pub config: Config,
    pub buildings: Vec<SynthBuilding>,
    /// The building whose tenant contacts were ingested (permissioned).
    pub tile_building: BuildingId,
    /// Contacts of that building (granted) and addresses nobody imported.
    pub granted: Vec<Email>,
    pub strangers: Vec<Email>,
    /// The users the platform already has, in a `HashMap` (for the core without a database).
    pub memory_users: crate::memstore::MemoryUsers,
    /// The validation report's table: the buildings and a whole applied plan. A table of its
    /// own, so the million users it holds are not existing users of the plans measured.
    pub report_table: onboarding::adapters::embedded::SqliteTable,
}

pub fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The key of the users export of `rows` rows in the bucket.
pub fn users_key(rows: u64) -> String {
    format!("inbox/users/bench/users-{}.csv", label(rows))
}

pub fn tenants_key(rows: u64) -> String {
    format!("inbox/tenants/bench/tenants-{}.csv", label(rows))
}

/// `100k`, `1m`, `2500`.
pub fn label(rows: u64) -> String {
    match rows {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}m", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

pub fn migration(rows: u64) -> MigrationId {
    MigrationId::parse(&format!("bench-{}", label(rows))).unwrap_or_else(|_| unreachable!("a fixed, valid id"))
}

/// Writes `path` by `write` unless it exists (through a temporary name, so a crash leaves none).
pub fn generate(path: &Path, write: impl FnOnce(&mut BufWriter<std::fs::File>) -> std::io::Result<u64>) -> Result<(), String> {
    if path.exists() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let partial = path.with_extension("partial");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&partial).map_err(err)?);
    write(&mut out).map_err(err)?;
    out.into_inner().map_err(err)?.sync_all().map_err(err)?;
    std::fs::rename(&partial, path).map_err(err)
}

impl Fixture {
    pub fn svc(&self) -> Services<'_> {
        Services {
            objects: &self.state.objects,
            table: &self.state.table,
            mailer: &self.state.mailer,
            clock: &SystemClock,
            progress: &NoProgress,
            queue: None,
        }
    }

    /// [`Fixture::svc`] over the validation report's table (the same bucket).
    pub fn report_svc(&self) -> Services<'_> {
        Services { table: &self.report_table, ..self.svc() }
    }

    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.join("state/bucket").join(key)
    }

    pub fn users_spec(&self, rows: u64) -> UsersSpec {
        UsersSpec::new(rows, self.seed, self.buildings.clone())
    }

    /// Opens (or makes) the world of `seed` under `dir`, with exports of every size in `sizes`.
    pub async fn prepare(dir: &Path, seed: u64, sizes: &[u64]) -> Result<Self, String> {
        let dir = dir.join(format!("seed-{seed}"));
        let state = EmbeddedState::open(&dir.join("state")).map_err(err)?;
        let report_table = onboarding::adapters::embedded::SqliteTable::open(&dir.join("state/report-table.sqlite")).map_err(err)?;
        let objects = &state.objects;
        let config = onboarding::app::config::store_config(
            objects,
            Some(SETTINGS_JSON.as_bytes().to_vec()),
            Some(ROLE_GUIDE_CSV.as_bytes().to_vec()),
            Some(ROLE_MATRIX_CSV.as_bytes().to_vec()),
        )
        .await
        .map_err(err)?;
        let world = buildings(seed, BUILDINGS);
        let tile_building = BuildingId::parse(&world[0].id).map_err(err)?;
        let mut fixture = Self {
            dir,
            seed,
            state,
            config,
            buildings: world,
            tile_building,
            granted: Vec::new(),
            strangers: Vec::new(),
            memory_users: Default::default(),
            report_table,
        };
        fixture.load_buildings(fixture.svc()).await?;
        for &rows in sizes {
            let spec = fixture.users_spec(rows);
            generate(&fixture.path(&users_key(rows)), |out| write_users(&spec, out))?;
            let spec = TenantsSpec::new(rows, seed);
            generate(&fixture.path(&tenants_key(rows)), |out| write_tenants(&spec, out))?;
        }
        // Smaller exports are prefixes of larger ones (same seed), so the existing users of the
        // largest serve every size.
        let largest = sizes.iter().copied().max().unwrap_or(0);
        fixture.load_existing_users(largest).await?;
        let known: Vec<Email> = existing_users(&fixture.users_spec(largest)).iter().filter_map(|u| Email::parse(&u.email).ok()).collect();
        fixture.memory_users = crate::memstore::MemoryUsers::load(&fixture.state.table, &known).await.map_err(err)?;
        fixture.load_tile_contacts().await?;
        Ok(fixture)
    }

    /// Ingests the synthetic buildings into `svc`'s table.
    pub async fn load_buildings(&self, svc: Services<'_>) -> Result<(), String> {
        let key = "inbox/buildings/bench-buildings.csv";
        std::fs::create_dir_all(self.path("inbox/buildings")).map_err(err)?;
        std::fs::write(self.path(key), buildings_csv(&self.buildings)).map_err(err)?;
        let outcome = onboarding::app::buildings::ingest_buildings(svc, &self.config, key, false).await.map_err(err)?;
        if outcome.accepted as usize != self.buildings.len() {
            return Err(format!("the synthetic buildings file was not fully accepted: {:?}", outcome.issues.first()));
        }
        Ok(())
    }

    async fn load_existing_users(&self, rows: u64) -> Result<(), String> {
        let marker = self.dir.join(format!("existing-{}.done", label(rows)));
        if marker.exists() {
            return Ok(());
        }
        let users: Vec<NewUser> = existing_users(&self.users_spec(rows))
            .into_iter()
            .filter_map(|u| {
                Some(NewUser {
                    email: Email::parse(&u.email).ok()?,
                    first_name: u.first,
                    last_name: u.last,
                    roles: u.roles,
                    buildings: u.building_ids.iter().filter_map(|id| BuildingId::parse(id).ok()).collect(),
                    migration: MigrationId::parse("earlier").ok()?,
                })
            })
            .collect();
        for chunk in users.chunks(5_000) {
            self.state.table.create_users(chunk).await.map_err(err)?;
        }
        std::fs::write(marker, users.len().to_string()).map_err(err)
    }

    /// Ingests 20,000 tenant contacts into the tile building (once) and remembers who is in.
    async fn load_tile_contacts(&mut self) -> Result<(), String> {
        let key = format!("inbox/tenants/{}/bench-contacts.csv", self.tile_building);
        let spec =
            TenantsSpec { bad_email_share: 0.0, missing_name_share: 0.0, duplicate_share: 0.0, ..TenantsSpec::new(20_000, self.seed) };
        let marker = self.dir.join("tile-contacts.done");
        if !marker.exists() {
            generate(&self.path(&key), |out| write_tenants(&spec, out))?;
            let options = onboarding::app::tenants::TenantOptions::default();
            onboarding::app::tenants::ingest_tenants(self.svc(), &self.config, &self.tile_building, &key, options).await.map_err(err)?;
            std::fs::write(&marker, "done").map_err(err)?;
        }
        self.granted = (0..spec.rows).filter_map(|k| Email::parse(&crate::tenants::contact(&spec, k).1).ok()).collect();
        self.strangers = (0..5_000).filter_map(|k| Email::parse(&format!("visitor.{k}@elsewhere.example")).ok()).collect();
        Ok(())
    }
}
