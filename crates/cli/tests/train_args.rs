//! `faststyle train` refuses bad arguments at once, before loading anything heavy: exit code 2
//! and one line naming the file or option at fault.

mod common;

use std::path::PathBuf;

use common::{faststyle, repo, stderr, temp_dir};

fn style() -> PathBuf {
    repo().join("tests/fixtures/style_96x80.png")
}

/// Runs `faststyle train ARGS`; returns the exit code and stderr.
fn train(args: &[&str]) -> (i32, String) {
    let out = faststyle(&[&["train"], args].concat());
    (out.status.code().unwrap_or(-1), stderr(&out))
}

fn assert_refused(args: &[&str], needle: &str) {
    let (code, stderr) = train(args);
    assert_eq!(code, 2, "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn bad_arguments_fail_fast_with_the_culprit_named() {
    let dir = temp_dir("args");
    let out = dir.join("out.safetensors");
    let out = out.to_str().unwrap();
    let style = style();
    let style = style.to_str().unwrap();

    assert_refused(
        &["--style", "no-such-painting.jpg", "-o", out],
        "no-such-painting.jpg",
    );
    let readme = repo().join("README.md");
    assert_refused(
        &["--style", readme.to_str().unwrap(), "-o", out],
        "README.md",
    );
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.to_str().unwrap();
    assert_refused(
        &["--style", style, "--data", empty, "-o", out],
        "no images found",
    );
    assert_refused(
        &["--style", style, "--image-size", "30", "-o", out],
        "--image-size 30",
    );
    assert_refused(
        &["--style", style, "--style-layers", "relu9_9", "-o", out],
        "relu9_9",
    );
    assert_refused(&["--style", style, "--resume", "-o", out], "--resume");
    assert_refused(&["-o", out], "give the painting to learn with --style");
    // clap's own errors, one line that still names the option.
    assert_refused(
        &["--style", style, "-o", out, "--lr", "fast"],
        "'fast' for '--lr",
    );
    std::fs::write(out, b"an earlier run").unwrap();
    assert_refused(&["--style", style, "-o", out], "--force");
    std::fs::remove_dir_all(&dir).unwrap();
}
