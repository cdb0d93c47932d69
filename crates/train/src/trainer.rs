//! The training loop of Johnson et al. 2016: photos through the transformer, its unclamped
//! output through the loss, backward, one Adam step.
//!
//! [`Trainer::step`] does one step and writes nothing; saving ([`Trainer::save`]) and the
//! schedule of checkpoints, samples and logs belong to the caller, so `faststyle train` and
//! `faststyle bench train` drive the same code.
//!
//! A fresh network is initialised like PyTorch's defaults, from the run's seed: convolution
//! weights and biases uniform in `±1/sqrt(fan_in)` (`kaiming_uniform_(a=sqrt(5))`), instance
//! norm scales 1 and shifts 0.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use faststyle_net::{save_checkpoint, CheckpointMeta, TransformerNet};
use serde::Serialize;

use crate::adam::{Adam, AdamConfig};
use crate::data::{BatchSource, BatchSpec, Cursor, Dataset, Loader, SkipHook, Skipped};
use crate::options::TrainOptions;
use crate::rng::{self, Rng};
use crate::state::{save_state, state_path, StateMeta, TrainState, STATE_VERSION};
use crate::train_error::{TrainError, TrainResult};

/// Batches decoded ahead of the step that needs them: one being computed on, two waiting
/// covers the odd slow file without holding much memory (a 256x256 batch of 4 is 3 MB).
const PREFETCH: usize = 2;

/// The loss terms of one step, each already multiplied by its weight, so that they add up to
/// `total`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Losses {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    pub total: f64,
}

impl Losses {
    pub fn is_finite(&self) -> bool {
        [self.content, self.style, self.tv, self.total]
            .iter()
            .all(|v| v.is_finite())
    }
}

/// What a step minimises: the perceptual loss in a real run, something simpler in tests.
pub trait Objective {
    /// The loss of `output` for the photos `content`, both `(b, 3, h, w)`, 0..255: the scalar
    /// to differentiate, and its terms as numbers.
    fn evaluate(&self, output: &Tensor, content: &Tensor) -> TrainResult<(Tensor, Losses)>;
}

/// What one step did.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Steps done, this one included.
    pub step: u64,
    pub losses: Losses,
    /// Photos in the batch.
    pub images: usize,
    /// Seconds of the forward, backward and update.
    pub compute_seconds: f64,
    /// Seconds spent waiting for the data loader (zero when prefetching keeps up).
    pub wait_seconds: f64,
    /// Where the data stream stands after the step.
    pub cursor: Cursor,
}

/// A transformer being trained, its optimizer, its data and its objective.
pub struct Trainer {
    options: TrainOptions,
    device: Device,
    varmap: VarMap,
    net: TransformerNet,
    adam: Adam,
    objective: Box<dyn Objective>,
    loader: Loader,
    step: u64,
    cursor: Cursor,
    skipped: Arc<AtomicUsize>,
}

impl Trainer {
    /// A fresh run: weights initialised from `options.seed`, the data from its beginning.
    /// `on_skip` hears of every unreadable photo.
    pub fn new(
        options: TrainOptions,
        dataset: Dataset,
        objective: Box<dyn Objective>,
        device: &Device,
        on_skip: SkipHook,
    ) -> TrainResult<Self> {
        Self::start(options, dataset, objective, device, on_skip, None)
    }

    /// Continues the run saved in `state`, with `options` (normally the saved ones; a changed
    /// learning rate or step count applies from here on).
    pub fn resume(
        options: TrainOptions,
        dataset: Dataset,
        objective: Box<dyn Objective>,
        device: &Device,
        on_skip: SkipHook,
        state: TrainState,
    ) -> TrainResult<Self> {
        Self::start(options, dataset, objective, device, on_skip, Some(state))
    }

