//! The network path: any size in, the same size out; tiles agree with whole-image runs;
//! blends and options behave.

mod common;

use candle_core::Device;
use common::*;
use faststyle_infer::{forward, Picture, Style, StylizeOptions, Stylizer, Tiling};

fn picture(w: u32, h: u32) -> Picture {
    Picture {
        rgb: photo(w, h),
        alpha: None,
    }
}

#[test]
fn odd_and_tiny_sizes_come_back_at_their_size() {
    let s = stylizer(StylizeOptions::default());
    for (w, h) in [(257, 131), (3, 2), (1, 1), (5, 40)] {
        let out = s.stylize(picture(w, h)).unwrap();
        assert_eq!((out.width(), out.height()), (w, h));
    }
}

#[test]
fn tiled_and_whole_runs_differ_by_a_few_grey_levels_at_most() {
    let rgb = photo(180, 124);
    let net = contrasty_net(&rgb);
    let whole = Tiling {
        max_untiled_pixels: usize::MAX,
        ..Tiling::default()
    };
    let tiled = Tiling {
        max_untiled_pixels: 256,
        tile: 48,
        context: forward::RECEPTIVE_RADIUS,
        blend: 8,
        stats_max_pixels: usize::MAX,
    };
    let a = forward::run(&net, &rgb, &whole, &Device::Cpu).unwrap();
    let b = forward::run(&net, &rgb, &tiled, &Device::Cpu).unwrap();
    assert_eq!(a.len(), b.len());
    let mean = a.iter().sum::<f32>() / a.len() as f32;
    let spread = a.iter().map(|v| (v - mean).abs()).sum::<f32>() / a.len() as f32;
    assert!(
        spread > 20.0,
        "the network's output should span the grey levels: {spread}"
    );
    let max_diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x.clamp(0.0, 255.0) - y.clamp(0.0, 255.0)).abs())
        .fold(0.0f32, f32::max);
    eprintln!("tiled vs whole: max difference {max_diff:.3} grey levels");
    // Only pixels a receptive field away from tile edges are used: equal up to rounding.
    assert!(max_diff <= 1.0, "max difference {max_diff}");
}

#[test]
fn tiles_with_downscaled_statistics_cover_the_image() {
    let s = stylizer(StylizeOptions {
        tiling: Tiling {
            max_untiled_pixels: 256,
            tile: 64,
            context: 16,
            blend: 8,
            stats_max_pixels: 40 * 30,
        },
        ..Default::default()
    });
    let out = s.stylize(picture(150, 97)).unwrap();
    assert_eq!((out.width(), out.height()), (150, 97));
}

#[test]
fn a_blend_of_one_network_with_itself_is_that_network() {
    let single = stylizer(StylizeOptions::default());
    let mut a = style();
    a.weight = 0.7;
    let mut b = style();
    b.weight = 0.3;
    let blend = Stylizer::new(vec![a, b], StylizeOptions::default(), Device::Cpu).unwrap();
    let pic = picture(30, 22);
    let x = single.paint(&pic).unwrap().rgb;
    let y = blend.paint(&pic).unwrap().rgb;
    // Equal up to rounding at half-levels: 0.7 v + 0.3 v is not always exactly v in f32.
    assert!(x
        .as_raw()
        .iter()
        .zip(y.as_raw())
        .all(|(p, q)| p.abs_diff(*q) <= 1));
}

#[test]
fn max_size_resizes_the_long_side_and_keeps_the_aspect() {
    let s = stylizer(StylizeOptions {
        max_size: Some(40),
        ..Default::default()
    });
    let out = s.stylize(picture(100, 50)).unwrap();
    assert_eq!((out.width(), out.height()), (40, 20));
}

#[test]
fn bad_options_are_refused() {
    let with = |strength: f32, weight: f32| {
        let mut st: Style = style();
        st.weight = weight;
        let options = StylizeOptions {
            strength,
            ..Default::default()
        };
        Stylizer::new(vec![st], options, Device::Cpu)
    };
    assert!(with(1.5, 1.0).is_err());
    assert!(with(0.5, -1.0).is_err());
    assert!(with(0.5, 0.0).is_err());
    assert!(with(0.5, 2.0).is_ok());
}

#[test]
fn an_empty_picture_is_an_error_not_a_panic() {
    let empty = Picture {
        rgb: image::RgbImage::new(0, 0),
        alpha: None,
    };
    assert!(stylizer(StylizeOptions::default()).stylize(empty).is_err());
}
