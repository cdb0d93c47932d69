//! `faststyle optimize`: repaint one photo by optimising its pixels against the VGG16 losses
//! (Gatys et al. 2015), with L-BFGS by default.
//!
//! Everything the user can get wrong (paths, output format, an existing output, layer names,
//! weights) is checked before the loss network is loaded; the optimisation itself runs in
//! [`faststyle_train::gatys`], and this module owns the progress bar, intermediate saves and
//! Ctrl-C.

pub(crate) mod images;
mod session;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::ValueEnum;
use faststyle_train::{LossConfig, LossWeights};

/// The subcommand's arguments, boxed: they are many, and `main`'s `Command` enum should not be
/// as large as its largest variant.
#[derive(clap::Args)]
pub struct OptimizeArgs {
    #[command(flatten)]
    options: Box<Options>,
}

#[derive(clap::Args)]
struct Options {
    /// The photo to repaint.
    #[arg(long, value_name = "IMAGE")]
    content: PathBuf,
    /// A painting, optionally with a blend weight: `--style a.jpg:0.7 --style b.jpg:0.3`
    /// (repeat for several; weights are normalised to sum to 1, default equal).
    #[arg(long, value_name = "IMAGE[:WEIGHT]", required = true)]
    style: Vec<String>,
    /// Where to write the result (.png, .jpg, .webp, .bmp or .tif).
    #[arg(short, long, value_name = "IMAGE")]
    output: PathBuf,
    /// Optimiser iterations (each one VGG16 forward and backward pass).
    #[arg(long, default_value_t = 500)]
    iterations: usize,
    /// Longer side of the result in pixels; the photo's aspect ratio is kept.
    #[arg(long, default_value_t = 512)]
    size: u32,
    /// Longer side the paintings are resized to [default: --size].
    #[arg(long)]
    style_size: Option<u32>,
    /// The starting image: the photo itself, or white noise.
    #[arg(long, value_enum, default_value_t = Init::Content)]
    init: Init,
    /// How the pixels are optimised: L-BFGS (the paper's method) or Adam.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Lbfgs)]
    optimizer: OptimizerKind,
    /// Step length [default: 1 for L-BFGS, 10 (pixel values) for Adam].
    #[arg(long)]
    lr: Option<f64>,
    /// Weight of the content loss (MSE of the content layer's activations).
    #[arg(long, default_value_t = LossWeights::default().content)]
    content_weight: f64,
    /// Weight of the style loss (MSE of Gram matrices, summed over the style layers).
    #[arg(long, default_value_t = LossWeights::default().style)]
    style_weight: f64,
    /// Weight of the total variation (sum of neighbouring pixel differences, 0..255 units).
    #[arg(long, default_value_t = LossWeights::default().tv)]
    tv_weight: f64,
    /// The VGG16 layer whose activations the content loss keeps.
    #[arg(long, default_value = "relu2_2")]
    content_layer: String,
    /// The VGG16 layers whose Gram matrices the style loss matches, each with an optional weight.
    #[arg(long, default_value = "relu1_2,relu2_2,relu3_3,relu4_3")]
    style_layers: String,
    /// Keep the photo's colours: transfer only the luminance of the result.
    #[arg(long)]
    preserve_color: bool,
    /// Seed of the noise start.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also write the image every N iterations, as OUTPUT-STEM-ITERATION.EXT.
    #[arg(long, value_name = "N")]
    save_every: Option<usize>,
    /// A torchvision VGG16 safetensors file [default: downloaded once and cached].
    #[arg(long, value_name = "PATH")]
    vgg: Option<PathBuf>,
    /// Overwrite the output (and intermediate images) if they exist.
    #[arg(long)]
    force: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Init {
    Content,
    Noise,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerKind {
    Lbfgs,
    Adam,
}

/// One painting and its share of the blended style.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleSpec {
    pub path: PathBuf,
    pub weight: f64,
}

/// The arguments, checked: everything [`session::run`] needs, nothing left to fail on input.
pub struct Plan {
    pub content: images::Planar,
    pub styles: Vec<(images::Planar, f64)>,
    pub output: PathBuf,
    pub format: image::ImageFormat,
    pub iterations: usize,
    pub init: Init,
    pub optimizer: OptimizerKind,
    pub lr: f64,
    pub loss: LossConfig,
    pub preserve_color: bool,
    pub seed: u64,
    /// The intermediate images: after which iteration, and where.
    pub snapshots: Vec<(usize, PathBuf)>,
    pub vgg: Option<PathBuf>,
}

pub fn run(args: OptimizeArgs) -> Result<ExitCode> {
    let plan = plan(*args.options)?;
    session::run(plan)
}

/// Validates the arguments and reads the images, failing before any slow work.
fn plan(args: Options) -> Result<Plan> {
    let format = images::output_format(&args.output)?;
    let mut snapshots = Vec::new();
    if let Some(every) = args.save_every {
        if every == 0 {
            bail!("--save-every must be at least 1");
        }
        for it in (every..args.iterations).step_by(every) {
            snapshots.push((it, snapshot_path(&args.output, it)));
        }
    }
    for path in std::iter::once(&args.output).chain(snapshots.iter().map(|(_, p)| p)) {
        check_writable(path, args.force)?;
    }
    if args.iterations == 0 {
        bail!("--iterations must be at least 1");
    }
    if !(16..=8192).contains(&args.size) {
        bail!(
            "--size must be between 16 and 8192 pixels, not {}",
            args.size
        );
    }
    let style_size = args.style_size.unwrap_or(args.size);
    if !(16..=8192).contains(&style_size) {
        bail!("--style-size must be between 16 and 8192 pixels, not {style_size}");
    }
    let lr = args.lr.unwrap_or(match args.optimizer {
        OptimizerKind::Lbfgs => 1.0,
        OptimizerKind::Adam => 10.0,
    });
    if !(lr.is_finite() && lr > 0.0) {
        bail!("--lr must be a positive number, not {lr}");
    }
    let weights = LossWeights {
        content: args.content_weight,
        style: args.style_weight,
        tv: args.tv_weight,
    };
    let loss = LossConfig::from_names(&args.content_layer, &args.style_layers, weights)?;
    loss.validate()?;
    let specs = parse_styles(&args.style)?;

    let photo = images::decode(&args.content)?;
    let (w, h) = images::fit_long_side(photo.width(), photo.height(), args.size);
    if w.min(h) < 16 {
        bail!(
            "{}: at --size {} the image would be {w}x{h}; VGG16 needs at least 16 pixels a side",
            args.content.display(),
            args.size
        );
    }
    let content = images::to_planar(&photo, w, h);
    let mut styles = Vec::with_capacity(specs.len());
    for spec in &specs {
        let painting = images::decode(&spec.path)?;
        let (sw, sh) = images::fit_long_side(painting.width(), painting.height(), style_size);
        if sw.min(sh) < 16 {
            bail!(
                "{}: at --style-size {style_size} the image would be {sw}x{sh}; VGG16 needs at \
                 least 16 pixels a side",
                spec.path.display()
            );
        }
        styles.push((images::to_planar(&painting, sw, sh), spec.weight));
    }
    Ok(Plan {
        content,
        styles,
        output: args.output,
        format,
        iterations: args.iterations,
        init: args.init,
        optimizer: args.optimizer,
        lr,
        loss,
        preserve_color: args.preserve_color,
        seed: args.seed,
        snapshots,
        vgg: args.vgg,
    })
}

/// Refuses to overwrite without `--force`, and a folder that does not exist, before any work.
fn check_writable(path: &Path, force: bool) -> Result<()> {
    if path.is_dir() {
        bail!(
            "{}: is a folder, expected an image file name",
            path.display()
        );
    }
    if path.exists() && !force {
        bail!(
            "{}: already exists; pass --force to overwrite it",
            path.display()
        );
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = parent {
        if !dir.is_dir() {
            bail!(
                "{}: the folder {} does not exist",
                path.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// `out.png` at iteration 50 → `out-0050.png`... zero-padded so that the files sort.
fn snapshot_path(output: &Path, iteration: usize) -> PathBuf {
    let stem = output
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let ext = output
        .extension()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    output.with_file_name(format!("{stem}-{iteration:04}.{ext}"))
}

/// Parses `--style` values: `path` or `path:weight`, weights normalised to sum to 1.
fn parse_styles(values: &[String]) -> Result<Vec<StyleSpec>> {
    let mut specs = Vec::with_capacity(values.len());
    for value in values {
        // A colon followed by a number is a weight; anything else belongs to the path.
        let weighted = value
            .rsplit_once(':')
            .filter(|(path, _)| !path.is_empty())
            .and_then(|(path, w)| Some((path, w.trim().parse::<f64>().ok()?)));
        let (path, weight) = weighted.unwrap_or((value.as_str(), 1.0));
        if !(weight.is_finite() && weight > 0.0) {
            bail!("--style {value}: the blend weight must be a positive number");
        }
        specs.push(StyleSpec {
            path: PathBuf::from(path),
            weight,
        });
    }
    let sum: f64 = specs.iter().map(|s| s.weight).sum();
    for spec in &mut specs {
        spec.weight /= sum;
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_weights_are_parsed_and_normalised() {
        let specs = parse_styles(&["a.jpg:0.7".into(), "dir/b.png:2.1".into()]).unwrap();
        assert_eq!(specs[0].path, PathBuf::from("a.jpg"));
        assert_eq!(specs[1].path, PathBuf::from("dir/b.png"));
        assert!((specs[0].weight - 0.25).abs() < 1e-12);
        assert!((specs[1].weight - 0.75).abs() < 1e-12);
    }

    #[test]
    fn a_style_without_weight_counts_as_one() {
        let specs = parse_styles(&["a.jpg".into(), "c:/x:y.jpg".into()]).unwrap();
        assert_eq!(specs[1].path, PathBuf::from("c:/x:y.jpg"));
        assert_eq!(specs[0].weight, 0.5);
    }

    #[test]
    fn bad_style_weights_are_refused() {
        assert!(parse_styles(&["a.jpg:0".into()]).is_err());
        assert!(parse_styles(&["a.jpg:-1".into()]).is_err());
        assert!(parse_styles(&["a.jpg:inf".into()]).is_err());
    }

    #[test]
    fn snapshots_sort_by_iteration() {
        assert_eq!(
            snapshot_path(Path::new("x/out.png"), 50),
            PathBuf::from("x/out-0050.png")
        );
    }
}
