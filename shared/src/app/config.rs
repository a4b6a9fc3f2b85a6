//! Loading (and checking) the configuration from the bucket's `config/` prefix.

use super::{AppError, AppResult};
use crate::domain::config::{Config, Settings, ROLE_GUIDE_KEY, ROLE_MATRIX_KEY, SETTINGS_KEY};
use crate::domain::intake::{open_sheet, ColumnMap, FileKind, IntakeLimits};
use crate::domain::issue::{FileRejection, RejectionCode};
use crate::domain::roles::{RoleGuide, RoleMatrix, GUIDE_COLUMNS, MATRIX_COLUMNS};
use crate::ports::{ObjectStore, PortError};

fn read_table(
    bytes: Vec<u8>,
    specs: &'static [crate::domain::intake::ColumnSpec],
    what: &str,
) -> AppResult<(ColumnMap, Vec<crate::domain::intake::RawRow>)> {
    let sheet = open_sheet(std::io::Cursor::new(bytes), FileKind::Users, IntakeLimits::default(), |h| ColumnMap::has_required(specs, h))
        .map_err(|e| FileRejection::new(RejectionCode::InvalidConfig, format!("The {what}: {}", e.message)))?;
    let map = ColumnMap::resolve(specs, &sheet.headers)
        .map_err(|e| FileRejection::new(RejectionCode::InvalidConfig, format!("The {what}: {}", e.message)))?;
    let rows = sheet.collect::<Result<Vec<_>, _>>()?;
    Ok((map, rows))
}

/// Checks configuration files given as bytes (settings JSON, role guide CSV, matrix CSV).
pub fn parse_config(settings: Option<Vec<u8>>, guide: Option<Vec<u8>>, matrix: Option<Vec<u8>>) -> AppResult<Config> {
    let settings = match settings {
        Some(bytes) => Config::parse_settings(&bytes)?,
        None => Settings::default(),
    };
    let guide = match guide {
        Some(bytes) => {
            let (map, rows) = read_table(bytes, GUIDE_COLUMNS, "role guide")?;
            RoleGuide::from_rows(&map, rows)?
        }
        None => RoleGuide::default(),
    };
    let matrix = match matrix {
        Some(bytes) => {
            let (map, rows) = read_table(bytes, MATRIX_COLUMNS, "role-mapping matrix")?;
            RoleMatrix::from_rows(&map, rows, &guide)?
        }
        None => RoleMatrix::default(),
    };
    Ok(Config::new(settings, guide, matrix)?)
}

async fn optional(objects: &dyn ObjectStore, key: &str) -> AppResult<Option<Vec<u8>>> {
    match objects.get(key).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(PortError::NotFound(_)) => Ok(None),
        Err(e) => Err(AppError::Port(e)),
    }
}

/// Loads `config/` and puts the deployment's overrides over it.
pub async fn load_config_with(objects: &dyn ObjectStore, overrides: &crate::domain::config::ConfigOverrides) -> AppResult<Config> {
    Ok(overrides.apply(load_config(objects).await?)?)
}

/// Loads `config/` from the bucket; missing files fall back to defaults (an empty matrix maps
/// no role, so every user would be held — the plan says so).
pub async fn load_config(objects: &dyn ObjectStore) -> AppResult<Config> {
    parse_config(
        optional(objects, SETTINGS_KEY).await?,
        optional(objects, ROLE_GUIDE_KEY).await?,
        optional(objects, ROLE_MATRIX_KEY).await?,
    )
}

/// Checks and stores configuration files into `config/`. Nothing is stored unless all are valid.
pub async fn store_config(
    objects: &dyn ObjectStore,
    settings: Option<Vec<u8>>,
    guide: Option<Vec<u8>>,
    matrix: Option<Vec<u8>>,
) -> AppResult<Config> {
    let config = parse_config(settings.clone(), guide.clone(), matrix.clone())?;
    for (key, bytes, kind) in
        [(SETTINGS_KEY, settings, "application/json"), (ROLE_GUIDE_KEY, guide, "text/csv"), (ROLE_MATRIX_KEY, matrix, "text/csv")]
    {
        if let Some(bytes) = bytes {
            objects.put(key, bytes, kind).await?;
        }
    }
    Ok(config)
}
