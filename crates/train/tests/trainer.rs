//! The trainer's machinery on tiny problems: exact resume, a falling loss, unreadable photos,
//! non-finite losses, and checkpoints that load for inference. The objective here is a simple
//! pixel loss so these tests need no VGG16 weights; `perceptual.rs` trains with the real loss.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle_core::{Device, Module, Tensor};
use faststyle_net::{load_checkpoint, CheckpointMeta};
use faststyle_train::data::{BatchSource, BatchSpec, Cursor, Dataset, SkipHook, Skipped};
use faststyle_train::state::{load_state, state_path};
use faststyle_train::{Losses, Objective, TrainError, TrainOptions, TrainResult, Trainer};

/// Makes the output a darker, shifted copy of the photo: learnable in a few dozen steps.
struct PixelObjective {
    /// Returns NaN on this call (1-based), to test divergence handling.
    nan_on_call: Option<usize>,
    calls: Cell<usize>,
}

impl PixelObjective {
    fn new() -> Box<Self> {
        Box::new(Self {
            nan_on_call: None,
            calls: Cell::new(0),
        })
    }
}

impl Objective for PixelObjective {
    fn evaluate(&self, output: &Tensor, content: &Tensor) -> TrainResult<(Tensor, Losses)> {
        self.calls.set(self.calls.get() + 1);
        let target = ((content * 0.5)? + 40.0)?;
        let mut loss = (output - target)?.sqr()?.mean_all()?;
        if self.nan_on_call == Some(self.calls.get()) {
            loss = (loss * f64::NAN)?;
        }
        let value = loss.to_scalar::<f32>()? as f64;
        let losses = Losses {
            content: value,
            total: value,
            ..Losses::default()
        };
        Ok((loss, losses))
    }
}

/// A fresh folder under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faststyle-trainer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `n` small non-square photos with different patterns into `dir`.
fn write_photos(dir: &Path, n: u32) {
    for i in 0..n {
        let img = image::RgbImage::from_fn(48 + 8 * i, 40, |x, y| {
            image::Rgb([
                (x * 5 + i * 40) as u8,
                (y * 6) as u8,
                ((x + y) * 3 + i * 17) as u8,
            ])
        });
        img.save(dir.join(format!("photo{i}.png"))).unwrap();
    }
}

fn tiny_options(data: &Path) -> TrainOptions {
    TrainOptions {
        data: data.to_owned(),
        image_size: 16,
        batch_size: 2,
        steps: 6,
        lr: 1e-2,
        seed: 7,
        ..TrainOptions::default()
    }
}

fn quiet() -> SkipHook {
    Arc::new(|_: &Skipped| {})
}

fn trainer(options: &TrainOptions, objective: Box<dyn Objective>) -> Trainer {
    let dataset = Dataset::open(&options.data).unwrap();
    Trainer::new(options.clone(), dataset, objective, &Device::Cpu, quiet()).unwrap()
}

fn max_weight_difference(a: &Trainer, b: &Trainer) -> f32 {
    let (wa, wb) = (a.weights().unwrap(), b.weights().unwrap());
    assert_eq!(wa.len(), wb.len());
    wa.iter()
        .map(|(name, t)| {
            let diff = (t - &wb[name]).unwrap().abs().unwrap();
            diff.max_all().unwrap().to_scalar::<f32>().unwrap()
        })
        .fold(0.0, f32::max)
}

