//! Content photos for training: the folder, the order they are seen in, and a loader that
//! decodes the next batches on a background thread while the current step computes.
//!
//! - The photos are every image file under the folder (recursively), sorted by path, so the
//!   same folder gives the same list on any machine.
//! - The data is an endless stream of epochs; epoch `e` visits the photos in a permutation
//!   drawn from `(seed, e)`. A [`Cursor`] (epoch, position in that permutation) is all a resumed
//!   run needs to continue the stream exactly. Batches run across epoch boundaries, so no photo
//!   is dropped at the end of an epoch.
//! - Each photo becomes a random `size`x`size` crop with a random flip
//!   ([`crate::photo::training_crop`]), drawn from `(seed, epoch, position)`.
//! - A file that fails to decode is reported once through the skip hook, counted, and skipped
//!   for the rest of the run; the batch is filled from the next positions instead.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use candle_core::{Device, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::photo::{decode_rgb, training_crop};
use crate::rng::{self, Rng};
use crate::train_error::{TrainError, TrainResult};

/// File extensions taken as images (case-insensitive).
pub const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"];

/// The image files of a folder.
#[derive(Debug, Clone)]
pub struct Dataset {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl Dataset {
    /// Lists the image files under `dir`; fails when there are none.
    pub fn open(dir: &Path) -> TrainResult<Self> {
        let mut files = Vec::new();
        collect_images(dir, &mut files)?;
        if files.is_empty() {
            return Err(TrainError::NoImages {
                dir: dir.to_owned(),
            });
        }
        files.sort();
        Ok(Self {
            dir: dir.to_owned(),
            files,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

fn collect_images(dir: &Path, out: &mut Vec<PathBuf>) -> TrainResult<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| TrainError::io(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| TrainError::io(dir, e))?.path();
        if path.is_dir() {
            collect_images(&path, out)?;
        } else if has_image_extension(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Where the data stream stands: the next photo is at `position` of epoch `epoch`'s order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub epoch: u64,
    pub position: u64,
}

/// The order in which epoch `epoch` visits `n` photos: indices into [`Dataset::files`].
pub fn epoch_order(n: usize, seed: u64, epoch: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..n as u32).collect();
    Rng::keyed(seed, &[rng::ORDER, epoch]).shuffle(&mut order);
    order
}

/// A file the loader could not use.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// Called once for each file skipped; the library itself prints nothing.
pub type SkipHook = Arc<dyn Fn(&Skipped) + Send + Sync>;

/// A batch of training crops.
#[derive(Debug)]
pub struct Batch {
    /// `(batch, 3, size, size)`, 0..255, on the CPU.
    pub images: Tensor,
    /// Where the stream stands after this batch.
    pub next: Cursor,
    /// Files newly found unreadable while making this batch.
    pub skipped: usize,
}

/// What the batches look like.
#[derive(Debug, Clone, Copy)]
pub struct BatchSpec {
    pub batch_size: usize,
    pub image_size: u32,
    pub seed: u64,
}

/// Makes batches one after the other, on the calling thread.
pub struct BatchSource {
    dataset: Arc<Dataset>,
    spec: BatchSpec,
    cursor: Cursor,
    order: Vec<u32>,
    order_epoch: Option<u64>,
    bad: HashSet<u32>,
    on_skip: SkipHook,
}

impl BatchSource {
    pub fn new(dataset: Arc<Dataset>, spec: BatchSpec, start: Cursor, on_skip: SkipHook) -> Self {
        Self {
            dataset,
            spec,
            cursor: start,
            order: Vec::new(),
            order_epoch: None,
            bad: HashSet::new(),
            on_skip,
        }
    }

    /// Decodes the next `batch_size` readable photos of the stream, in parallel.
    pub fn next_batch(&mut self) -> TrainResult<Batch> {
        let size = self.spec.image_size as usize;
        let per_image = 3 * size * size;
        let mut crops: Vec<Vec<f32>> = Vec::with_capacity(self.spec.batch_size);
        let mut skipped = 0;
        while crops.len() < self.spec.batch_size {
            let wanted = self.spec.batch_size - crops.len();
            let picks = self.take_positions(wanted)?;
            let results: Vec<Result<Vec<f32>, String>> = picks
                .par_iter()
                .map(|&(cursor, file)| self.crop(cursor, file, per_image))
                .collect();
            for (&(_, file), result) in picks.iter().zip(results) {
                match result {
                    Ok(crop) => crops.push(crop),
                    Err(reason) => {
                        self.bad.insert(file);
                        skipped += 1;
                        let path = self.dataset.files[file as usize].clone();
                        tracing::warn!("skipping {}: {reason}", path.display());
                        (self.on_skip)(&Skipped { path, reason });
                    }
                }
            }
        }
        let data: Vec<f32> = crops.concat();
        let images = Tensor::from_vec(data, (self.spec.batch_size, 3, size, size), &Device::Cpu)?;
        Ok(Batch {
            images,
            next: self.cursor,
            skipped,
        })
    }

    /// The next `wanted` stream positions whose files are not known to be bad, advancing the
    /// cursor past them.
    fn take_positions(&mut self, wanted: usize) -> TrainResult<Vec<(Cursor, u32)>> {
        let n = self.dataset.len();
        if self.bad.len() == n {
            return Err(TrainError::AllUnreadable {
                dir: self.dataset.dir.clone(),
                count: n,
            });
        }
        let mut picks = Vec::with_capacity(wanted);
        while picks.len() < wanted {
            if self.cursor.position >= n as u64 {
                self.cursor = Cursor {
                    epoch: self.cursor.epoch + 1,
                    position: 0,
                };
            }
            if self.order_epoch != Some(self.cursor.epoch) {
                self.order = epoch_order(n, self.spec.seed, self.cursor.epoch);
                self.order_epoch = Some(self.cursor.epoch);
            }
            let file = self.order[self.cursor.position as usize];
            if !self.bad.contains(&file) {
                picks.push((self.cursor, file));
            }
            self.cursor.position += 1;
        }
        Ok(picks)
    }

    fn crop(&self, at: Cursor, file: u32, len: usize) -> Result<Vec<f32>, String> {
        let rgb = decode_rgb(&self.dataset.files[file as usize])?;
        let mut rng = Rng::keyed(self.spec.seed, &[rng::CROP, at.epoch, at.position]);
        let mut out = vec![0f32; len];
        training_crop(&rgb, self.spec.image_size, &mut rng, &mut out);
        Ok(out)
    }
}

/// A [`BatchSource`] running on its own thread, `prefetch` batches ahead of the consumer.
pub struct Loader {
    rx: Option<Receiver<TrainResult<Batch>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Loader {
    pub fn start(mut source: BatchSource, prefetch: usize) -> Self {
        let (tx, rx) = sync_channel(prefetch.max(1));
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("faststyle-loader".to_owned())
            .spawn(move || {
                while !stop_flag.load(Ordering::Relaxed) {
                    let batch = source.next_batch();
                    let failed = batch.is_err();
                    // A send error means the consumer is gone: nothing left to do.
                    if tx.send(batch).is_err() || failed {
                        break;
                    }
                }
            })
            .expect("spawning a thread");
        Self {
            rx: Some(rx),
            stop,
            thread: Some(thread),
        }
    }

    /// The next batch, waiting for it if the loader is behind.
    pub fn next_batch(&mut self) -> TrainResult<Batch> {
        let rx = self.rx.as_ref().expect("receiver lives until drop");
        rx.recv().unwrap_or_else(|_| {
            Err(TrainError::Config(
                "the data loader stopped after an error".to_owned(),
            ))
        })
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receiver unblocks a loader waiting to send.
        self.rx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
