//! `faststyle train`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct TrainArgs {}

pub fn run(_args: TrainArgs) -> anyhow::Result<ExitCode> {
    // TODO: issue 7 builds this subcommand.
    anyhow::bail!("`faststyle train` is not built yet (issue 7)")
}
