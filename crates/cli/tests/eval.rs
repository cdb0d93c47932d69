//! `faststyle eval`, run as a user would, on a network trained for two steps here.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_user_error, faststyle, stderr, temp_dir};

/// A checkpoint with training metadata: two steps at 64x64 on the sample photos.
fn tiny_checkpoint(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.safetensors");
    let out = faststyle(&[
        "train",
        "--style",
        "tests/fixtures/style_96x80.png",
        "--data",
        "training-data",
        "--image-size",
        "64",
        "--batch-size",
        "1",
        "--steps",
        "2",
        "--sample-every",
        "0",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    path
}

#[test]
fn scores_the_network_and_the_slow_method_with_the_training_loss() {
    let dir = temp_dir("eval");
    let checkpoint = tiny_checkpoint(&dir);
    let checkpoint = checkpoint.to_str().unwrap();
    let photo = "tests/fixtures/content_72x52.png";
    let args = [
        "eval",
        "--style",
        checkpoint,
        "--content",
        photo,
        "--size",
        "64",
        "--iterations",
        "3,2",
    ];
    let out = faststyle(&[&args[..], &["--json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let methods: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["photo"].as_str().unwrap(), r["method"].as_str().unwrap()))
        .collect();
    let expected = [
        ("content_72x52.png", "fast network"),
        ("content_72x52.png", "L-BFGS 2"),
        ("content_72x52.png", "L-BFGS 3"),
        ("mean", "fast network"),
        ("mean", "L-BFGS 2"),
        ("mean", "L-BFGS 3"),
    ];
    assert_eq!(methods, expected);
    let total = |i: usize| rows[i]["total"].as_f64().unwrap();
    for row in &rows {
        // The terms are weighted, so they add up to the total.
        let sum: f64 = ["content", "style", "tv"]
            .iter()
            .map(|k| row[*k].as_f64().unwrap())
            .sum();
        let t = row["total"].as_f64().unwrap();
        assert!(t > 0.0 && (sum - t).abs() <= 1e-4 * t, "{row}");
    }
    // A network trained for two steps is far from the painting; three L-BFGS iterations from
    // the photo are already much closer.
    assert!(total(2) < total(0), "{rows:?}");
    assert_eq!(
        total(3),
        total(0),
        "one photo: the mean is the photo's score"
    );

    let out = faststyle(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("| content_72x52.png | L-BFGS 3 |"),
        "{table}"
    );
    assert!(table.contains("mean over the photos"), "{table}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let dir = temp_dir("eval-errors");
    let fixture = "tests/fixtures/transformer_net.safetensors";
    let photo = "tests/fixtures/content_72x52.png";
    let out = faststyle(&["eval", "--style", fixture, "--content", "no-such-dir"]);
    assert_user_error(&out, "no-such-dir: no such file or folder");
    let out = faststyle(&["eval", "--style", fixture, "--content", photo]);
    assert_user_error(
        &out,
        "transformer_net.safetensors: has no training metadata",
    );
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = faststyle(&[
        "eval",
        "--style",
        fixture,
        "--content",
        empty.to_str().unwrap(),
    ]);
    assert_user_error(&out, "empty: no images in this folder");
    let out = faststyle(&["eval", "--style", "no-such-style", "--content", photo]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no-such-style"), "{}", stderr(&out));
    let out = faststyle(&[
        "eval",
        "--style",
        fixture,
        "--content",
        photo,
        "--size",
        "8",
    ]);
    assert_user_error(&out, "--size 8 is too small");
    let out = faststyle(&[
        "eval",
        "--style",
        fixture,
        "--content",
        photo,
        "--size",
        "100000",
    ]);
    assert_user_error(&out, "--size 100000 is too large");
    std::fs::remove_dir_all(&dir).unwrap();
}
