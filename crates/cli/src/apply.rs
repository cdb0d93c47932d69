//! `faststyle apply`: parse and check the arguments, plan the outputs, load the styles, then
//! hand the batch to `faststyle_infer::run_batch` and report each image as it completes.
//!
//! Per-image failures (missing or broken inputs, existing outputs) are reported on stderr as
//! `faststyle: error: FILE: reason`, the rest of the batch carries on, and the exit code is 2.
//! Stdout carries only results: the path written, or with `--json` one object per image.

mod plan;
mod style_arg;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use candle_core::Device;
use faststyle_infer::catalog;
use faststyle_infer::{
    decode, encode, run_batch, BatchItem, DecodeLimits, InferError, OutputFormat, Picture, Style,
    StylizeOptions, Stylizer,
};
use indicatif::{ProgressBar, ProgressStyle};
use plan::{Job, Request, Sink, Source};
use style_arg::{parse_style_arg, StyleArg};

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// Checkpoint file or name of a style in checkpoints/, with an optional `:WEIGHT`; repeat
    /// to blend styles (`--style starry-night:0.7 --style mine.safetensors:0.3`). Default: the
    /// default shipped style (`faststyle styles` lists them).
    #[arg(long = "style", short = 's', value_name = "STYLE[:WEIGHT]",
          value_parser = parse_style_arg)]
    styles: Vec<StyleArg>,
    /// Image files, folders (every image directly inside), or `-` for stdin.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Output file, folder, or `-` for stdout. Default: `<stem>-<style>.<ext>` beside each input.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Output format (png, jpg, webp, bmp, tiff) instead of the input's or -o's extension.
    #[arg(long, value_name = "EXT")]
    format: Option<String>,
    /// 0..1: how much of the stylised image to blend over the photo.
    #[arg(long, default_value_t = 1.0)]
    strength: f32,
    /// Keep the photo's colours; apply the style's luminance only.
    #[arg(long)]
    preserve_color: bool,
    /// Resize so the long side is at most N pixels first (never enlarges).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_size: Option<u32>,
    /// Overwrite existing outputs.
    #[arg(long)]
    force: bool,
    /// One JSON object per image on stdout (input, output, width, height, style, seconds).
    #[arg(long)]
    json: bool,
}

/// A failure of one job: what it is about (a file name) and why.
struct JobError {
    about: Option<String>,
    reason: String,
}

impl From<InferError> for JobError {
    fn from(e: InferError) -> Self {
        JobError {
            about: None,
            reason: e.to_string(),
        }
    }
}

/// What `store` reports for a written image.
struct Written {
    width: u32,
    height: u32,
}

