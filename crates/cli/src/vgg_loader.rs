//! Loading the frozen VGG16 for the commands that need it (`train`, `optimize`, `eval`, `bench`).

use std::io::IsTerminal;
use std::path::Path;

use candle_core::Device;
use faststyle_train::{DownloadProgress, Vgg16};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `explicit` (`--vgg`), or the cached weights, downloaded on first use with a progress bar on
/// stderr when it is a terminal.
pub fn load_vgg(explicit: Option<&Path>, device: &Device) -> anyhow::Result<Vgg16> {
    let interactive = std::io::stderr().is_terminal();
    let bar = ProgressBar::hidden();
    let mut progress = |p: DownloadProgress| {
        if bar.is_hidden() && interactive {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "VGG16 weights (once) {bytes}/{total_bytes} [{bar:24}] {bytes_per_sec}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
        }
        bar.set_length(p.total.unwrap_or(p.received));
        bar.set_position(p.received);
    };
    let vgg = Vgg16::load_or_fetch(explicit, device, &mut progress)?;
    bar.finish_and_clear();
    Ok(vgg)
}
