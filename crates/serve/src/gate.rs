//! Admission and concurrency: at most `workers` inferences run at once (one per core, since
//! each uses a core's worth of arithmetic and more would only share the same cores), and at
//! most `queue` more requests wait for a turn. A request beyond both is turned away at once
//! (503) instead of piling up memory and latency for everyone.
//!
//! The slots are semaphore permits owned by the request: a request that gives up while waiting
//! (time limit, client gone) frees its place as its future is dropped, while one whose
//! inference already runs keeps its worker slot until the blocking task really ends, because
//! a blocking task cannot be interrupted and the core stays busy until then.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The shared gate of one server.
#[derive(Debug, Clone)]
pub struct Gate {
    /// Permits for everything admitted: running plus waiting.
    admitted: Arc<Semaphore>,
    /// Permits to run an inference.
    workers: Arc<Semaphore>,
    capacity: usize,
}

/// A request's place, taken by [`Gate::admit`] and held until the request ends.
#[derive(Debug)]
pub struct Ticket {
    admitted: OwnedSemaphorePermit,
    workers: Arc<Semaphore>,
}

/// Why a blocking job produced no value.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the worker pool is shut down")]
    Closed,
    #[error("the job panicked or was cancelled")]
    Panicked,
}

impl Gate {
    /// A gate for `workers` concurrent jobs (at least 1) and `queue` waiting ones.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        Gate {
            admitted: Arc::new(Semaphore::new(workers + queue)),
            workers: Arc::new(Semaphore::new(workers)),
            capacity: workers + queue,
        }
    }

    /// A place for one more request, or `None` when all places are taken.
    pub fn admit(&self) -> Option<Ticket> {
        let admitted = self.admitted.clone().try_acquire_owned().ok()?;
        Some(Ticket {
            admitted,
            workers: self.workers.clone(),
        })
    }

    /// How many requests may be admitted at once (running plus waiting).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many requests hold a place now.
    pub fn in_use(&self) -> usize {
        self.capacity - self.admitted.available_permits()
    }
}

impl Ticket {
    /// Waits for a worker slot, then runs `job` on tokio's blocking pool. Both permits move
    /// into the job, so they are released when it ends, even if the caller stopped waiting.
    pub async fn run<T, F>(self, job: F) -> Result<T, JobError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| JobError::Closed)?;
        let admitted = self.admitted;
        tokio::task::spawn_blocking(move || {
            let _slots = (worker, admitted);
            job()
        })
        .await
        .map_err(|_| JobError::Panicked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_workers_plus_queue_then_refuses() {
        let gate = Gate::new(2, 1);
        let tickets: Vec<_> = (0..3).map(|_| gate.admit().expect("a place")).collect();
        assert!(gate.admit().is_none());
        assert_eq!(gate.in_use(), 3);
        drop(tickets);
        assert_eq!(gate.in_use(), 0);
        assert!(gate.admit().is_some());
    }

    #[tokio::test]
    async fn a_finished_job_frees_its_place() {
        let gate = Gate::new(1, 0);
        let ticket = gate.admit().unwrap();
        assert!(gate.admit().is_none());
        assert_eq!(ticket.run(|| 6 * 7).await.unwrap(), 42);
        assert!(gate.admit().is_some());
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_frees_its_place() {
        let gate = Gate::new(1, 0);
        let ticket = gate.admit().unwrap();
        let result = ticket.run(|| -> u32 { panic!("boom") }).await;
        assert!(matches!(result, Err(JobError::Panicked)));
        assert!(gate.admit().is_some());
    }
}
