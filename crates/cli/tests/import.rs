//! `faststyle import`, run as a user would: exit codes, messages, and the file it writes.

mod common;

use std::ffi::OsStr;
use std::process::Output;

use common::{assert_user_error, faststyle, fixture, stderr, temp_dir};

use candle_core::Device;

fn import(args: &[&dyn AsRef<OsStr>]) -> Output {
    let args: Vec<&OsStr> = std::iter::once(OsStr::new("import"))
        .chain(args.iter().map(|a| a.as_ref()))
        .collect();
    faststyle(&args)
}

/// Both formats of the fixture network give exactly the tensors of the safetensors fixture,
/// hence its output (the forward pass against PyTorch's is checked in faststyle-net's tests).
#[test]
fn imports_zip_and_legacy_checkpoints_exactly() {
    let dir = temp_dir("ok");
    let reference =
        candle_core::safetensors::load(fixture("transformer_net.safetensors"), &Device::Cpu)
            .unwrap();
    for (pth, format) in [
        ("transformer_net.pth", "zip"),
        ("transformer_net_legacy.pth", "legacy"),
    ] {
        let out_path = dir.join(format!("{format}.safetensors"));
        let out = import(&[&fixture(pth), &out_path]);
        assert!(out.status.success(), "{}", stderr(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let expected = format!("62 tensors from a {format} checkpoint");
        assert!(stdout.contains(&expected), "{stdout}");
        let imported = candle_core::safetensors::load(&out_path, &Device::Cpu).unwrap();
        assert_eq!(
            imported.len(),
            reference.len(),
            "{pth}: stale keys were kept"
        );
        for (name, t) in &reference {
            let diff = (&imported[name] - t).unwrap().abs().unwrap();
            let diff = diff.flatten_all().unwrap().max(0).unwrap();
            assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0, "{pth}: {name}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn name_f16_and_force() {
    let dir = temp_dir("options");
    let out_path = dir.join("out.safetensors");
    let pth = fixture("transformer_net.pth");
    let out = import(&[&pth, &out_path, &"--name", &"candy", &"--f16"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let meta = faststyle_net::read_meta(&out_path).unwrap().unwrap();
    assert_eq!(meta.style.name, "candy");
    // f16: two bytes a parameter, 1,679,235 parameters.
    let size = std::fs::metadata(&out_path).unwrap().len();
    assert!(size < 3_400_000, "{size}");

    let out = import(&[&pth, &out_path]);
    assert_user_error(
        &out,
        "out.safetensors: already exists (use --force to replace it)",
    );
    let out = import(&[&pth, &out_path, &"--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let meta = faststyle_net::read_meta(&out_path).unwrap().unwrap();
    assert_eq!(meta.style.name, "transformer_net");
    assert!(std::fs::metadata(&out_path).unwrap().len() > 6_700_000);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_bad_input_is_one_line_naming_the_file() {
    let dir = temp_dir("errors");
    let out_path = dir.join("out.safetensors");
    let out = import(&[&dir.join("missing.pth"), &out_path]);
    assert_user_error(&out, "missing.pth: no such file");

    let out = import(&[&fixture("content_72x52.png"), &out_path]);
    assert_user_error(&out, "content_72x52.png: not a PyTorch checkpoint");

    let out = import(&[&fixture("pth_cases_legacy.pth"), &out_path]);
    assert_user_error(
        &out,
        "pth_cases_legacy.pth: not a fast_neural_style transformer-net (missing conv1.conv2d.bias",
    );

    let out = import(&[&fixture("whole_module.pth"), &out_path]);
    assert_user_error(
        &out,
        "whole_module.pth: not a fast_neural_style transformer-net (no state dict found; \
         save the model's state_dict(), not the model)",
    );

    let truncated = dir.join("truncated.pth");
    let bytes = std::fs::read(fixture("transformer_net.pth")).unwrap();
    std::fs::write(&truncated, &bytes[..4096]).unwrap();
    let out = import(&[&truncated, &out_path]);
    assert_user_error(&out, "truncated.pth: corrupt PyTorch checkpoint");

    let pth = fixture("transformer_net.pth");
    let out = import(&[&pth, &dir.join("no/out.safetensors")]);
    assert_user_error(&out, "no: no such directory");

    let out = import(&[&pth, &out_path, &"--name", &"a/b"]);
    assert_user_error(&out, "invalid style name \"a/b\"");

    let out = import(&[&pth, &dir.join("out.png")]);
    assert_user_error(&out, "out.png: the output must be a .safetensors file");
    let out = import(&[&dir, &out_path]);
    assert_user_error(&out, "is a folder, expected a checkpoint file");

    let copy = dir.join("copy.safetensors");
    std::fs::copy(fixture("transformer_net.safetensors"), &copy).unwrap();
    let out = import(&[&copy, &copy, &"--force"]);
    assert_user_error(&out, "input and output are the same file");

    assert!(!out_path.exists(), "nothing is written on failure");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A faststyle checkpoint re-saved for shipping: f16, the painting's details added, its other
/// metadata and (within f16 rounding) its weights kept.
#[test]
fn resaves_a_faststyle_checkpoint_with_painting_details() {
    let dir = temp_dir("resave");
    let named = dir.join("named.safetensors");
    let out = import(&[
        &fixture("transformer_net.pth"),
        &named,
        &"--name",
        &"starry",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shipped = dir.join("shipped.safetensors");
    let out = import(&[
        &named,
        &shipped,
        &"--f16",
        &"--title",
        &"The Starry Night",
        &"--artist",
        &"Vincent van Gogh",
        &"--year",
        &"1889",
        &"--licence",
        &"public domain",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let meta = faststyle_net::read_meta(&shipped).unwrap().unwrap();
    assert_eq!(meta.style.name, "starry");
    assert_eq!(meta.style.title.as_deref(), Some("The Starry Night"));
    assert_eq!(meta.style.artist.as_deref(), Some("Vincent van Gogh"));
    assert_eq!(meta.style.year.as_deref(), Some("1889"));
    assert_eq!(meta.style.licence.as_deref(), Some("public domain"));
    let before = faststyle_net::read_meta(&named).unwrap().unwrap();
    assert_eq!(meta.training, before.training);
    let size = std::fs::metadata(&shipped).unwrap().len();
    assert!(size < 3_400_000, "{size}");
    let (a, b) = (
        candle_core::safetensors::load(&named, &Device::Cpu).unwrap(),
        candle_core::safetensors::load(&shipped, &Device::Cpu).unwrap(),
    );
    for (name, t) in &a {
        let t2 = b[name].to_dtype(candle_core::DType::F32).unwrap();
        let diff = (&t2 - t).unwrap().abs().unwrap().flatten_all().unwrap();
        let scale = t.abs().unwrap().flatten_all().unwrap().max(0).unwrap();
        let (diff, scale) = (
            diff.max(0).unwrap().to_scalar::<f32>().unwrap(),
            scale.to_scalar::<f32>().unwrap(),
        );
        assert!(diff <= 1e-3 * scale.max(1e-3), "{name}: {diff} of {scale}");
    }

    let out = import(&[&fixture("content_72x52.png"), &dir.join("x.safetensors")]);
    assert_user_error(&out, "content_72x52.png: not a PyTorch checkpoint");
    let not_a_checkpoint = dir.join("bad.safetensors");
    std::fs::write(&not_a_checkpoint, b"not safetensors").unwrap();
    let out = import(&[&not_a_checkpoint, &dir.join("y.safetensors")]);
    assert_user_error(&out, "bad.safetensors: not a safetensors file");
    let out = import(&[&named, &dir.join("z.safetensors"), &"--name", &"../up"]);
    assert_user_error(&out, "invalid style name \"../up\"");
    let out = import(&[
        &named,
        &dir.join("w.safetensors"),
        &"--title",
        &"Two\nlines",
    ]);
    assert_user_error(&out, "--title");
    assert!(stderr(&out).contains("one line"), "{}", stderr(&out));
    let out = import(&[&named, &dir.join("w.safetensors"), &"--title", &"A\n\nB"]);
    assert_user_error(&out, "for '--title <TITLE>'");
    let out = import(&[&named, &dir.join("w.safetensors"), &"--artist", &"  "]);
    assert_user_error(&out, "--artist");
    assert!(!dir.join("w.safetensors").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
