//! `faststyle train`'s loop: steps the library's trainer and owns everything around it: the
//! progress bar, the JSON-lines log, samples, checkpoints and Ctrl-C.
//!
//! Output: warnings and progress on stderr; the checkpoint's path on stdout when done.
//! Exit codes: 0 done, 130 stopped by Ctrl-C (or SIGTERM) after saving, 2 errors (a non-finite
//! loss included: the last checkpoint written stays as it was).

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use faststyle_net::CheckpointMeta;
use faststyle_train::data::{SkipHook, Skipped};
use faststyle_train::objective::perceptual_trainer;
use faststyle_train::photo::{load_image, save_png, Resize};
use faststyle_train::{StepReport, TrainError, Trainer};
use indicatif::{ProgressBar, ProgressStyle};

use crate::train::Plan;

/// Without a terminal (a run in the background), a plain progress line every this many steps.
const PLAIN_EVERY: u64 = 25;

/// What to write when.
pub struct Schedule {
    pub checkpoint_every: u64,
    pub sample_every: u64,
    pub sample_image: PathBuf,
    pub samples_dir: PathBuf,
    pub log: PathBuf,
}

pub fn run_training(plan: Plan) -> anyhow::Result<ExitCode> {
    let Plan {
        options,
        output,
        resume,
        schedule,
        vgg,
        changed,
    } = plan;
    let device = faststyle_train::trainer::device();
    let interactive = std::io::stderr().is_terminal();
    for change in &changed {
        eprintln!("note: resuming with {change}");
    }

    let vgg = crate::vgg_loader::load_vgg(vgg.as_deref(), &device)?;
    let bar = ProgressBar::new(options.steps);
    if !interactive {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let on_skip: SkipHook = {
        let bar = bar.clone();
        Arc::new(move |s: &Skipped| {
            bar.println(format!(
                "warning: skipping {}: {}",
                s.path.display(),
                s.reason
            ))
        })
    };
    let resumed_at = resume.as_ref().map(|s| s.meta.step);
    let mut trainer = perceptual_trainer(options.clone(), vgg, &device, on_skip, resume)?;
    let meta = options.checkpoint_meta()?;
    let sample = load_image(
        &schedule.sample_image,
        Resize::ShortSideMultipleOf4(options.image_size),
        &device,
    )?;
    let mut log = open_log(&schedule.log, resumed_at)?;
    if trainer.steps_done() >= options.steps {
        println!("{}", output.display());
        eprintln!(
            "already trained for {} steps (--steps {}); nothing to do",
            trainer.steps_done(),
            options.steps
        );
        return Ok(ExitCode::SUCCESS);
    }

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second Ctrl-C while the current step finishes quits without saving.
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
        })
        .context("cannot install the Ctrl-C handler")?;
    }

    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:24}] {pos}/{len} {msg} ETA {eta_precise}",
        )
        .expect("template is valid")
        .progress_chars("=> "),
    );
    bar.set_position(trainer.steps_done());
    bar.reset_eta();
    let started = Instant::now();
    let mut last = Instant::now();
    let mut rate = Rate::default();
    let mut saved_at: Option<u64> = resumed_at;
    while trainer.steps_done() < options.steps {
        if stop.load(Ordering::SeqCst) {
            save(&trainer, &output, &meta)?;
            bar.abandon();
            eprintln!(
                "interrupted at step {}: saved {}; continue with --resume",
                trainer.steps_done(),
                output.display()
            );
            return Ok(ExitCode::from(130));
        }
        let report = match trainer.step() {
            Ok(report) => report,
            Err(err @ TrainError::NonFinite { .. }) => {
                bar.abandon();
                let kept = match saved_at {
                    Some(step) => format!("the checkpoint of step {step} is kept", step = step),
                    None => "no checkpoint was written".to_owned(),
                };
                anyhow::bail!("{err}; {kept} ({})", output.display());
            }
            Err(err) => return Err(err.into()),
        };
        let seconds = last.elapsed().as_secs_f64();
        last = Instant::now();
        let images_per_second = rate.update(report.images as f64 / seconds.max(1e-9));
        write_log(&mut log, &schedule.log, &report, seconds, started.elapsed())?;
        let step = report.step;
        let losses = report.losses;
        let message = format!(
            "loss {:.3e} (content {:.3e} style {:.3e} tv {:.2e}) {:.2} img/s",
            losses.total, losses.content, losses.style, losses.tv, images_per_second
        );
        bar.set_position(step);
        bar.set_message(message.clone());
        if !interactive && (step % PLAIN_EVERY == 0 || step == 1) {
            eprintln!("step {step:>7}/{}  {message}", options.steps);
        }
        let last_step = step == options.steps;
        if last_step || (schedule.sample_every > 0 && step % schedule.sample_every == 0) {
            let path = schedule.samples_dir.join(format!("step-{step:07}.png"));
            std::fs::create_dir_all(&schedule.samples_dir)
                .with_context(|| format!("{}", schedule.samples_dir.display()))?;
            save_png(&trainer.stylize(&sample)?, &path)?;
        }
        if last_step || (schedule.checkpoint_every > 0 && step % schedule.checkpoint_every == 0) {
            save(&trainer, &output, &meta)?;
            saved_at = Some(step);
        }
    }
    bar.finish_and_clear();
    if trainer.skipped_files() > 0 {
        eprintln!("skipped {} unreadable photos", trainer.skipped_files());
    }
    println!("{}", output.display());
    Ok(ExitCode::SUCCESS)
}

