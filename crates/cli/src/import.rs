//! `faststyle import`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ImportArgs {}

pub fn run(_args: ImportArgs) -> anyhow::Result<ExitCode> {
    // TODO: issue 2 builds this subcommand.
    anyhow::bail!("`faststyle import` is not built yet (issue 2)")
}