#[test]
fn interrupted_and_resumed_run_ends_with_the_same_weights() {
    let dir = temp_dir("resume");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    write_photos(&dir.join("data"), 4);
    let options = tiny_options(&dir.join("data"));

    let mut straight = trainer(&options, PixelObjective::new());
    for _ in 0..6 {
        straight.step().unwrap();
    }

    // Three steps, save, drop everything; then a new trainer from the files alone.
    let checkpoint = dir.join("run.safetensors");
    let mut first = trainer(&options, PixelObjective::new());
    for _ in 0..3 {
        first.step().unwrap();
    }
    first.save(&checkpoint, &CheckpointMeta::default()).unwrap();
    drop(first);
    let state = load_state(&state_path(&checkpoint), &Device::Cpu).unwrap();
    assert_eq!(state.meta.step, 3);
    // Batches of 2 from 4 photos: step 3 ends half-way through the second epoch.
    assert_eq!(
        state.meta.cursor,
        Cursor {
            epoch: 1,
            position: 2
        }
    );
    let dataset = Dataset::open(&options.data).unwrap();
    let objective = PixelObjective::new();
    let mut resumed =
        Trainer::resume(options, dataset, objective, &Device::Cpu, quiet(), state).unwrap();
    assert_eq!(resumed.steps_done(), 3);
    for _ in 0..3 {
        resumed.step().unwrap();
    }
    assert_eq!(resumed.steps_done(), 6);
    let diff = max_weight_difference(&straight, &resumed);
    assert!(diff <= 1e-6, "weights differ by {diff}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn loss_falls_on_a_tiny_problem() {
    let dir = temp_dir("falls");
    write_photos(&dir, 4);
    let options = TrainOptions {
        steps: 20,
        lr: 3e-2,
        ..tiny_options(&dir)
    };
    let mut trainer = trainer(&options, PixelObjective::new());
    let losses: Vec<f64> = (0..20)
        .map(|_| trainer.step().unwrap().losses.total)
        .collect();
    let first = losses[..4].iter().sum::<f64>() / 4.0;
    let last = losses[16..].iter().sum::<f64>() / 4.0;
    assert!(last < 0.5 * first, "loss went from {first} to {last}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unreadable_photos_are_skipped_once_each_and_counted() {
    let dir = temp_dir("bad");
    write_photos(&dir, 3);
    std::fs::write(dir.join("garbage.jpg"), b"not a jpeg at all").unwrap();
    let png = std::fs::read(dir.join("photo0.png")).unwrap();
    std::fs::write(dir.join("truncated.png"), &png[..png.len() / 3]).unwrap();
    let heard = Arc::new(Mutex::new(Vec::<PathBuf>::new()));
    let hook: SkipHook = {
        let heard = heard.clone();
        Arc::new(move |s: &Skipped| heard.lock().unwrap().push(s.path.clone()))
    };
    let options = tiny_options(&dir);
    let dataset = Dataset::open(&dir).unwrap();
    assert_eq!(dataset.len(), 5);
    let mut trainer =
        Trainer::new(options, dataset, PixelObjective::new(), &Device::Cpu, hook).unwrap();
    // Six steps of 2 readable photos go through the files 4 times; each bad one is reported
    // once.
    for _ in 0..6 {
        let report = trainer.step().unwrap();
        assert_eq!(report.images, 2);
    }
    assert_eq!(trainer.skipped_files(), 2);
    let mut heard = heard.lock().unwrap().clone();
    heard.sort();
    assert_eq!(heard, [dir.join("garbage.jpg"), dir.join("truncated.png")]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_folder_of_only_unreadable_files_is_an_error_not_a_hang() {
    let dir = temp_dir("allbad");
    std::fs::write(dir.join("a.jpg"), b"nope").unwrap();
    let spec = BatchSpec {
        batch_size: 2,
        image_size: 16,
        seed: 1,
    };
    let dataset = Arc::new(Dataset::open(&dir).unwrap());
    let mut source = BatchSource::new(dataset, spec, Cursor::default(), quiet());
    let err = source.next_batch().unwrap_err();
    assert!(
        matches!(err, TrainError::AllUnreadable { count: 1, .. }),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_non_finite_loss_stops_before_changing_the_weights() {
    let dir = temp_dir("nan");
    write_photos(&dir, 4);
    let objective = Box::new(PixelObjective {
        nan_on_call: Some(3),
        calls: Cell::new(0),
    });
    let options = tiny_options(&dir);
    let mut trainer = trainer(&options, objective);
    trainer.step().unwrap();
    trainer.step().unwrap();
    let before = trainer.weights().unwrap();
    let err = trainer.step().unwrap_err();
    assert!(
        matches!(err, TrainError::NonFinite { step: 3, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("step 3"), "{err}");
    assert_eq!(trainer.steps_done(), 2);
    for (name, t) in trainer.weights().unwrap() {
        let same = (t - &before[&name])
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert_eq!(same.to_scalar::<f32>().unwrap(), 0.0, "{name} changed");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_saved_checkpoint_loads_for_inference_with_its_options() {
    let dir = temp_dir("ckpt");
    write_photos(&dir, 2);
    let options = tiny_options(&dir);
    let mut trainer = trainer(&options, PixelObjective::new());
    trainer.step().unwrap();
    let path = dir.join("style.safetensors");
    let meta = CheckpointMeta {
        code_version: "test".into(),
        ..Default::default()
    };
    trainer.save(&path, &meta).unwrap();
    let loaded = load_checkpoint(&path, &Device::Cpu).unwrap();
    let meta = loaded.meta.unwrap();
    assert_eq!(meta.training["image_size"], 16);
    assert_eq!(meta.training["steps_done"], 1);
    let photo = Tensor::rand(0f32, 255f32, (1, 3, 36, 44), &Device::Cpu).unwrap();
    let ours = trainer.stylize(&photo).unwrap();
    let theirs = loaded
        .net
        .forward(&photo)
        .unwrap()
        .clamp(0f32, 255f32)
        .unwrap();
    let diff = (ours - theirs).unwrap().abs().unwrap().max_all().unwrap();
    assert!(diff.to_scalar::<f32>().unwrap() < 1e-3);
    std::fs::remove_dir_all(&dir).unwrap();
}
