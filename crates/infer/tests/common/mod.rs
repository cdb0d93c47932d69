//! Shared by the integration tests: the fixture network and images built in memory.

#![allow(dead_code, unused_imports)]

use std::io::Cursor;

use candle_core::Device;
use faststyle_infer::{Style, StylizeOptions, Stylizer};
pub use faststyle_testkit::{crc32, fixture};
use image::{DynamicImage, ImageFormat, RgbImage};

pub fn style() -> Style {
    Style::load(&fixture("transformer_net.safetensors"), 1.0, &Device::Cpu).unwrap()
}

/// The fixture network with its last layer rescaled so that its output spans the grey levels
/// (mean 128, standard deviation about 60) instead of the fraction of a level a randomly
/// initialised network gives: differences measured on it are differences a viewer would see.
pub fn contrasty_net(probe: &RgbImage) -> faststyle_net::TransformerNet {
    use candle_core::{DType, Tensor};
    let path = fixture("transformer_net.safetensors");
    let mut tensors = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    let net = |t: &std::collections::HashMap<String, Tensor>| {
        let vb = candle_nn::VarBuilder::from_tensors(t.clone(), DType::F32, &Device::Cpu);
        faststyle_net::TransformerNet::new(vb).unwrap()
    };
    let whole = faststyle_infer::Tiling {
        max_untiled_pixels: usize::MAX,
        ..Default::default()
    };
    let out = faststyle_infer::forward::run(&net(&tensors), probe, &whole, &Device::Cpu).unwrap();
    let n = out.len() as f32;
    let mean = out.iter().sum::<f32>() / n;
    let std = (out.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
    let k = 60.0 / std;
    let w = &tensors["deconv3.conv2d.weight"];
    let b = &tensors["deconv3.conv2d.bias"];
    let (w, b) = (
        (w * k as f64).unwrap(),
        b.affine(k as f64, (128.0 - k * mean) as f64).unwrap(),
    );
    tensors.insert("deconv3.conv2d.weight".into(), w);
    tensors.insert("deconv3.conv2d.bias".into(), b);
    net(&tensors)
}

pub fn stylizer(options: StylizeOptions) -> Stylizer {
    Stylizer::new(vec![style()], options, Device::Cpu).unwrap()
}

/// A non-square test picture with edges and gradients, so that networks have something to do.
pub fn photo(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
        let ring = (((fx - 0.4).powi(2) + (fy - 0.5).powi(2)).sqrt() * 20.0).sin();
        image::Rgb([
            (255.0 * fx) as u8,
            (127.0 + 120.0 * ring) as u8,
            if (x / 7 + y / 5) % 2 == 0 { 40 } else { 200 },
        ])
    })
}

pub fn encoded(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A small PNG file whose IHDR claims `w`x`h` RGB pixels, followed by a few bytes of image
/// data and the end chunk, as a malicious or broken file would be.
pub fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit, RGB, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", ihdr.as_slice()),
        (b"IDAT", &[0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1][..]),
        (b"IEND", &[][..]),
    ] {
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    png
}

/// `jpeg` with an EXIF APP1 segment saying `orientation` inserted after its SOI marker.
pub fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big-endian TIFF, first IFD at 8
    exif.extend_from_slice(&1u16.to_be_bytes()); // one entry
    exif.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    exif.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    exif.extend_from_slice(&1u32.to_be_bytes()); // count
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0, 0]); // value padded to 4 bytes
    exif.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&(exif.len() as u16 + 2).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}
