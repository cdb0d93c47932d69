//! `faststyle train`: arguments, their validation, and the resolved options of the run.
//!
//! Every option is resolved before any work starts, so a typo fails at once rather than after
//! the VGG16 download: given on the command line, else (with `--resume`) as the interrupted
//! run had it, else the default. The loop itself lives in `train_loop.rs`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use faststyle_train::data::Dataset;
use faststyle_train::photo::decode_rgb;
use faststyle_train::state::{load_state, state_path, TrainState};
use faststyle_train::TrainOptions;

use crate::train_loop::{run_training, Schedule};

#[derive(clap::Args)]
pub struct TrainArgs {
    /// The painting to learn (any image file). Optional with --resume.
    #[arg(long)]
    style: Option<PathBuf>,
    /// Folder of content photos, searched recursively [default: training-data].
    #[arg(long)]
    data: Option<PathBuf>,
    /// The checkpoint to write [default: checkpoints/<style file stem>.safetensors]. The resume
    /// state (<name>.state), the log (<name>.log.jsonl) and samples (<name>.samples/) go beside
    /// it.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Side of the square training crops, a multiple of 4 [default: 256].
    #[arg(long)]
    image_size: Option<u32>,
    /// Scale the style image to this long side first [default: the image as it is].
    #[arg(long)]
    style_size: Option<u32>,
    /// Photos per step [default: 4].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Total training steps [default: 40000, two epochs of COCO].
    #[arg(long, conflicts_with = "epochs")]
    steps: Option<u64>,
    /// Train for this many passes over the photos instead of --steps.
    #[arg(long)]
    epochs: Option<u64>,
    /// Adam's learning rate [default: 0.001].
    #[arg(long)]
    lr: Option<f64>,
    /// Seeds the initial weights, the photo order and the crops [default: 42].
    #[arg(long)]
    seed: Option<u64>,
    /// Weight of the content loss [default: 1e5].
    #[arg(long)]
    content_weight: Option<f64>,
    /// Weight of the style loss [default: 1e10].
    #[arg(long)]
    style_weight: Option<f64>,
    /// Weight of the total-variation loss [default: 0].
    #[arg(long)]
    tv_weight: Option<f64>,
    /// VGG16 layer of the content loss [default: relu2_2].
    #[arg(long)]
    content_layer: Option<String>,
    /// VGG16 layers of the style loss, with optional weights
    /// [default: relu1_2:1,relu2_2:1,relu3_3:1,relu4_3:1].
    #[arg(long)]
    style_layers: Option<String>,
    /// Write the checkpoint and resume state every N steps (0: only at the end).
    #[arg(long, default_value_t = 200)]
    checkpoint_every: u64,
    /// Write a sample image every N steps (0: only at the end).
    #[arg(long, default_value_t = 200)]
    sample_every: u64,
    /// The photo the samples show [default: the first photo of --data].
    #[arg(long)]
    sample_image: Option<PathBuf>,
    /// JSON-lines log of every step's losses [default: <name>.log.jsonl beside the checkpoint].
    #[arg(long)]
    log: Option<PathBuf>,
    /// Continue the run whose checkpoint is --output, exactly where it stopped.
    #[arg(long)]
    resume: bool,
    /// Start afresh even if --output already exists (it is replaced).
    #[arg(long, conflicts_with = "resume")]
    force: bool,
    /// VGG16 weights (torchvision names, safetensors) instead of the cached download.
    #[arg(long)]
    vgg: Option<PathBuf>,
}

/// Everything the loop needs, validated.
pub struct Plan {
    pub options: TrainOptions,
    pub output: PathBuf,
    pub resume: Option<TrainState>,
    pub schedule: Schedule,
    pub vgg: Option<PathBuf>,
    /// Options that differ from the resumed run's, as `--name old → new`.
    pub changed: Vec<String>,
}

pub fn run(args: TrainArgs) -> anyhow::Result<ExitCode> {
    let plan = plan(args)?;
    run_training(plan)
}

