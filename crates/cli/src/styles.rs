//! `faststyle styles`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct StylesArgs {}

pub fn run(_args: StylesArgs) -> anyhow::Result<ExitCode> {
    // TODO: issue 2 builds this subcommand.
    anyhow::bail!("`faststyle styles` is not built yet (issue 2)")
}
