//! What the CLI tests share: running the binary as a user would, scratch folders, and the
//! check every user error must pass (one line on stderr, exit code 2).

// Each test file uses its own subset of these.
#![allow(dead_code, unused_imports)]

use std::ffi::OsStr;
use std::process::{Command, Output};

pub use faststyle_testkit::{fixture, repo};

/// A fresh empty folder for one test, unique to this process.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    faststyle_testkit::temp_dir(&format!("cli-{name}"))
}

/// Runs `faststyle ARGS` in the repository root.
pub fn faststyle<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faststyle"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The one error line and exit code 2 every user error gives, containing `message`.
pub fn assert_user_error(out: &Output, message: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("faststyle: error: "), "{err}");
    assert!(err.contains(message), "expected {message:?} in {err}");
}
