//! Many images through a [`Stylizer`], as a three-stage pipeline over chunks of the batch:
//!
//! | stage | work | runs |
//! |---|---|---|
//! | load | read, decode, resize (`load` and [`Stylizer::prepare`]) | in parallel over a chunk |
//! | paint | the networks ([`Stylizer::paint`]) | one image at a time |
//! | store | colour work, encode, write (`finish` and `store`) | in parallel over a chunk |
//!
//! While chunk `t` is painted, chunk `t + 1` loads and chunk `t - 1` is stored, all inside one
//! `rayon::join`, so the cheap work hides behind the network instead of adding to it. Nothing
//! blocks on a channel inside the thread pool, so the network's own parallel kernels cannot be
//! starved into a deadlock. At most three chunks (a few images each) are in memory at once.

use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::{InferError, Painting, Picture, Stylizer};

/// The outcome for one job of a batch.
#[derive(Debug)]
pub struct BatchItem<O, E> {
    /// Position of the job in the slice given to [`run_batch`].
    pub index: usize,
    pub result: Result<O, E>,
    /// Time spent on this image across all stages (not wall time of the batch).
    pub seconds: f64,
}

type Stage<T, E> = Vec<(usize, Result<T, E>, Duration)>;

/// Runs every job: `load` produces its picture, the stylizer paints it, `store` consumes the
/// result. `report` sees each outcome, in job order; a failing job does not stop the others.
pub fn run_batch<J, O, E, L, S, R>(
    stylizer: &Stylizer,
    jobs: &[J],
    load: L,
    store: S,
    mut report: R,
) where
    J: Sync,
    O: Send,
    E: From<InferError> + Send,
    L: Fn(&J) -> Result<Picture, E> + Sync,
    S: Fn(&J, Picture) -> Result<O, E> + Sync,
    R: FnMut(BatchItem<O, E>),
{
    let chunk = rayon::current_num_threads().max(2);
    let chunks: Vec<(usize, &[J])> = jobs
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| (i * chunk, c))
        .collect();

    let load_chunk = |(base, chunk): (usize, &[J])| -> Stage<Picture, E> {
        chunk
            .par_iter()
            .enumerate()
            .map(|(i, job)| {
                let t = Instant::now();
                let picture = load(job).map(|p| stylizer.prepare(p));
                (base + i, picture, t.elapsed())
            })
            .collect()
    };
    let paint_chunk = |loaded: Stage<Picture, E>| -> Stage<(Picture, Painting), E> {
        loaded
            .into_iter()
            .map(|(i, picture, spent)| {
                let t = Instant::now();
                let painted = picture.and_then(|p| {
                    let painting = stylizer.paint(&p).map_err(E::from)?;
                    Ok((p, painting))
                });
                (i, painted, spent + t.elapsed())
            })
            .collect()
    };
    let store_chunk = |painted: Stage<(Picture, Painting), E>| -> Vec<BatchItem<O, E>> {
        painted
            .into_par_iter()
            .map(|(index, painted, spent)| {
                let t = Instant::now();
                let result = painted.and_then(|(picture, painting)| {
                    store(&jobs[index], stylizer.finish(picture, painting))
                });
                BatchItem {
                    index,
                    result,
                    seconds: (spent + t.elapsed()).as_secs_f64(),
                }
            })
            .collect()
    };

    let mut loaded: Option<Stage<Picture, E>> = None;
    let mut painted: Option<Stage<(Picture, Painting), E>> = None;
    for t in 0..chunks.len() + 2 {
        let next = chunks.get(t).copied();
        let (to_paint, to_store) = (loaded.take(), painted.take());
        let (new_painted, (new_loaded, stored)) = rayon::join(
            || to_paint.map(paint_chunk),
            || rayon::join(|| next.map(load_chunk), || to_store.map(store_chunk)),
        );
        loaded = new_loaded;
        painted = new_painted;
        stored.into_iter().flatten().for_each(&mut report);
    }
}
