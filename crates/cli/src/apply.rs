//! `faststyle apply`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ApplyArgs {}

pub fn run(_args: ApplyArgs) -> anyhow::Result<ExitCode> {
    // TODO: issue 2 builds this subcommand.
    anyhow::bail!("`faststyle apply` is not built yet (issue 2)")
}
