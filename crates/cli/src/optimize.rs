//! `faststyle optimize`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct OptimizeArgs {}

pub fn run(_args: OptimizeArgs) -> anyhow::Result<ExitCode> {
    // TODO: issue 4 builds this subcommand.
    anyhow::bail!("`faststyle optimize` is not built yet (issue 4)")
}