    fn start(
        options: TrainOptions,
        dataset: Dataset,
        objective: Box<dyn Objective>,
        device: &Device,
        on_skip: SkipHook,
        state: Option<TrainState>,
    ) -> TrainResult<Self> {
        options.validate()?;
        let varmap = VarMap::new();
        let net = TransformerNet::new(VarBuilder::from_varmap(&varmap, DType::F32, device))?;
        match &state {
            None => init_weights(&varmap, options.seed)?,
            Some(state) => restore_weights(&varmap, &state.weights, device)?,
        }
        let mut adam = Adam::new(named_vars(&varmap), adam_config(&options))?;
        let (step, cursor, skipped) = match &state {
            None => (0, Cursor::default(), 0),
            Some(state) => {
                adam.restore(&state.moments, state.meta.adam_steps)?;
                let meta = &state.meta;
                (meta.step, meta.cursor, meta.skipped_files)
            }
        };
        let skipped = Arc::new(AtomicUsize::new(skipped));
        let loader = start_loader(&options, dataset, cursor, &skipped, on_skip);
        Ok(Self {
            options,
            device: device.clone(),
            varmap,
            net,
            adam,
            objective,
            loader,
            step,
            cursor,
            skipped,
        })
    }

    pub fn options(&self) -> &TrainOptions {
        &self.options
    }

    /// Steps done so far.
    pub fn steps_done(&self) -> u64 {
        self.step
    }

    /// Photos skipped as unreadable so far (including those of batches still prefetched).
    pub fn skipped_files(&self) -> usize {
        self.skipped.load(Ordering::Relaxed)
    }

    /// One training step on the next batch. A non-finite loss returns
    /// [`TrainError::NonFinite`] before any weight changes.
    pub fn step(&mut self) -> TrainResult<StepReport> {
        let waiting = Instant::now();
        let batch = self.loader.next_batch()?;
        let wait_seconds = waiting.elapsed().as_secs_f64();
        let computing = Instant::now();
        let content = batch.images.to_device(&self.device)?;
        let output = self.net.forward(&content)?;
        let (loss, losses) = self.objective.evaluate(&output, &content)?;
        if !losses.is_finite() {
            return Err(TrainError::NonFinite {
                step: self.step + 1,
                terms: format!(
                    "content {}, style {}, tv {}",
                    losses.content, losses.style, losses.tv
                ),
            });
        }
        let grads = loss.backward()?;
        self.adam.step(&grads)?;
        self.step += 1;
        self.cursor = batch.next;
        Ok(StepReport {
            step: self.step,
            losses,
            images: content.dim(0)?,
            compute_seconds: computing.elapsed().as_secs_f64(),
            wait_seconds,
            cursor: self.cursor,
        })
    }

    /// The network's output for `image` `(1, 3, h, w)`, 0..255, `h` and `w` multiples of 4;
    /// clamped to 0..255 as an image.
    pub fn stylize(&self, image: &Tensor) -> TrainResult<Tensor> {
        let output = self.net.forward(&image.to_device(&self.device)?.detach())?;
        Ok(output.detach().clamp(0f32, 255f32)?)
    }

    /// The current weights by `state_dict` name (copies: training on does not change them).
    pub fn weights(&self) -> TrainResult<HashMap<String, Tensor>> {
        let vars = self.varmap.data().lock().expect("no panics while locked");
        vars.iter()
            .map(|(name, var)| Ok((name.clone(), var.as_tensor().copy()?)))
            .collect()
    }

    /// Writes the checkpoint at `path` (`f32`, loadable by `faststyle apply`) and then the
    /// resume state beside it, each atomically. Refuses to write weights that are not finite,
    /// so a diverged run keeps its last good checkpoint.
    pub fn save(&self, path: &Path, meta: &CheckpointMeta) -> TrainResult<()> {
        let weights = self.weights()?;
        for (name, t) in &weights {
            let sum = t.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if !sum.is_finite() {
                return Err(TrainError::NonFinite {
                    step: self.step,
                    terms: format!("weight {name}"),
                });
            }
        }
        let mut meta = meta.clone();
        meta.training = self.training_meta();
        save_checkpoint(path, &weights, &meta, DType::F32)?;
        let state = TrainState {
            meta: StateMeta {
                version: STATE_VERSION,
                step: self.step,
                adam_steps: self.adam.steps(),
                cursor: self.cursor,
                skipped_files: self.skipped_files(),
                options: self.options.clone(),
            },
            weights,
            moments: self.adam.moments(),
        };
        save_state(&state_path(path), &state)
    }