fn plan(args: TrainArgs) -> anyhow::Result<Plan> {
    let output = match (&args.output, &args.style) {
        (Some(output), _) => output.clone(),
        (None, Some(style)) => default_output(style)?,
        (None, None) => {
            bail!("give the painting to learn with --style (or --output with --resume)")
        }
    };
    let state_file = state_path(&output);
    let resume = if args.resume {
        if !state_file.exists() {
            bail!(
                "{}: no training state to resume from; start without --resume",
                state_file.display()
            );
        }
        Some(load_state(&state_file, &candle_core::Device::Cpu)?)
    } else {
        // Name the file that is there: a run's state can outlive its checkpoint.
        if let Some(existing) = [&output, &state_file].into_iter().find(|p| p.exists()) {
            if !args.force {
                bail!(
                    "{}: already exists; continue that run with --resume, or replace it with --force",
                    existing.display()
                );
            }
        }
        if args.style.is_none() {
            bail!("give the painting to learn with --style (or continue a run with --resume)");
        }
        None
    };
    let base = match &resume {
        Some(state) => state.meta.options.clone(),
        None => TrainOptions::default(),
    };
    let mut changed = Vec::new();
    let mut options = base.clone();
    let mut set = |name: &str, old: String, new: Option<String>| {
        if let Some(new) = new {
            if resume.is_some() && new != old {
                changed.push(format!("--{name} {old} → {new}"));
            }
        }
    };
    macro_rules! take {
        ($field:ident, $flag:literal) => {
            set(
                $flag,
                format!("{:?}", base.$field),
                args.$field.as_ref().map(|v| format!("{v:?}")),
            );
            if let Some(v) = args.$field.clone() {
                options.$field = v;
            }
        };
    }
    if let Some(style) = &args.style {
        set(
            "style",
            base.style_image.display().to_string(),
            Some(style.display().to_string()),
        );
        options.style_image = style.clone();
    }
    take!(data, "data");
    take!(image_size, "image-size");
    take!(batch_size, "batch-size");
    take!(steps, "steps");
    take!(lr, "lr");
    take!(seed, "seed");
    take!(content_weight, "content-weight");
    take!(style_weight, "style-weight");
    take!(tv_weight, "tv-weight");
    take!(content_layer, "content-layer");
    take!(style_layers, "style-layers");
    if let Some(size) = args.style_size {
        set(
            "style-size",
            format!("{:?}", base.style_size),
            Some(format!("{:?}", Some(size))),
        );
        options.style_size = Some(size);
    }

    // Validate everything that can be checked without the loss network.
    options.validate()?;
    check_image(&options.style_image, "the style image")?;
    let dataset = Dataset::open(&options.data)?;
    if let Some(epochs) = args.epochs {
        if epochs == 0 {
            bail!("--epochs must be at least 1");
        }
        options.steps = TrainOptions::steps_for_epochs(dataset.len(), options.batch_size, epochs);
    }
    let sample_image = match args.sample_image {
        Some(path) => path,
        None => dataset.files()[0].clone(),
    };
    check_image(&sample_image, "the sample photo")?;
    if let Some(vgg) = &args.vgg {
        if !vgg.is_file() {
            bail!("{}: no such VGG16 weights file", vgg.display());
        }
    }
    check_writable(&output)?;
    let stem = output.with_extension("");
    let log = args
        .log
        .unwrap_or_else(|| PathBuf::from(format!("{}.log.jsonl", stem.display())));
    check_writable(&log)?;
    let schedule = Schedule {
        checkpoint_every: args.checkpoint_every,
        sample_every: args.sample_every,
        sample_image,
        samples_dir: PathBuf::from(format!("{}.samples", stem.display())),
        log,
    };
    Ok(Plan {
        options,
        output,
        resume,
        schedule,
        vgg: args.vgg,
        changed,
    })
}

/// `checkpoints/<style file stem>.safetensors`.
fn default_output(style: &Path) -> anyhow::Result<PathBuf> {
    let stem = style
        .file_stem()
        .with_context(|| format!("{}: not a file name", style.display()))?;
    let mut name = stem.to_owned();
    name.push(".safetensors");
    Ok(Path::new("checkpoints").join(name))
}

/// Decodes `path` once, so an unreadable image fails before the run starts.
fn check_image(path: &Path, what: &str) -> anyhow::Result<()> {
    decode_rgb(path).map_err(|reason| anyhow::anyhow!("{}: {what}: {reason}", path.display()))?;
    Ok(())
}

/// Creates `path`'s folder if needed and checks that a file can be written there.
fn check_writable(path: &Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("{}: cannot create the output folder", dir.display()))?;
    let probe = dir.join(format!(".faststyle-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .with_context(|| format!("{}: cannot write in this folder", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
