//! Running a checked [`Plan`]: loading the loss network, the loop with its progress bar,
//! intermediate images, Ctrl-C, and the result.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use faststyle_train::gatys::{
    pixels, AdamConfig, GatysObjective, Lbfgs, LbfgsConfig, Optimization, PixelOptimizer,
    StepOutcome, VectorAdam,
};
use faststyle_train::{LossValues, PerceptualLoss};
use indicatif::{ProgressBar, ProgressStyle};

use super::images::{self, Planar};
use super::{Init, OptimizerKind, Plan};

/// The exit status of a run stopped with Ctrl-C, as shells report SIGINT.
const EXIT_INTERRUPTED: u8 = 130;

pub fn run(plan: Plan) -> Result<ExitCode> {
    let device = Device::cuda_if_available(0)?;
    let vgg = crate::vgg_loader::load_vgg(plan.vgg.as_deref(), &device)?;
    let tensor = |p: &Planar| Tensor::from_slice(&p.data, (1, 3, p.height, p.width), &device);
    let styles = plan
        .styles
        .iter()
        .map(|(p, w)| Ok((tensor(p)?, *w)))
        .collect::<Result<Vec<_>>>()?;
    let loss = PerceptualLoss::with_blended_styles(vgg, plan.loss.clone(), &styles)?;
    let objective = GatysObjective::new(loss, &tensor(&plan.content)?)?;
    let x0 = match plan.init {
        Init::Content => plan.content.data.clone(),
        Init::Noise => pixels::uniform_noise(plan.content.data.len(), plan.seed),
    };
    let optimizer = match plan.optimizer {
        OptimizerKind::Lbfgs => PixelOptimizer::Lbfgs(Lbfgs::new(LbfgsConfig {
            lr: plan.lr,
            ..LbfgsConfig::default()
        })),
        OptimizerKind::Adam => PixelOptimizer::Adam(VectorAdam::new(AdamConfig {
            lr: plan.lr,
            ..AdamConfig::default()
        })),
    };
    let mut run = Optimization::new(objective, optimizer, x0);

    let interrupted = install_ctrlc()?;
    let bar = progress_bar(plan.iterations as u64);
    let started = Instant::now();
    let mut last: Option<LossValues> = None;
    let mut snapshots = plan.snapshots.iter().peekable();
    let mut converged = false;
    while run.iteration() < plan.iterations && !interrupted.load(Ordering::SeqCst) {
        let step_started = Instant::now();
        let report = run.step()?;
        tracing::info!(
            iteration = report.iteration,
            loss = report.values.total,
            seconds = step_started.elapsed().as_secs_f64(),
            "step"
        );
        if !report.values.total.is_finite() {
            bail!(
                "the loss became {} at iteration {}; try a smaller --lr or weights",
                report.values.total,
                report.iteration
            );
        }
        last = Some(report.values);
        bar.set_position(report.iteration as u64);
        bar.set_message(describe(&report.values, &plan, started, report.iteration));
        if report.outcome != StepOutcome::Moved {
            converged = true;
            break;
        }
        while let Some((_, path)) = snapshots.next_if(|(it, _)| *it <= run.iteration()) {
            save(&plan, run.pixels(), path)?;
        }
    }
    bar.finish_and_clear();
    save(&plan, run.pixels(), &plan.output)?;

    let (w, h) = (plan.content.width, plan.content.height);
    let loss = last
        .map(|v| format!(", loss {:.4e}", v.total))
        .unwrap_or_default();
    let out = plan.output.display();
    let secs = started.elapsed().as_secs_f64();
    if interrupted.load(Ordering::SeqCst) {
        println!(
            "interrupted after {} iterations: wrote {out} ({w}x{h}{loss})",
            run.iteration()
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    let note = if converged { " (converged)" } else { "" };
    println!(
        "wrote {out} ({w}x{h}, {} iterations{note} in {secs:.1} s{loss})",
        run.iteration()
    );
    Ok(ExitCode::SUCCESS)
}

/// A flag that the first Ctrl-C sets, so the loop can stop and save; a second Ctrl-C exits at
/// once, for when even saving takes too long.
fn install_ctrlc() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = flag.clone();
    ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    })
    .context("cannot install the Ctrl-C handler")?;
    Ok(flag)
}

fn progress_bar(iterations: u64) -> ProgressBar {
    let bar = ProgressBar::new(iterations);
    if let Ok(style) = ProgressStyle::with_template("{bar:25} {pos}/{len} {elapsed} {msg}") {
        bar.set_style(style);
    }
    bar
}

/// `loss 1.234e6 = content 4.1e5 + style 8.2e5 + tv 0 | 2.31 s/it`: the weighted terms, which
/// sum to the total, so their balance shows.
fn describe(v: &LossValues, plan: &Plan, started: Instant, iteration: usize) -> String {
    let w = plan.loss.weights;
    let per_it = started.elapsed().as_secs_f64() / iteration.max(1) as f64;
    format!(
        "loss {:.3e} = content {:.2e} + style {:.2e} + tv {:.2e} | {per_it:.2} s/it",
        v.total,
        v.content * w.content,
        v.style * w.style,
        v.tv * w.tv
    )
}

/// Writes the current pixels to `path`, with the photo's colours if asked.
fn save(plan: &Plan, x: &[f32], path: &std::path::Path) -> Result<()> {
    let data = if plan.preserve_color {
        pixels::preserve_color(x, &plan.content.data)
    } else {
        x.to_vec()
    };
    let image = Planar {
        width: plan.content.width,
        height: plan.content.height,
        data,
    };
    images::write(path, plan.format, &image)
}
