//! `faststyle optimize`, run as a user would: a tiny repaint, and every bad input one line with
//! the file named and exit code 2.

mod common;

use std::process::Output;

use common::{assert_user_error, faststyle, repo, stderr, temp_dir};

fn optimize(args: &[&str]) -> Output {
    faststyle(&[&["optimize"], args].concat())
}

const PHOTO: &str = "tests/fixtures/content_72x52.png";
const PAINTING: &str = "tests/fixtures/style_96x80.png";

/// Two iterations at 48 pixels: the result has the photo's aspect ratio and is not the photo.
#[test]
fn repaints_a_photo_with_the_photos_aspect_ratio() {
    let dir = temp_dir("optimize");
    let out_path = dir.join("out.png");
    let out = optimize(&[
        "--content",
        PHOTO,
        "--style",
        PAINTING,
        "--size",
        "48",
        "--iterations",
        "2",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let result = image::open(&out_path).unwrap().to_rgb8();
    // 72x52 scaled to a long side of 48: 48x35 (34.67 rounded).
    assert_eq!(result.dimensions(), (48, 35));
    let photo = image::open(repo().join(PHOTO)).unwrap().to_rgb8();
    let photo = image::imageops::resize(&photo, 48, 35, image::imageops::FilterType::Lanczos3);
    let moved = result
        .as_raw()
        .iter()
        .zip(photo.as_raw())
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        moved > result.as_raw().len() / 2,
        "only {moved} values changed"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_inputs_are_one_line_naming_the_file() {
    let dir = temp_dir("optimize-errors");
    let out_path = dir.join("out.png");
    let out_arg = out_path.to_str().unwrap();
    let base = |content: &str, style: &str, output: &str| {
        optimize(&[
            "--content",
            content,
            "--style",
            style,
            "--size",
            "32",
            "--iterations",
            "1",
            "-o",
            output,
        ])
    };
    assert_user_error(&base("missing.jpg", PAINTING, out_arg), "missing.jpg");
    // clap lists missing options one per line; the user still gets one line naming them all.
    let out = faststyle(&["optimize", "--content", PHOTO]);
    assert_user_error(
        &out,
        "not provided: --style <IMAGE[:WEIGHT]> --output <IMAGE>",
    );
    let text = dir.join("notes.png");
    std::fs::write(&text, b"not an image").unwrap();
    assert_user_error(
        &base(PHOTO, text.to_str().unwrap(), out_arg),
        "notes.png: not an image",
    );
    let truncated = dir.join("cut.png");
    let bytes = std::fs::read(repo().join(PHOTO)).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let out = base(truncated.to_str().unwrap(), PAINTING, out_arg);
    assert_user_error(&out, "cut.png");
    let bad_ext = dir.join("out.xyz");
    assert_user_error(&base(PHOTO, PAINTING, bad_ext.to_str().unwrap()), "out.xyz");
    std::fs::write(&out_path, b"keep me").unwrap();
    assert_user_error(&base(PHOTO, PAINTING, out_arg), "already exists");
    assert_eq!(std::fs::read(&out_path).unwrap(), b"keep me");
    let folder = dir.join("folder.png");
    std::fs::create_dir_all(&folder).unwrap();
    let out = optimize(&[
        "--content",
        PHOTO,
        "--style",
        PAINTING,
        "--size",
        "32",
        "--iterations",
        "1",
        "--force",
        "-o",
        folder.to_str().unwrap(),
    ]);
    assert_user_error(&out, "folder.png: is a folder");
    let nowhere = dir.join("no/such/dir/out.png");
    assert_user_error(&base(PHOTO, PAINTING, nowhere.to_str().unwrap()), "no");
    let weighted = format!("{PAINTING}:-1");
    assert_user_error(
        &base(PHOTO, &weighted, dir.join("w.png").to_str().unwrap()),
        "weight",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
