//! `faststyle apply` as a user runs it: outputs, and one test per way an input can be bad
//! (exit code 2, a message naming the file, the rest of the batch still done).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use faststyle_testkit::{crc32, fixture};
use image::{DynamicImage, ImageFormat, RgbImage};

/// A fresh empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    faststyle_testkit::temp_dir(&format!("apply-{name}"))
}

/// A small non-square photo written as `path` (format from the extension).
fn photo(path: &Path, w: u32, h: u32) {
    let img = RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 9) as u8, (y * 11) as u8, 128])
    });
    DynamicImage::ImageRgb8(img).save(path).unwrap();
}

fn apply(args: &[&str]) -> Output {
    let style = fixture("transformer_net.safetensors");
    Command::new(env!("CARGO_BIN_EXE_faststyle"))
        .arg("apply")
        .arg("--style")
        .arg(style)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts exit code 2 and an error line that names `file` and contains `reason`.
fn assert_fails(out: &Output, file: &str, reason: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("faststyle: error:") && l.contains(file) && l.contains(reason)),
        "no line naming {file} with `{reason}` in: {err}"
    );
}

#[test]
fn writes_beside_the_input_at_the_same_size() {
    let dir = scratch("beside");
    let input = dir.join("photo.JPG");
    photo(&input, 33, 21);
    let out = apply(&[s(&input), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let written = dir.join("photo-transformer_net.jpg");
    let img = image::open(&written).unwrap();
    assert_eq!((img.width(), img.height()), (33, 21));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["output"], s(&written));
    assert_eq!(
        (line["width"].as_u64(), line["height"].as_u64()),
        (Some(33), Some(21))
    );
}

#[test]
fn missing_input_fails_and_the_batch_goes_on() {
    let dir = scratch("batch");
    let (a, b) = (dir.join("a.png"), dir.join("b.png"));
    photo(&a, 20, 12);
    photo(&b, 12, 20);
    let missing = dir.join("missing.png");
    let outdir = dir.join("out");
    let out = apply(&[s(&a), s(&missing), s(&b), "-o", s(&outdir)]);
    assert_fails(&out, s(&missing), "no such file");
    assert!(outdir.join("a-transformer_net.png").is_file());
    assert!(outdir.join("b-transformer_net.png").is_file());
}

#[test]
fn not_an_image_fails() {
    let dir = scratch("text");
    let input = dir.join("notes.png");
    std::fs::write(&input, "shopping list: eggs, flour").unwrap();
    assert_fails(&apply(&[s(&input)]), s(&input), "not an image");
}

#[test]
fn truncated_image_fails() {
    let dir = scratch("truncated");
    let input = dir.join("cut.png");
    photo(&input, 40, 30);
    let bytes = std::fs::read(&input).unwrap();
    std::fs::write(&input, &bytes[..bytes.len() / 2]).unwrap();
    assert_fails(&apply(&[s(&input)]), s(&input), "truncated or corrupt");
}

#[test]
fn absurd_header_fails_quickly() {
    let dir = scratch("absurd");
    let input = dir.join("huge.png");
    // A 64x64 PNG whose IHDR is patched to claim 100000x100000 (the CRC then mismatches, so
    // fix it too): the decoder must refuse from the header alone.
    photo(&input, 64, 64);
    let mut bytes = std::fs::read(&input).unwrap();
    bytes[16..24].copy_from_slice(&[0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0]);
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    std::fs::write(&input, &bytes).unwrap();
    let started = std::time::Instant::now();
    let out = apply(&[s(&input)]);
    assert_fails(&out, s(&input), "100000x100000");
    assert!(started.elapsed().as_secs() < 30);
}

#[test]
fn unreadable_checkpoint_fails_naming_it() {
    let dir = scratch("ckpt");
    let input = dir.join("p.png");
    photo(&input, 16, 16);
    let bad = dir.join("broken.safetensors");
    std::fs::write(&bad, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faststyle"))
        .args(["apply", "--style", s(&bad), s(&input)])
        .output()
        .unwrap();
    assert_fails(&out, s(&bad), "not a safetensors file");
}

#[test]
fn checkpoint_of_another_architecture_fails_naming_it() {
    let dir = scratch("arch");
    let input = dir.join("p.png");
    photo(&input, 16, 16);
    let other = dir.join("vgg.safetensors");
    let header = br#"{"__metadata__":{"architecture":"vgg16"},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&1f32.to_le_bytes());
    std::fs::write(&other, bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faststyle"))
        .args(["apply", "--style", s(&other), s(&input)])
        .output()
        .unwrap();
    assert_fails(&out, s(&other), "another architecture");
}

#[test]
fn existing_outputs_are_kept_unless_forced() {
    let dir = scratch("force");
    let input = dir.join("p.png");
    photo(&input, 24, 16);
    let target = dir.join("out.png");
    std::fs::write(&target, b"precious").unwrap();
    let out = apply(&[s(&input), "-o", s(&target)]);
    assert_fails(&out, s(&target), "already exists");
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");

    let out = apply(&[s(&input), "-o", s(&target), "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(image::open(&target).unwrap().width(), 24);
}

#[test]
fn unknown_output_extension_fails_before_any_work() {
    let dir = scratch("ext");
    let input = dir.join("p.png");
    photo(&input, 24, 16);
    let target = dir.join("out.xyz");
    let out = apply(&[
        s(&input),
        dir.join("missing.png").to_str().unwrap(),
        "-o",
        s(&target),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(".xyz"), "{err}");
    assert!(!target.exists());
}

#[test]
fn stdin_to_stdout() {
    let dir = scratch("pipe");
    let input = dir.join("p.png");
    photo(&input, 18, 10);
    let out = Command::new(env!("CARGO_BIN_EXE_faststyle"))
        .args([
            "apply",
            "--style",
            s(&fixture("transformer_net.safetensors")),
            "-",
        ])
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let img = image::load_from_memory_with_format(&out.stdout, ImageFormat::Png).unwrap();
    assert_eq!((img.width(), img.height()), (18, 10));
}

#[test]
fn a_folder_of_mixed_sizes_goes_to_an_output_folder_with_a_blend() {
    let dir = scratch("folder");
    let photos = dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    photo(&photos.join("wide.png"), 41, 13);
    photo(&photos.join("tall.bmp"), 7, 30);
    std::fs::write(
        photos.join("notes.txt"),
        "not a photo, and not taken for one",
    )
    .unwrap();
    let outdir = dir.join("out");
    let style = fixture("transformer_net.safetensors");
    let out = Command::new(env!("CARGO_BIN_EXE_faststyle"))
        .args(["apply", "--style", &format!("{}:0.7", s(&style))])
        .args(["--style", &format!("{}:0.3", s(&style))])
        .args([
            "--preserve-color",
            "--strength",
            "0.8",
            s(&photos),
            "-o",
            s(&outdir),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let wide = image::open(outdir.join("wide-transformer_net+transformer_net.png")).unwrap();
    let tall = image::open(outdir.join("tall-transformer_net+transformer_net.bmp")).unwrap();
    assert_eq!((wide.width(), wide.height()), (41, 13));
    assert_eq!((tall.width(), tall.height()), (7, 30));
    assert_eq!(std::fs::read_dir(&outdir).unwrap().count(), 2);
}

#[test]
fn unknown_format_option_fails_before_any_work() {
    let dir = scratch("format");
    let input = dir.join("p.png");
    photo(&input, 24, 16);
    let out = apply(&[s(&input), "--format", "jxl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("jxl"), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

/// `--format` names the format even when `-o`'s extension says another.
#[test]
fn format_option_wins_over_the_output_extension() {
    let dir = scratch("format-wins");
    let input = dir.join("p.png");
    photo(&input, 24, 16);
    let output = dir.join("out.png");
    let out = apply(&[s(&input), "-o", s(&output), "--format", "jpg"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&output).unwrap();
    assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Jpeg);
}

/// Even with --force, the output may not be the photo being repainted.
#[test]
fn the_input_is_never_overwritten() {
    let dir = scratch("self");
    let input = dir.join("p.png");
    photo(&input, 24, 16);
    let before = std::fs::read(&input).unwrap();
    let out = apply(&[s(&input), "-o", s(&input), "--force"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is the input itself"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

/// JSON lines and image bytes cannot share stdout.
#[test]
fn json_with_an_image_on_stdout_is_refused() {
    let dir = scratch("json-stdout");
    let input = dir.join("p.png");
    photo(&input, 24, 16);
    let out = apply(&[s(&input), "-o", "-", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty(), "wrote {} bytes", out.stdout.len());
    assert!(stderr(&out).contains("--json"), "{}", stderr(&out));
}
