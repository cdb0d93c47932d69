//! `faststyle import`: convert a pytorch/examples fast_neural_style checkpoint to safetensors.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use candle_core::DType;
use faststyle_net::{import_pth, ImportOptions};

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The PyTorch checkpoint (`torch.save` of the state dict, zip or legacy format).
    pub input: PathBuf,
    /// Where to write the faststyle checkpoint (`.safetensors`).
    pub output: PathBuf,
    /// Style name recorded in the checkpoint [default: the input file's stem].
    #[arg(long)]
    pub name: Option<String>,
    /// Store the weights as f16 (half the size, outputs within about a grey level).
    #[arg(long)]
    pub f16: bool,
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    // Validate before reading megabytes: these mistakes are cheap to spot.
    if !args.input.is_file() {
        bail!("{}: no such file", args.input.display());
    }
    if args.output.is_dir() {
        bail!(
            "{}: is a directory, expected a file name",
            args.output.display()
        );
    }
    let parent = args.output.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent.filter(|p| !p.is_dir()) {
        bail!("{}: no such directory", parent.display());
    }
    if args.output.exists() && !args.force {
        bail!(
            "{}: already exists (use --force to replace it)",
            args.output.display()
        );
    }
    if same_file(&args.input, &args.output) {
        bail!(
            "{}: input and output are the same file",
            args.input.display()
        );
    }
    let options = ImportOptions {
        name: args.name,
        dtype: if args.f16 { DType::F16 } else { DType::F32 },
    };
    let summary = import_pth(&args.input, &args.output, &options)?;
    let dropped = match summary.dropped.len() {
        0 => String::new(),
        n => format!(", dropped {n} stale running-statistics keys"),
    };
    println!(
        "{}: style {:?}, {} tensors from a {} checkpoint{dropped}",
        args.output.display(),
        summary.name,
        summary.tensors,
        summary.format,
    );
    Ok(ExitCode::SUCCESS)
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