fn save(trainer: &Trainer, output: &Path, meta: &CheckpointMeta) -> anyhow::Result<()> {
    trainer
        .save(output, meta)
        .with_context(|| format!("saving {}", output.display()))
}

/// Opens the JSON-lines log for appending. A fresh run starts it empty; a resumed one keeps the
/// lines up to the step it resumes from and drops those of steps it will do again.
fn open_log(
    path: &Path,
    resumed_at: Option<u64>,
) -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
    let context = || format!("{}: cannot write the log", path.display());
    match resumed_at {
        None => faststyle_net::atomic::write_atomic(path, b"").with_context(context)?,
        Some(step) if path.exists() => {
            let file = std::fs::File::open(path).with_context(context)?;
            let mut kept = Vec::new();
            for line in BufReader::new(file).lines() {
                let line = line.with_context(context)?;
                let line_step = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v["step"].as_u64());
                if line_step.is_some_and(|s| s <= step) {
                    kept.extend_from_slice(line.as_bytes());
                    kept.push(b'\n');
                }
            }
            faststyle_net::atomic::write_atomic(path, &kept).with_context(context)?;
        }
        Some(_) => {}
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(context)?;
    Ok(std::io::BufWriter::new(file))
}

fn write_log(
    log: &mut impl Write,
    path: &Path,
    report: &StepReport,
    seconds: f64,
    elapsed: Duration,
) -> anyhow::Result<()> {
    let line = serde_json::json!({
        "step": report.step,
        "epoch": report.cursor.epoch,
        "content": report.losses.content,
        "style": report.losses.style,
        "tv": report.losses.tv,
        "total": report.losses.total,
        "seconds": seconds,
        "compute_seconds": report.compute_seconds,
        "wait_seconds": report.wait_seconds,
        "images_per_second": report.images as f64 / seconds.max(1e-9),
        "elapsed_seconds": elapsed.as_secs_f64(),
    });
    // Flushed every step: a log that lags behind a killed run would mislead.
    writeln!(log, "{line}")
        .and_then(|_| log.flush())
        .with_context(|| format!("{}: cannot write the log", path.display()))
}

/// An exponential moving average of images per second, for a steady progress bar.
#[derive(Default)]
struct Rate(Option<f64>);

impl Rate {
    fn update(&mut self, value: f64) -> f64 {
        let next = match self.0 {
            Some(avg) => 0.9 * avg + 0.1 * value,
            None => value,
        };
        self.0 = Some(next);
        next
    }
}