pub fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.strength) {
        anyhow::bail!("--strength {} is not in 0..1", args.strength);
    }
    let format = args
        .format
        .as_deref()
        .map(|f| OutputFormat::from_extension(f).ok_or(InferError::UnknownFormat(f.into())))
        .transpose()?;
    let styles = match args.styles.is_empty() {
        true => vec![StyleArg {
            spec: catalog::default_style()?.display().to_string(),
            weight: 1.0,
        }],
        false => args.styles.clone(),
    };
    let paths = styles
        .iter()
        .map(|s| catalog::resolve_style(&s.spec))
        .collect::<Result<Vec<_>, _>>()?;
    let label = style_label(&styles, &paths);
    let plan::Plan { jobs, failures } = plan::plan(&Request {
        inputs: &args.inputs,
        output: args.output.as_deref(),
        format,
        force: args.force,
        label: &label,
    })?;

    if args.json && jobs.iter().any(|j| j.sink == Sink::Stdout) {
        anyhow::bail!(
            "--json and an image on stdout would mix on stdout: write the image to a file"
        );
    }
    let device = pick_device();
    let loaded = styles
        .iter()
        .zip(&paths)
        .map(|(s, path)| Style::load(path, s.weight, &device))
        .collect::<Result<Vec<_>, _>>()?;
    let options = StylizeOptions {
        strength: args.strength,
        preserve_color: args.preserve_color,
        max_size: args.max_size,
        ..StylizeOptions::default()
    };
    let stylizer = Stylizer::new(loaded, options, device)?;
    tracing::info!(images = jobs.len(), style = %label, "applying");

    let to_stdout = jobs.iter().any(|j| j.sink == Sink::Stdout);

    let bar = if jobs.len() > 1 && !args.json && !to_stdout {
        let bar = ProgressBar::new(jobs.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} images, {elapsed} (eta {eta})")
                .expect("a valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    } else {
        ProgressBar::hidden()
    };

    let mut failed = failures.len();
    for (input, reason) in &failures {
        eprintln!("faststyle: error: {input}: {reason}");
    }
    let limits = DecodeLimits::default();
    let force = args.force;
    run_batch(
        &stylizer,
        &jobs,
        |job| load(job, &limits),
        |job, picture| store(job, picture, force),
        |item: BatchItem<Written, JobError>| {
            let job = &jobs[item.index];
            bar.inc(1);
            match item.result {
                Ok(written) => {
                    bar.suspend(|| report(job, &written, &label, item.seconds, args.json))
                }
                Err(e) => {
                    failed += 1;
                    let about = e.about.unwrap_or_else(|| job.input_name());
                    bar.suspend(|| eprintln!("faststyle: error: {about}: {}", e.reason));
                    if args.json {
                        let line =
                            serde_json::json!({"input": job.input_name(), "error": e.reason});
                        println!("{line}");
                    }
                }
            }
        },
    );
    bar.finish_and_clear();
    Ok(if failed > 0 {
        ExitCode::from(crate::EXIT_USER_ERROR)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads and decodes a job's input (or fails early with the problem found while planning).
fn load(job: &Job, limits: &DecodeLimits) -> Result<Picture, JobError> {
    if let Some((about, reason)) = &job.problem {
        return Err(JobError {
            about: Some(about.clone()),
            reason: reason.clone(),
        });
    }
    let bytes = match &job.source {
        Source::File(path) => std::fs::read(path).map_err(|e| JobError {
            about: None,
            reason: match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".into(),
                _ => format!("cannot read: {e}"),
            },
        })?,
        Source::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| JobError {
                    about: None,
                    reason: format!("cannot read: {e}"),
                })?;
            bytes
        }
    };
    Ok(decode(&bytes, limits)?)
}

/// Encodes and writes a job's output, atomically for files.
fn store(job: &Job, picture: Picture, force: bool) -> Result<Written, JobError> {
    let (width, height) = (picture.width(), picture.height());
    let bytes = encode(picture, job.format)?;
    let failed = |e: std::io::Error| JobError {
        about: Some(job.output_name()),
        reason: format!("cannot write: {e}"),
    };
    match &job.sink {
        Sink::File(path) => {
            // Planning checked this too; another process may have written it since.
            if !force && path.exists() {
                return Err(JobError {
                    about: Some(job.output_name()),
                    reason: "already exists (use --force to overwrite)".into(),
                });
            }
            faststyle_net::atomic::write_atomic(path, &bytes).map_err(failed)?;
        }
        Sink::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|_| out.flush())
                .map_err(failed)?;
        }
    }
    Ok(Written { width, height })
}

/// One result line on stdout: the output path, or the JSON object.
fn report(job: &Job, written: &Written, label: &str, seconds: f64, json: bool) {
    if json {
        let line = serde_json::json!({
            "input": job.input_name(),
            "output": job.output_name(),
            "width": written.width,
            "height": written.height,
            "style": label,
            "seconds": (seconds * 1000.0).round() / 1000.0,
        });
        println!("{line}");
    } else if job.sink != Sink::Stdout {
        println!("{}", job.output_name());
    }
    tracing::info!(input = %job.input_name(), seconds, "done");
}

/// `starry` or `starry+mosaic`, from the style names given (file stems for paths), made safe
/// for file names.
fn style_label(styles: &[StyleArg], paths: &[PathBuf]) -> String {
    let names: Vec<String> = styles
        .iter()
        .zip(paths)
        .map(|(s, p)| {
            let name = p
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| s.spec.clone());
            name.chars()
                .map(|c| {
                    if c.is_alphanumeric() || "-_.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect()
        })
        .collect();
    names.join("+")
}

/// A GPU when candle was built for one and it is present, the CPU otherwise.
fn pick_device() -> Device {
    if candle_core::utils::cuda_is_available() {
        if let Ok(d) = Device::new_cuda(0) {
            return d;
        }
    }
    if candle_core::utils::metal_is_available() {
        if let Ok(d) = Device::new_metal(0) {
            return d;
        }
    }
    Device::Cpu
}
