//! `faststyle import`: convert a pytorch/examples fast_neural_style checkpoint to safetensors,
//! or re-save a faststyle checkpoint for shipping (f16, the painting's details).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use candle_core::DType;
use faststyle_net::{import_pth, is_valid_name, resave_checkpoint, CheckpointMeta, ImportOptions};

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The PyTorch checkpoint (`torch.save` of the state dict, zip or legacy format), or a
    /// faststyle checkpoint (`.safetensors`, e.g. from `faststyle train`) to re-save.
    pub input: PathBuf,
    /// Where to write the faststyle checkpoint (`.safetensors`).
    pub output: PathBuf,
    /// Style name recorded in the checkpoint [default: the input file's stem].
    #[arg(long)]
    pub name: Option<String>,
    /// Store the weights as f16 (half the size, outputs within about a grey level); without it
    /// a .pth becomes f32 and a re-saved checkpoint keeps its own precision.
    #[arg(long)]
    pub f16: bool,
    /// The painting's title, recorded in the checkpoint (shown by `faststyle styles`).
    #[arg(long, value_parser = one_line)]
    pub title: Option<String>,
    /// The painting's artist.
    #[arg(long, value_parser = one_line)]
    pub artist: Option<String>,
    /// The year the painting was made.
    #[arg(long, value_parser = one_line)]
    pub year: Option<String>,
    /// The painting's licence (e.g. "public domain").
    #[arg(long, value_parser = one_line)]
    pub licence: Option<String>,
    /// Replace OUTPUT if it exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    // Validate before reading megabytes: these mistakes are cheap to spot.
    if args.input.is_dir() {
        bail!(
            "{}: is a folder, expected a checkpoint file",
            args.input.display()
        );
    }
    if !args.input.is_file() {
        bail!("{}: no such file", args.input.display());
    }
    if args.output.extension().is_none_or(|e| e != "safetensors") {
        bail!(
            "{}: the output must be a .safetensors file",
            args.output.display()
        );
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
    let dtype = if args.f16 { DType::F16 } else { DType::F32 };
    if args.input.extension().is_some_and(|e| e == "safetensors") {
        // Re-saving keeps the file's own precision unless --f16 asks for half.
        let dtype = match args.f16 {
            true => DType::F16,
            false => stored_dtype(&args.input)?,
        };
        return resave(&args, dtype);
    }
    let options = ImportOptions {
        name: args.name.clone(),
        dtype,
    };
    let summary = import_pth(&args.input, &args.output, &options)?;
    let mut details = StyleDetails::from(&args);
    if !details.is_empty() {
        resave_checkpoint(&args.output, &args.output, dtype, |m| details.apply(m))?;
    }
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

/// Re-saves a faststyle checkpoint with the requested dtype and painting details.
fn resave(args: &ImportArgs, dtype: DType) -> anyhow::Result<ExitCode> {
    if let Some(name) = args.name.as_deref().filter(|n| !is_valid_name(n)) {
        bail!("invalid style name {name:?}: use letters, digits, '-', '_' or '.'");
    }
    let mut details = StyleDetails::from(args);
    let meta = resave_checkpoint(&args.input, &args.output, dtype, |m| details.apply(m))?;
    let size = std::fs::metadata(&args.output)
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "{}: style {:?}, {:.1} MB as {dtype:?}",
        args.output.display(),
        meta.style.name,
        size as f64 / 1e6
    );
    Ok(ExitCode::SUCCESS)
}

/// The dtype the checkpoint's tensors are stored in (f16 or f32).
fn stored_dtype(path: &std::path::Path) -> anyhow::Result<DType> {
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read ({e})", path.display()))?;
    let tensors = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a safetensors file ({e})", path.display()))?;
    let half = tensors
        .tensors()
        .iter()
        .any(|(_, t)| t.dtype() == safetensors::Dtype::F16);
    Ok(if half { DType::F16 } else { DType::F32 })
}

/// The metadata fields given on the command line; the others keep their values.
struct StyleDetails {
    name: Option<String>,
    title: Option<String>,
    artist: Option<String>,
    year: Option<String>,
    licence: Option<String>,
}

impl StyleDetails {
    fn from(args: &ImportArgs) -> Self {
        Self {
            name: args.name.clone(),
            title: args.title.clone(),
            artist: args.artist.clone(),
            year: args.year.clone(),
            licence: args.licence.clone(),
        }
    }

    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.artist.is_none()
            && self.year.is_none()
            && self.licence.is_none()
    }

    fn apply(&mut self, meta: &mut CheckpointMeta) {
        let style = &mut meta.style;
        if let Some(name) = self.name.take() {
            style.name = name;
        }
        for (field, value) in [
            (&mut style.title, self.title.take()),
            (&mut style.artist, self.artist.take()),
            (&mut style.year, self.year.take()),
            (&mut style.licence, self.licence.take()),
        ] {
            if value.is_some() {
                *field = value;
            }
        }
    }
}

/// A metadata field as `faststyle styles` and `checkpoints/README.md` show it: one line of
/// printable text, so a stray newline or escape sequence cannot break their tables.
fn one_line(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "{value:?} must be one line without control characters"
        ));
    }
    Ok(value.to_owned())
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
