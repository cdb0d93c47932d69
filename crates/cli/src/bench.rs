//! `faststyle bench ops|apply|train|methods`: wall-clock medians of the kernels and of the transformer,
//! with the arithmetic rate they reach.
//!
//! Each line reads `name  median ms  GFLOP/s  % of peak`, with the name first and free of
//! spaces so that `scripts/bench.sh` can pair it with the line of the same name printed by
//! `scripts/bench_torch.py`. FLOPs count a multiply-add as two and only the convolutions.

mod methods;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use faststyle_net::TransformerNet;
use faststyle_ops::{conv2d, conv2d_input_grad, conv2d_weight_grad, instance_norm, max_pool2x2};

/// Peak f32 rate of this project's reference machine: 2 cores, AVX-512, two FMA units.
const PEAK_GFLOPS: f64 = 500.0;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Workload {
    /// Single kernels on the shapes of the transformer and VGG16.
    Ops,
    /// Transformer forward pass at 256x256 and 1024x1024.
    Apply,
    /// Steps of the real trainer: batch 4, 256x256 crops of `training-data/`.
    Train,
    /// Table 1 of Johnson et al.: the fast network against 100, 300 and 500 L-BFGS iterations
    /// at 256, 512 and 1024.
    Methods,
}

#[derive(clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    workload: Workload,
    /// Timed runs per measurement (after one untimed warm-up run); the median is printed.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Transformer weights for `apply` (safetensors, pytorch/examples names).
    #[arg(long, default_value = "tests/fixtures/transformer_net.safetensors")]
    weights: PathBuf,
    /// Style image for `train` and `methods` (its size only affects the one-off Gram targets).
    #[arg(long, default_value = "tests/fixtures/style_96x80.png")]
    style: PathBuf,
    /// Content photos for `train`.
    #[arg(long, default_value = "training-data")]
    data: PathBuf,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if args.runs == 0 {
        anyhow::bail!("--runs must be at least 1");
    }
    println!(
        "{:<34} {:>10} {:>9} {:>8}",
        "name", "median ms", "GFLOP/s", "of peak"
    );
    match args.workload {
        Workload::Ops => bench_ops(args.runs)?,
        Workload::Apply => bench_apply(args.runs, &args.weights)?,
        Workload::Train => bench_train(args.runs, &args.style, &args.data)?,
        Workload::Methods => {
            let net = load_transformer(&args.weights)?;
            bench_apply_with(args.runs, &net)?;
            methods::bench_methods(args.runs, &net, &args.style)?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `f` once to warm up, then `runs` times, and prints the median.
fn measure(
    name: &str,
    gflop: f64,
    runs: usize,
    mut f: impl FnMut() -> candle_core::Result<Tensor>,
) -> anyhow::Result<()> {
    let median = median_seconds(runs, || {
        // Candle's CPU ops are eager, but make sure nothing is left pending before stopping.
        drop(f().with_context(|| format!("running {name}"))?);
        Ok(())
    })?;
    if gflop > 0.0 {
        let rate = gflop / median;
        println!(
            "{name:<34} {:>10.2} {rate:>9.1} {:>7.0}%",
            median * 1e3,
            100.0 * rate / PEAK_GFLOPS
        );
    } else {
        println!("{name:<34} {:>10.2} {:>9} {:>8}", median * 1e3, "-", "-");
    }
    Ok(())
}

/// One untimed warm-up call of `f`, then the median of `runs` timed calls, in seconds.
fn median_seconds(runs: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    f()?;
    let mut seconds = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        seconds.push(start.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    Ok(seconds[seconds.len() / 2])
}

/// Deterministic values in `[-1, 1)`, so both sides of a comparison see similar data.
fn filled(dims: &[usize]) -> candle_core::Result<Tensor> {
    let n: usize = dims.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 2003) as f32 / 1001.5 - 1.0)
        .collect();
    Tensor::from_vec(values, dims, &Device::Cpu)
}

/// `2 c_out c_in k² ho wo b`, in GFLOP.
fn conv_gflop(b: usize, c_in: usize, c_out: usize, k: usize, (ho, wo): (usize, usize)) -> f64 {
    2.0 * (b * c_out * c_in * k * k * ho * wo) as f64 / 1e9
}

/// One convolution shape: forward, input gradient and weight gradient.
fn bench_conv(
    name: &str,
    (b, c_in, h, w): (usize, usize, usize, usize),
    c_out: usize,
    k: usize,
    stride: usize,
    pad: usize,
    runs: usize,
) -> anyhow::Result<()> {
    let xs = filled(&[b, c_in, h, w])?;
    let weight = filled(&[c_out, c_in, k, k])?;
    let bias = filled(&[c_out])?;
    let ys = conv2d(&xs, &weight, Some(&bias), stride, pad)?;
    let (_, _, ho, wo) = ys.dims4()?;
    let gflop = conv_gflop(b, c_in, c_out, k, (ho, wo));
    measure(&format!("{name}_fwd"), gflop, runs, || {
        conv2d(&xs, &weight, Some(&bias), stride, pad)
    })?;
    measure(&format!("{name}_dx"), gflop, runs, || {
        conv2d_input_grad(&ys, &weight, (h, w), stride, pad)
    })?;
    measure(&format!("{name}_dw"), gflop, runs, || {
        conv2d_weight_grad(&xs, &ys, (k, k), stride, pad)
    })
}

fn bench_ops(runs: usize) -> anyhow::Result<()> {
    bench_conv(
        "conv3x3_128to128_4x64x64",
        (4, 128, 64, 64),
        128,
        3,
        1,
        1,
        runs,
    )?;
    bench_conv(
        "conv9x9_3to32_4x264x264",
        (4, 3, 264, 264),
        32,
        9,
        1,
        0,
        runs,
    )?;
    bench_conv(
        "conv9x9_32to3_4x264x264",
        (4, 32, 264, 264),
        3,
        9,
        1,
        0,
        runs,
    )?;
    bench_conv(
        "conv3x3s2_32to64_4x258x258",
        (4, 32, 258, 258),
        64,
        3,
        2,
        0,
        runs,
    )?;
    bench_conv(
        "vgg_conv3x3_64to64_4x256x256",
        (4, 64, 256, 256),
        64,
        3,
        1,
        1,
        runs,
    )?;
    bench_conv(
        "vgg_conv3x3_256to256_4x64x64",
        (4, 256, 64, 64),
        256,
        3,
        1,
        1,
        runs,
    )?;

    let xs = filled(&[4, 128, 64, 64])?;
    let gamma = filled(&[128])?;
    let beta = filled(&[128])?;
    measure("instance_norm_4x128x64x64", 0.0, runs, || {
        instance_norm(&xs, &gamma, &beta, 1e-5, None)
    })?;
    let xs = filled(&[4, 64, 256, 256])?;
    measure("max_pool2x2_4x64x256x256", 0.0, runs, || max_pool2x2(&xs))?;
    let xs = filled(&[4, 64, 128, 128])?;
    measure("upsample2x_4x64x128x128", 0.0, runs, || {
        faststyle_ops::upsample_nearest2x(&xs)
    })?;
    let xs = filled(&[4, 32, 256, 256])?;
    measure("reflection_pad4_4x32x256x256", 0.0, runs, || {
        faststyle_ops::reflection_pad2d(&xs, 4)
    })?;
    let xs = filled(&[4, 256, 64, 64])?;
    measure(
        "gram_4x256x64x64",
        2.0 * (4 * 256 * 256 * 64 * 64) as f64 / 1e9,
        runs,
        || faststyle_ops::gram(&xs),
    )
}

/// Convolution GFLOP of one transformer forward pass on a `(1, 3, h, w)` image, `h`, `w`
/// multiples of 4.
fn transformer_gflop(h: usize, w: usize) -> f64 {
    let (h2, w2, h4, w4) = (h / 2, w / 2, h / 4, w / 4);
    conv_gflop(1, 3, 32, 9, (h, w))
        + conv_gflop(1, 32, 64, 3, (h2, w2))
        + conv_gflop(1, 64, 128, 3, (h4, w4))
        + 10.0 * conv_gflop(1, 128, 128, 3, (h4, w4))
        + conv_gflop(1, 128, 64, 3, (h2, w2))
        + conv_gflop(1, 64, 32, 3, (h, w))
        + conv_gflop(1, 32, 3, 9, (h, w))
}

fn bench_apply(runs: usize, weights: &PathBuf) -> anyhow::Result<()> {
    bench_apply_with(runs, &load_transformer(weights)?)
}

fn load_transformer(weights: &PathBuf) -> anyhow::Result<TransformerNet> {
    // SAFETY: the file is only read, and not expected to change while mapped.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &Device::Cpu) }
        .with_context(|| format!("loading {}", weights.display()))?;
    Ok(TransformerNet::new(vb)?)
}

fn bench_apply_with(runs: usize, net: &TransformerNet) -> anyhow::Result<()> {
    for size in [256, 1024] {
        let xs = (filled(&[1, 3, size, size])? * 127.0)? + 128.0;
        let xs = xs?;
        measure(
            &format!("transformer_fwd_1x3x{size}x{size}"),
            transformer_gflop(size, size),
            runs,
            || net.forward(&xs),
        )?;
    }
    Ok(())
}

/// Convolution GFLOP of VGG16 up to `relu4_3` on a `(1, 3, h, w)` image.
fn vgg_gflop(h: usize, w: usize) -> f64 {
    let blocks: [(usize, &[usize]); 4] = [
        (1, &[3, 64, 64]),
        (2, &[64, 128, 128]),
        (4, &[128, 256, 256, 256]),
        (8, &[256, 512, 512, 512]),
    ];
    blocks
        .iter()
        .map(|(scale, channels)| {
            channels
                .windows(2)
                .map(|c| conv_gflop(1, c[0], c[1], 3, (h / scale, w / scale)))
                .sum::<f64>()
        })
        .sum()
}

/// Runs the real trainer (`faststyle train`'s code, writing no files) for a warm-up step and
/// `runs` timed steps at batch 4, 256x256.
fn bench_train(runs: usize, style: &std::path::Path, data: &std::path::Path) -> anyhow::Result<()> {
    use faststyle_train::{objective::perceptual_trainer, TrainOptions, Vgg16};
    let device = Device::Cpu;
    let vgg = Vgg16::load_or_fetch(None, &device, &mut |_| {})?;
    let options = TrainOptions {
        style_image: style.to_owned(),
        data: data.to_owned(),
        ..Default::default()
    };
    let (batch, size) = (options.batch_size, options.image_size as usize);
    let mut trainer = perceptual_trainer(options, vgg, &device, std::sync::Arc::new(|_| {}), None)?;
    // Forward, backward (input and weight gradients) of the transformer; VGG16 forward on the
    // outputs and the photos, backward (input gradients only) on the outputs.
    let gflop = batch as f64 * (3.0 * transformer_gflop(size, size) + 3.0 * vgg_gflop(size, size));
    trainer.step()?;
    let mut seconds = Vec::with_capacity(runs);
    let mut waits = Vec::with_capacity(runs);
    for _ in 0..runs {
        let report = trainer.step()?;
        seconds.push(report.compute_seconds + report.wait_seconds);
        waits.push(report.wait_seconds);
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    let rate = gflop / median;
    println!(
        "{:<34} {:>10.2} {rate:>9.1} {:>7.0}%",
        format!("train_step_{batch}x3x{size}x{size}"),
        median * 1e3,
        100.0 * rate / PEAK_GFLOPS
    );
    println!("images per second: {:.2}", batch as f64 / median);
    println!(
        "data wait per step (total over runs): {:.3} s",
        waits.iter().sum::<f64>()
    );
    if let Some(peak) = peak_memory_mib() {
        println!("peak memory: {peak:.0} MiB");
    }
    Ok(())
}

/// The process's peak resident memory (`VmHWM`), on Linux.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
