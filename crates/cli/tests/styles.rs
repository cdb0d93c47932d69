//! `faststyle styles` on catalogues made in temporary directories (named through
//! `FASTSTYLE_CHECKPOINTS`, or found as `./checkpoints`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use candle_core::{DType, Device};
use faststyle_net::{save_checkpoint, CheckpointMeta, StyleInfo};

fn temp_dir(test: &str) -> PathBuf {
    let name = format!("faststyle-cli-styles-{test}-{}", std::process::id());
    let dir = std::env::temp_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `dir` with two styles: `starry-night` with full metadata and a preview, `wave` with a
/// name only.
fn write_styles(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/transformer_net.safetensors");
    let tensors = candle_core::safetensors::load(fixture, &Device::Cpu).unwrap();
    let starry = CheckpointMeta {
        style: StyleInfo {
            name: "starry-night".into(),
            title: Some("The Starry Night".into()),
            artist: Some("Vincent van Gogh".into()),
            year: Some("1889".into()),
            licence: Some("public domain".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let path = dir.join("starry-night.safetensors");
    save_checkpoint(&path, &tensors, &starry, DType::F16).unwrap();
    std::fs::write(dir.join("starry-night.jpg"), b"preview").unwrap();
    let wave = CheckpointMeta {
        style: StyleInfo {
            name: "wave".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    save_checkpoint(&dir.join("wave.safetensors"), &tensors, &wave, DType::F16).unwrap();
}

/// Runs `faststyle styles ARGS` in `cwd`, with `FASTSTYLE_CHECKPOINTS` set to `env_dir` or
/// unset.
fn styles(env_dir: Option<&Path>, cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faststyle"));
    cmd.arg("styles").args(args).current_dir(cwd);
    match env_dir {
        Some(dir) => cmd.env("FASTSTYLE_CHECKPOINTS", dir),
        None => cmd.env_remove("FASTSTYLE_CHECKPOINTS"),
    };
    cmd.output().unwrap()
}

#[test]
fn table_lists_every_style_with_its_metadata() {
    let dir = temp_dir("table");
    write_styles(&dir.join("checkpoints"));
    // Found as ./checkpoints from the current directory.
    let out = styles(None, &dir, &[]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "TITLE", "ARTIST", "YEAR", "LICENCE", "PATH"]
    );
    let starry = "starry-night  The Starry Night  Vincent van Gogh  1889  public domain  ";
    assert!(lines[1].starts_with(starry), "{stdout}");
    assert!(lines[1].ends_with("starry-night.safetensors"), "{stdout}");
    let wave: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(wave[..5], ["wave", "-", "-", "-", "-"]);
    // Columns line up: every row's path starts where the header's PATH does.
    let at = lines[0].find("PATH").unwrap();
    assert!(
        lines[1..]
            .iter()
            .all(|l| l[at..].starts_with("checkpoints")),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn json_is_machine_readable_and_the_variable_wins() {
    let dir = temp_dir("json");
    write_styles(&dir.join("named"));
    // A ./checkpoints with fewer styles is ignored: the variable names the directory.
    write_styles(&dir.join("checkpoints"));
    std::fs::remove_file(dir.join("checkpoints/wave.safetensors")).unwrap();
    let out = styles(Some(&dir.join("named")), &dir, &["--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["name"], "starry-night");
    assert_eq!(rows[0]["artist"], "Vincent van Gogh");
    assert_eq!(rows[0]["year"], "1889");
    assert_eq!(rows[0]["licence"], "public domain");
    let preview = rows[0]["preview"].as_str().unwrap();
    assert!(preview.ends_with("named/starry-night.jpg"), "{preview}");
    assert_eq!(rows[1]["name"], "wave");
    assert_eq!(rows[1]["title"], serde_json::Value::Null);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn empty_catalogue_says_so_on_stderr_and_succeeds() {
    let dir = temp_dir("empty");
    let out = styles(Some(&dir), &dir, &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr,
        format!("faststyle: no styles in {}\n", dir.display())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_checkpoints_variable_that_is_not_a_directory_is_an_error() {
    let dir = temp_dir("bad-env");
    let out = styles(Some(&dir.join("nowhere")), &dir, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("faststyle: error: FASTSTYLE_CHECKPOINTS="),
        "{stderr}"
    );
    assert!(
        stderr.trim_end().ends_with("nowhere: not a directory"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