    /// The checkpoint's `training` metadata: the resolved options and how far the run got.
    fn training_meta(&self) -> serde_json::Value {
        let mut json = self.options.to_json();
        if let serde_json::Value::Object(map) = &mut json {
            map.insert("steps_done".into(), self.step.into());
            map.insert("epoch".into(), self.cursor.epoch.into());
            map.insert("skipped_files".into(), self.skipped_files().into());
        }
        json
    }
}

/// The device training runs on: the first CUDA GPU when built with `--features cuda` and one
/// is present, else the CPU.
pub fn device() -> Device {
    Device::cuda_if_available(0).unwrap_or(Device::Cpu)
}

fn adam_config(options: &TrainOptions) -> AdamConfig {
    AdamConfig {
        lr: options.lr,
        ..AdamConfig::default()
    }
}

fn named_vars(varmap: &VarMap) -> Vec<(String, Var)> {
    let vars = varmap.data().lock().expect("no panics while locked");
    vars.iter().map(|(n, v)| (n.clone(), v.clone())).collect()
}

fn start_loader(
    options: &TrainOptions,
    dataset: Dataset,
    start: Cursor,
    skipped: &Arc<AtomicUsize>,
    on_skip: SkipHook,
) -> Loader {
    let spec = BatchSpec {
        batch_size: options.batch_size,
        image_size: options.image_size,
        seed: options.seed,
    };
    let counter = skipped.clone();
    let hook: SkipHook = Arc::new(move |skip: &Skipped| {
        counter.fetch_add(1, Ordering::Relaxed);
        on_skip(skip);
    });
    Loader::start(
        BatchSource::new(Arc::new(dataset), spec, start, hook),
        PREFETCH,
    )
}

/// Sets every variable of `varmap` to its saved value in `weights`, which must hold each one
/// with the same shape.
fn restore_weights(
    varmap: &VarMap,
    weights: &HashMap<String, Tensor>,
    device: &Device,
) -> TrainResult<()> {
    let vars = varmap.data().lock().expect("no panics while locked");
    for (name, var) in vars.iter() {
        let saved = weights
            .get(name)
            .ok_or_else(|| TrainError::Config(format!("the state file has no weight {name}")))?;
        if saved.dims() != var.dims() {
            return Err(TrainError::Config(format!(
                "the state file's {name} has shape {:?}, the network's {:?}",
                saved.dims(),
                var.dims()
            )));
        }
        var.set(&saved.to_dtype(DType::F32)?.to_device(device)?)?;
    }
    Ok(())
}

/// PyTorch's default initialisation, drawn from `seed` (see the module header). Each tensor
/// has its own generator keyed by its position in name order, so the result does not depend
/// on the order the network created its variables in.
fn init_weights(varmap: &VarMap, seed: u64) -> TrainResult<()> {
    let vars = varmap.data().lock().expect("no panics while locked");
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for (i, name) in names.into_iter().enumerate() {
        let var = &vars[name];
        let shape = var.dims().to_vec();
        let values: Vec<f32> = if let Some(layer) = name.strip_suffix(".conv2d.bias") {
            let weight = &vars[&format!("{layer}.conv2d.weight")];
            uniform(weight.dims(), shape[0], seed, i)
        } else if name.ends_with(".conv2d.weight") {
            uniform(&shape, shape.iter().product(), seed, i)
        } else if name.ends_with(".weight") {
            vec![1.0; shape.iter().product()]
        } else {
            vec![0.0; shape.iter().product()]
        };
        var.set(&Tensor::from_vec(values, shape, var.device())?)?;
    }
    Ok(())
}

/// `len` values uniform in `±1/sqrt(fan_in)` of a convolution weight shaped `weight_dims`
/// `(c_out, c_in, k, k)`.
fn uniform(weight_dims: &[usize], len: usize, seed: u64, key: usize) -> Vec<f32> {
    let fan_in: usize = weight_dims[1..].iter().product();
    let bound = 1.0 / (fan_in as f64).sqrt();
    let mut rng = Rng::keyed(seed, &[rng::INIT, key as u64]);
    (0..len)
        .map(|_| ((rng.unit_f64() * 2.0 - 1.0) * bound) as f32)
        .collect()
}
