//! `onboard`: every visitor-onboarding flow from the command line, on embedded adapters (a state
//! folder) by default or on AWS with `--aws`.

mod args;
mod buildings;
mod commands;
mod demo;
mod invites;
mod output;
mod runtime;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let json = cli.json;
    output::init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start: {error}");
            return ExitCode::from(1);
        }
    };
    let run = async {
        match cli.command {
            args::Command::Demo => demo::run(&cli).await,
            _ => commands::run(cli).await,
        }
    };
    match runtime.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => output::report_failure(&failure, json),
    }
}
