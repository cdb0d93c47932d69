//! Process-wide settings of the C library: the allocator for tensor work, and SIGPIPE.
//!
//! glibc serves every block above its mmap threshold (at most 32 MiB) with a fresh `mmap` and
//! gives it back to the kernel on `free`; tensors and column buffers are that large, so each
//! training step faulted in and zeroed gigabytes of pages again: measured at ~12% of a training
//! step's time (`faststyle bench train`, 9.3 s -> 8.2 s per step). Serving them from the heap
//! and keeping the freed memory for the next step costs ~5% more peak memory, unless every
//! thread allocates from one arena: with glibc's default of an arena per thread, a block that
//! rayon's worker freed was not reused by the main thread and the other way round (peak of a
//! training step 2108-2111 MiB with per-thread arenas, 1988-1994 MiB with one; same speed).
//!
//! Older glibc refused mmap thresholds above 32 MiB; 2.36 (Debian 12) takes 1 GiB: checked
//! with a 100 MiB `malloc` after these calls, which grew the heap instead of mapping pages.

/// Keeps large freed blocks for reuse (a no-op where the C library is not glibc).
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets allocator parameters; it is called before any other thread
    // exists, and a rejected value leaves the default in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Restores the default action of SIGPIPE, which Rust ignores: a command whose output goes to a
/// closed pipe (`faststyle styles | head -1`) then ends quietly, as other Unix tools do, instead
/// of panicking on the failed write. Not for `serve`, whose sockets must survive a client that
/// hangs up.
pub fn die_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default has no preconditions; it runs
    // before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
