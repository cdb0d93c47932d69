//! Decoding the kinds of input photos users have, each built in the test.

mod common;

use common::*;
use faststyle_infer::{decode, encode, DecodeLimits, InferError, OutputFormat, Picture};
use image::{DynamicImage, GrayImage, ImageFormat, Rgb, RgbaImage};

fn limits() -> DecodeLimits {
    DecodeLimits::default()
}

#[test]
fn grayscale_jpeg_becomes_grey_rgb() {
    let gray = GrayImage::from_fn(40, 30, |x, y| image::Luma([(x * 5 + y * 2) as u8]));
    let bytes = encoded(DynamicImage::ImageLuma8(gray), ImageFormat::Jpeg);
    let pic = decode(&bytes, &limits()).unwrap();
    assert_eq!((pic.width(), pic.height()), (40, 30));
    assert!(pic.alpha.is_none());
    assert!(pic.rgb.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
}

#[test]
fn rgba_png_keeps_its_alpha_exactly_through_stylisation() {
    let rgba = RgbaImage::from_fn(37, 23, |x, y| {
        image::Rgba([x as u8 * 6, y as u8 * 10, 99, (x * 7 + y * 3) as u8])
    });
    let bytes = encoded(DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Png);
    let pic = decode(&bytes, &limits()).unwrap();
    let alpha_in = pic.alpha.clone().unwrap();
    assert!(alpha_in
        .pixels()
        .zip(rgba.pixels())
        .all(|(a, p)| a[0] == p[3]));

    let out = stylizer(Default::default()).stylize(pic).unwrap();
    assert_eq!(out.alpha.as_ref(), Some(&alpha_in));
    let png = encode(out, OutputFormat::Png).unwrap();
    let back = image::load_from_memory(&png).unwrap().into_rgba8();
    assert_eq!((back.width(), back.height()), (37, 23));
    assert!(back.pixels().zip(rgba.pixels()).all(|(b, p)| b[3] == p[3]));
}

#[test]
fn sixteen_bit_png_is_read_at_8_bits() {
    let deep = image::ImageBuffer::<Rgb<u16>, _>::from_fn(20, 14, |x, _| {
        Rgb([0x8080, (x as u16) * 0x0101 * 10, 0xFFFF])
    });
    let bytes = encoded(DynamicImage::ImageRgb16(deep), ImageFormat::Png);
    let pic = decode(&bytes, &limits()).unwrap();
    assert_eq!((pic.width(), pic.height()), (20, 14));
    assert_eq!(pic.rgb.get_pixel(3, 5).0, [128, 30, 255]);
}

#[test]
fn exif_orientation_is_applied() {
    // Left half red, right half blue; orientation 6 means "rotate 90 degrees clockwise to
    // display", which puts the left half on top.
    let img = image::RgbImage::from_fn(30, 20, |x, _| {
        if x < 15 {
            Rgb([250, 0, 0])
        } else {
            Rgb([0, 0, 250])
        }
    });
    let jpeg = encoded(DynamicImage::ImageRgb8(img), ImageFormat::Jpeg);
    let pic = decode(&with_exif_orientation(&jpeg, 6), &limits()).unwrap();
    assert_eq!((pic.width(), pic.height()), (20, 30));
    assert!(pic.rgb.get_pixel(10, 3)[0] > 200, "top should be red");
    assert!(pic.rgb.get_pixel(10, 26)[2] > 200, "bottom should be blue");
}

#[test]
fn truncated_files_are_errors() {
    let img = DynamicImage::ImageRgb8(photo(64, 48));
    for format in [ImageFormat::Png, ImageFormat::Jpeg] {
        let bytes = encoded(img.clone(), format);
        let cut = &bytes[..bytes.len() / 2];
        let err = decode(cut, &limits()).unwrap_err();
        assert!(matches!(err, InferError::Corrupt(_)), "{format:?}: {err}");
    }
}

#[test]
fn absurd_header_is_refused_before_decoding() {
    let err = decode(&png_claiming(100_000, 100_000), &limits()).unwrap_err();
    match err {
        InferError::TooLarge { width, height, .. } => {
            assert_eq!((width, height), (100_000, 100_000))
        }
        other => panic!("expected TooLarge, got {other}"),
    }
    let text = decode(&png_claiming(100_000, 100_000), &limits())
        .unwrap_err()
        .to_string();
    assert!(text.contains("100000x100000"), "{text}");
}

#[test]
fn not_an_image_is_named_so() {
    let err = decode(b"just some text, certainly not pixels", &limits()).unwrap_err();
    assert!(matches!(err, InferError::NotAnImage), "{err}");
}

#[test]
fn encode_round_trips_every_format() {
    let pic = Picture {
        rgb: photo(19, 11),
        alpha: None,
    };
    for ext in ["png", "JPG", "jpeg", "webp", "bmp", "tiff"] {
        let format = OutputFormat::from_extension(ext).unwrap();
        let bytes = encode(pic.clone(), format).unwrap();
        let back = decode(&bytes, &limits()).unwrap();
        assert_eq!((back.width(), back.height()), (19, 11), "{ext}");
    }
    assert!(OutputFormat::from_extension("xyz").is_none());
}

#[test]
fn palette_png_with_transparency_becomes_rgb_and_alpha() {
    let (w, h) = (9u32, 5u32);
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, w, h);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_palette(vec![255, 0, 0, 0, 255, 0, 0, 0, 255]);
        encoder.set_trns(vec![255, 128, 0]);
        let mut writer = encoder.write_header().unwrap();
        let indices: Vec<u8> = (0..w * h).map(|i| (i % 3) as u8).collect();
        writer.write_image_data(&indices).unwrap();
    }
    let pic = decode(&bytes, &limits()).unwrap();
    assert_eq!((pic.width(), pic.height()), (9, 5));
    assert_eq!(pic.rgb.get_pixel(1, 0).0, [0, 255, 0]);
    let alpha = pic.alpha.unwrap();
    assert_eq!([0, 1, 2].map(|x| alpha.get_pixel(x, 0)[0]), [255, 128, 0]);
}

#[test]
fn cmyk_jpeg_becomes_rgb_with_its_colours() {
    // Left half pure cyan (C=255), right half pure yellow (Y=255), no black: cyan has little
    // red, yellow has little blue.
    let (w, h) = (32u16, 16u16);
    let mut cmyk = Vec::new();
    for _ in 0..h {
        for x in 0..w {
            let pixel = if x < w / 2 {
                [255, 0, 0, 0]
            } else {
                [0, 0, 255, 0]
            };
            cmyk.extend_from_slice(&pixel);
        }
    }
    let mut bytes = Vec::new();
    jpeg_encoder::Encoder::new(&mut bytes, 95)
        .encode(&cmyk, w, h, jpeg_encoder::ColorType::Cmyk)
        .unwrap();
    let pic = decode(&bytes, &limits()).unwrap();
    assert_eq!((pic.width(), pic.height()), (32, 16));
    let cyan = pic.rgb.get_pixel(4, 8);
    let yellow = pic.rgb.get_pixel(28, 8);
    assert!(
        cyan[0] < 80 && cyan[1] > 170 && cyan[2] > 170,
        "cyan came out as {cyan:?}"
    );
    assert!(
        yellow[0] > 170 && yellow[1] > 170 && yellow[2] < 80,
        "yellow came out as {yellow:?}"
    );
}
