//! `faststyle bench`.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct BenchArgs {}

pub fn run(_args: BenchArgs) -> anyhow::Result<ExitCode> {
    // TODO: issue 3 builds this subcommand.
    anyhow::bail!("`faststyle bench` is not built yet (issue 3)")
}
