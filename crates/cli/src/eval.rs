//! `faststyle eval`: how good a trained style is, against the slow method on equal terms.
//!
//! For every photo, at one size, it scores the fast network's output and `optimize`'s image
//! after each number of L-BFGS iterations asked for, all with the network's own training loss
//! (its layers and weights, its painting). Lower is better; the mean over the photos closes
//! the report.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use faststyle_infer::catalog::Catalog;
use faststyle_infer::Tiling;
use faststyle_net::{load_checkpoint, CheckpointMeta};
use faststyle_train::download::sha256_hex;
use faststyle_train::photo::{load_image, Resize};
use faststyle_train::quality::{fast_network_loss, slow_method_losses};
use faststyle_train::{LossValues, PerceptualLoss, TrainOptions};
use image::RgbImage;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::optimize::images::{decode, fit_long_side, to_planar};

#[derive(clap::Args)]
pub struct EvalArgs {
    /// The trained style: a name from `faststyle styles` or a checkpoint path.
    #[arg(long)]
    pub style: String,
    /// Photos to score: files, or folders whose images are all used.
    #[arg(long, required = true, num_args = 1..)]
    pub content: Vec<PathBuf>,
    /// Long side the photos are scaled to, pixels (up or down; 32 to 8192).
    #[arg(long, default_value_t = 512)]
    pub size: u32,
    /// L-BFGS iteration counts to score the slow method at (one run per photo, as long as the
    /// largest: about 1.2 s an iteration at 512x384 on two cores); `0` alone scores only the
    /// fast network.
    #[arg(long, value_delimiter = ',', default_value = "10,50,100,300")]
    pub iterations: Vec<usize>,
    /// The painting the style was trained on [default: the image beside the checkpoint,
    /// `<name>.jpg`, or the training run's style image, whichever matches the checkpoint's
    /// recorded sha256].
    #[arg(long)]
    pub painting: Option<PathBuf>,
    /// VGG16 weights (torchvision names, safetensors) instead of the cached download.
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    /// Print JSON lines (one per photo and method, then the means) instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// The largest `--size`, as for `optimize`: beyond it one L-BFGS iteration needs tens of GB.
const MAX_SIZE: u32 = 8192;

/// One method's score on one photo, its terms weighted.
struct Score {
    photo: String,
    method: String,
    values: LossValues,
}

pub fn run(args: EvalArgs) -> Result<ExitCode> {
    if args.size < 32 {
        bail!("--size {} is too small: use at least 32 pixels", args.size);
    }
    if args.size > MAX_SIZE {
        bail!(
            "--size {} is too large: at most {MAX_SIZE} pixels",
            args.size
        );
    }
    let mut marks: Vec<usize> = args.iterations.iter().copied().filter(|&n| n > 0).collect();
    marks.sort_unstable();
    marks.dedup();
    let checkpoint_path = Catalog::discover()?.resolve(&args.style)?;
    let photos = photo_files(&args.content)?;
    let device = faststyle_train::trainer::device();
    let checkpoint = load_checkpoint(&checkpoint_path, &device)?;
    let Some(meta) = checkpoint.meta else {
        bail!(
            "{}: has no training metadata, so its loss weights and painting are unknown",
            checkpoint_path.display()
        );
    };
    let options: TrainOptions = serde_json::from_value(meta.training.clone())
        .with_context(|| format!("{}: unreadable training options", checkpoint_path.display()))?;
    let painting = find_painting(&args, &checkpoint_path, &meta, &options)?;
    // Exactly as the trainer loaded it, so the Gram targets are the ones it trained against.
    let resize = match options.style_size {
        Some(side) => Resize::LongSide(side),
        None => Resize::AsIs,
    };
    let style = load_image(&painting, resize, &device)?;
    let vgg = crate::vgg_loader::load_vgg(args.vgg.as_deref(), &device)?;
    let loss = PerceptualLoss::new(vgg, options.loss_config()?, &style)?;

    let per_photo = 1 + marks.last().copied().unwrap_or(0) as u64;
    let bar = progress_bar(photos.len() as u64 * per_photo);
    let mut scores = Vec::new();
    for (i, path) in photos.iter().enumerate() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        bar.set_message(name.clone());
        let (photo, rgb) = load_photo(path, args.size, &device)?;
        let done = i as u64 * per_photo;
        let painted =
            faststyle_infer::forward::run(&checkpoint.net, &rgb, &Tiling::default(), &device)?;
        let painted = Tensor::from_vec(painted, photo.shape(), &device)?;
        let fast = fast_network_loss(&loss, &painted, &photo)?;
        bar.set_position(done + 1);
        let mut row = vec![("fast network".to_owned(), fast)];
        let slow = slow_method_losses(&loss, &photo, &marks, &mut |it| {
            bar.set_position(done + 1 + it as u64)
        })?;
        row.extend(slow.into_iter().map(|(n, v)| (format!("L-BFGS {n}"), v)));
        for (method, values) in row {
            let values = weighted(&values, &options);
            if args.json {
                bar.suspend(|| print_json(&name, &method, &values));
            }
            scores.push(Score {
                photo: name.clone(),
                method,
                values,
            });
        }
    }
    bar.finish_and_clear();
    let means = means(&scores);
    if args.json {
        for (method, values) in &means {
            print_json("mean", method, values);
        }
    } else {
        print!(
            "{}",
            report(&meta, &options, &args, photos.len(), &scores, &means)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The photos of `inputs`: files as given, folders' images sorted by name.
fn photo_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    const IMAGE_EXTENSIONS: [&str; 7] = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"];
    let mut photos = Vec::new();
    for input in inputs {
        if input.is_file() {
            photos.push(input.clone());
        } else if input.is_dir() {
            let entries = std::fs::read_dir(input)
                .with_context(|| format!("{}: cannot list", input.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            if found.is_empty() {
                bail!("{}: no images in this folder", input.display());
            }
            found.sort();
            photos.extend(found);
        } else {
            bail!("{}: no such file or folder", input.display());
        }
    }
    Ok(photos)
}

/// The painting whose Gram matrices the network was trained against: `--painting`, or the first
/// candidate whose sha256 is the one recorded in the checkpoint.
fn find_painting(
    args: &EvalArgs,
    checkpoint: &Path,
    meta: &CheckpointMeta,
    options: &TrainOptions,
) -> Result<PathBuf> {
    if let Some(path) = &args.painting {
        if !path.is_file() {
            bail!("{}: no such file", path.display());
        }
        let bytes =
            std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let recorded = &meta.style.image_sha256;
        if !recorded.is_empty() && sha256_hex(&bytes) != *recorded {
            eprintln!(
                "faststyle: warning: {} is not the image {} was trained on (sha256 differs); \
                 its style loss is measured against this one",
                path.display(),
                checkpoint.display()
            );
        }
        return Ok(path.clone());
    }
    let beside = ["jpg", "jpeg", "png", "webp"]
        .into_iter()
        .map(|ext| checkpoint.with_extension(ext));
    let candidates: Vec<PathBuf> = beside
        .chain(std::iter::once(options.style_image.clone()))
        .filter(|p| p.is_file())
        .collect();
    for candidate in &candidates {
        let bytes = std::fs::read(candidate)
            .with_context(|| format!("{}: cannot read", candidate.display()))?;
        if meta.style.image_sha256.is_empty() || sha256_hex(&bytes) == meta.style.image_sha256 {
            return Ok(candidate.clone());
        }
    }
    bail!(
        "{}: cannot find the painting it was trained on (looked for {}); give it with --painting",
        checkpoint.display(),
        match candidates.is_empty() {
            true => format!("{}.jpg beside it", checkpoint.with_extension("").display()),
            false => "files whose sha256 matches the checkpoint's".to_owned(),
        }
    )
}

/// The photo scaled to `size` on its long side: as the `(1, 3, h, w)` tensor the losses take,
/// and as the RGB image the fast network's inference path takes.
fn load_photo(path: &Path, size: u32, device: &Device) -> Result<(Tensor, RgbImage)> {
    let rgb = decode(path)?;
    let (w, h) = fit_long_side(rgb.width(), rgb.height(), size);
    let rgb = image::imageops::resize(&rgb, w, h, image::imageops::FilterType::Lanczos3);
    let planar = to_planar(&rgb, w, h);
    let tensor = Tensor::from_vec(planar.data, (1, 3, planar.height, planar.width), device)?;
    Ok((tensor, rgb))
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
    if let Ok(style) = ProgressStyle::with_template("{bar:25} {pos}/{len} {elapsed} {msg}") {
        bar.set_style(style);
    }
    bar
}

/// The mean of each method's terms over the photos, in the order the methods first appear.
fn means(scores: &[Score]) -> Vec<(String, LossValues)> {
    let mut methods: Vec<String> = Vec::new();
    for s in scores {
        if !methods.contains(&s.method) {
            methods.push(s.method.clone());
        }
    }
    methods
        .into_iter()
        .map(|method| {
            let of: Vec<&LossValues> = scores
                .iter()
                .filter(|s| s.method == method)
                .map(|s| &s.values)
                .collect();
            let n = of.len().max(1) as f64;
            let mean = |f: fn(&LossValues) -> f64| of.iter().map(|v| f(v)).sum::<f64>() / n;
            let values = LossValues {
                content: mean(|v| v.content),
                style: mean(|v| v.style),
                tv: mean(|v| v.tv),
                total: mean(|v| v.total),
            };
            (method, values)
        })
        .collect()
}

/// `v` with each term multiplied by its training weight, so the terms add up to the total.
fn weighted(v: &LossValues, options: &TrainOptions) -> LossValues {
    LossValues {
        content: v.content * options.content_weight,
        style: v.style * options.style_weight,
        tv: v.tv * options.tv_weight,
        total: v.total,
    }
}

fn print_json(photo: &str, method: &str, v: &LossValues) {
    let line = serde_json::json!({
        "photo": photo,
        "method": method,
        "content": v.content,
        "style": v.style,
        "tv": v.tv,
        "total": v.total,
    });
    println!("{line}");
}

/// Markdown tables: every photo and method, then the means with each method's total against
/// the fast network's. Terms are weighted, so content + style (+ tv) = total.
fn report(
    meta: &CheckpointMeta,
    options: &TrainOptions,
    args: &EvalArgs,
    photos: usize,
    scores: &[Score],
    means: &[(String, LossValues)],
) -> String {
    let w = (
        options.content_weight,
        options.style_weight,
        options.tv_weight,
    );
    let terms = |v: &LossValues| (v.content, v.style, v.tv, v.total);
    let mut out = format!(
        "style {}, {photos} photo{} at {} px long side; losses weighted as in training \
         (content {:e} on {}, style {:e} on {}, tv {:e}); images clamped to 0..255\n\n",
        meta.style.name,
        if photos == 1 { "" } else { "s" },
        args.size,
        w.0,
        options.content_layer,
        w.1,
        options.style_layers,
        w.2,
    );
    out += "| photo | method | content | style | tv | total |\n|---|---|---|---|---|---|\n";
    for s in scores {
        let (c, st, tv, t) = terms(&s.values);
        out += &format!(
            "| {} | {} | {c:.4e} | {st:.4e} | {tv:.3e} | {t:.4e} |\n",
            s.photo, s.method
        );
    }
    let fast_total = means.first().map(|(_, v)| v.total).unwrap_or(f64::NAN);
    out += "\nmean over the photos:\n\n| method | content | style | tv | total | fast network / method |\n|---|---|---|---|---|---|\n";
    for (method, v) in means {
        let (c, st, tv, t) = terms(v);
        out += &format!(
            "| {method} | {c:.4e} | {st:.4e} | {tv:.3e} | {t:.4e} | {:.2} |\n",
            fast_total / t
        );
    }
    out
}
