//! Synthetic exports for tests and benchmarks, deterministic by seed.
//!
//! ```text
//! gen users     --rows 1000000 --seed 7 [--buildings 40] [--duplicates 0.05] [--conflicts 0.1]
//!               [--inactive 0.08] [--bad-emails 0.01] [--unmapped-roles 0.02]
//!               [--unknown-buildings 0.01] [--missing-names 0.002] [--unknown-status 0.001]   > users.csv
//! gen tenants   --rows 100000 --seed 7 [--duplicates 0.03] [--bad-emails 0.01]
//!               [--missing-names 0.005] [--bad-phones 0.01] [--no-phone 0.3]                  > tenants.csv
//! gen buildings --seed 7 [--buildings 40]                                                      > buildings.csv
//! gen config    DIR          (settings.json, role-guide.csv, role-matrix.csv matching the exports)
//! ```

use bench::args::{count, Args};
use bench::tenants::{write_tenants, TenantsSpec};
use bench::users::{write_users, UsersSpec};
use bench::world::{buildings, buildings_csv, ROLE_GUIDE_CSV, ROLE_MATRIX_CSV, SETTINGS_JSON};
use std::io::{BufWriter, Write};
use std::process::ExitCode;

const USAGE: &str = "usage: gen users|tenants --rows N --seed S [shares...] > FILE | gen buildings --seed S | gen config DIR";

fn main() -> ExitCode {
    match run(Args::parse(std::env::args().skip(1))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("gen: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let seed = args.get("seed", 7u64)?;
    let rows = count(args.text("rows").unwrap_or("1000"))?;
    let world = buildings(seed, args.get("buildings", 40usize)?.max(1));
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let io = |e: std::io::Error| e.to_string();
    match args.positional.first().map(String::as_str) {
        Some("users") => {
            let mut spec = UsersSpec::new(rows, seed, world);
            spec.duplicate_share = args.get("duplicates", spec.duplicate_share)?;
            spec.conflict_share = args.get("conflicts", spec.conflict_share)?;
            spec.inactive_share = args.get("inactive", spec.inactive_share)?;
            spec.bad_email_share = args.get("bad-emails", spec.bad_email_share)?;
            spec.unmapped_role_share = args.get("unmapped-roles", spec.unmapped_role_share)?;
            spec.unknown_building_share = args.get("unknown-buildings", spec.unknown_building_share)?;
            spec.missing_name_share = args.get("missing-names", spec.missing_name_share)?;
            spec.unknown_status_share = args.get("unknown-status", spec.unknown_status_share)?;
            write_users(&spec, &mut out).map_err(io)?;
        }
        Some("tenants") => {
            let mut spec = TenantsSpec::new(rows, seed);
            spec.duplicate_share = args.get("duplicates", spec.duplicate_share)?;
            spec.bad_email_share = args.get("bad-emails", spec.bad_email_share)?;
            spec.missing_name_share = args.get("missing-names", spec.missing_name_share)?;
            spec.bad_phone_share = args.get("bad-phones", spec.bad_phone_share)?;
            spec.no_phone_share = args.get("no-phone", spec.no_phone_share)?;
            write_tenants(&spec, &mut out).map_err(io)?;
        }
        Some("buildings") => out.write_all(buildings_csv(&world).as_bytes()).map_err(io)?,
        Some("config") => {
            let dir = std::path::Path::new(args.positional.get(1).ok_or("gen config needs a folder")?);
            std::fs::create_dir_all(dir).map_err(io)?;
            for (name, text) in [("settings.json", SETTINGS_JSON), ("role-guide.csv", ROLE_GUIDE_CSV), ("role-matrix.csv", ROLE_MATRIX_CSV)]
            {
                std::fs::write(dir.join(name), text).map_err(io)?;
            }
        }
        _ => return Err("say what to generate".into()),
    }
    out.flush().map_err(io)
}
