//! `faststyle bench methods`: Table 1 of Johnson et al. 2016 on this machine, the fast
//! network's one forward pass against L-BFGS runs of the slow method, at 256, 512 and 1024.
//!
//! An L-BFGS iteration costs the same at every iteration (one VGG16 forward and backward pass
//! and a history update of fixed length), so the runs of 100, 300 and 500 iterations are
//! extrapolated from the median of a few measured ones; the output says so.

use candle_core::{Device, Module};
use faststyle_train::gatys::{GatysObjective, Lbfgs, LbfgsConfig, Optimization, PixelOptimizer};
use faststyle_train::photo::{load_image, Resize};
use faststyle_train::{LossConfig, PerceptualLoss, Vgg16};

use super::{filled, median_seconds, peak_memory_mib};

/// L-BFGS run lengths of the paper's table.
const RUNS: [usize; 3] = [100, 300, 500];

pub fn bench_methods(
    runs: usize,
    net: &faststyle_net::TransformerNet,
    style: &std::path::Path,
) -> anyhow::Result<()> {
    let device = Device::Cpu;
    let vgg = Vgg16::load_or_fetch(None, &device, &mut |_| {})?;
    let style = load_image(style, Resize::AsIs, &device)?;
    let loss = PerceptualLoss::new(vgg, LossConfig::default(), &style)?;
    println!(
        "\n{:>6} {:>10} {:>12} {}",
        "size",
        "fast s",
        "L-BFGS s/it",
        RUNS.map(|n| format!("{:>10} {:>9}", format!("{n} it s"), "speed-up"))
            .join(" ")
    );
    for size in [256, 512, 1024] {
        let photo = ((filled(&[1, 3, size, size])? * 127.0)? + 128.0)?;
        let fast = median_seconds(runs, || {
            net.forward(&photo)?;
            Ok(())
        })?;
        let objective = GatysObjective::new(loss.clone(), &photo)?;
        let x0 = photo.flatten_all()?.to_vec1::<f32>()?;
        let optimizer = PixelOptimizer::Lbfgs(Lbfgs::new(LbfgsConfig::default()));
        let mut run = Optimization::new(objective, optimizer, x0);
        let per_iteration = median_seconds(runs, || {
            run.step()?;
            Ok(())
        })?;
        let columns = RUNS.map(|n| {
            let slow = per_iteration * n as f64;
            format!("{slow:>10.1} {:>8.0}x", slow / fast)
        });
        println!(
            "{size:>6} {fast:>10.3} {per_iteration:>12.3} {}",
            columns.join(" ")
        );
    }
    println!(
        "L-BFGS runs extrapolated from the median of {runs} measured iterations (after one \
         warm-up) per size"
    );
    if let Some(peak) = peak_memory_mib() {
        println!("peak memory: {peak:.0} MiB (the 1024x1024 L-BFGS iterations)");
    }
    Ok(())
}
