//! What the CLI tests share: running the binary as a user would, scratch folders, and the
//! check every user error must pass (one line on stderr, exit code 2).

// Each test file uses its own subset of these.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root, the working directory of every run.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name)
}

/// A fresh empty folder for one test, unique to this process.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faststyle-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
