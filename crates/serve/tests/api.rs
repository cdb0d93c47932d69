//! The API's happy paths against a real server on 127.0.0.1 with the random-weights fixture
//! network: the page, the style list, thumbnails, and repaints in several formats.

mod common;

use common::{default_server, engine_with, form, get, photo, post_form, start};
use faststyle_infer::Tiling;
use faststyle_serve::{EngineOptions, ServeConfig};
use image::{GenericImageView, ImageFormat};

#[test]
fn page_and_its_assets_are_served_and_fetch_nothing_from_elsewhere() {
    let server = default_server();
    let page = get(&format!("{}/", server.url()));
    assert_eq!(page.status, 200);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    let html = String::from_utf8(page.body.clone()).unwrap();
    assert!(html.contains(r#"src="/app.js""#) && html.contains(r#"href="/style.css""#));
    for asset in ["/", "/app.js", "/style.css"] {
        let a = get(&format!("{}{asset}", server.url()));
        assert_eq!(a.status, 200, "{asset}");
        let text = String::from_utf8(a.body).unwrap();
        // No CDN, no web fonts: nothing in the page names another host.
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{asset}"
        );
        assert!(
            !text.contains("@import") && !text.contains("url(http"),
            "{asset}"
        );
    }
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'self'"), "{csp}");
}

#[test]
fn styles_list_names_and_thumbnail_urls_that_answer_images() {
    let server = default_server();
    let list = get(&format!("{}/api/styles", server.url()));
    assert_eq!(list.status, 200);
    let json = list.json();
    assert_eq!(json["max_upload_bytes"], 20_000_000);
    let styles = json["styles"].as_array().unwrap();
    let names: Vec<&str> = styles.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["mosaic", "plain"]);
    // The fixture network carries no painting metadata: title and artist are null, not absent.
    assert!(styles[0]["title"].is_null() && styles[0].get("artist").is_some());

    let thumb = |i: usize| {
        get(&format!(
            "{}{}",
            server.url(),
            styles[i]["thumbnail"].as_str().unwrap()
        ))
    };
    let with_preview = thumb(0);
    assert_eq!(with_preview.status, 200);
    assert_eq!(with_preview.content_type, "image/jpeg");
    // The 96x80 preview is scaled up to the thumbnail side, keeping its proportions.
    let img = image::load_from_memory(&with_preview.body).unwrap();
    assert_eq!(img.dimensions(), (240, 200));

    let placeholder = thumb(1);
    assert_eq!(placeholder.status, 200);
    assert_eq!(placeholder.content_type, "image/svg+xml");
    assert!(String::from_utf8(placeholder.body)
        .unwrap()
        .contains(">plain</text>"));

    let missing = get(&format!("{}/api/styles/nope/thumbnail", server.url()));
    assert_eq!(missing.status, 404);
    assert!(missing.error().contains("nope"));
}

#[test]
fn png_is_repainted_at_its_own_size_and_answered_as_png() {
    let server = default_server();
    let input = photo(ImageFormat::Png);
    let answer = post_form(
        &format!("{}/api/stylize", server.url()),
        &form(&input, "mosaic", "1", "false"),
    );
    assert_eq!(
        answer.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.content_type, "image/png");
    assert_eq!(answer.header("x-image-width"), Some("72"));
    assert_eq!(answer.header("x-image-height"), Some("52"));
    let disposition = answer.header("content-disposition").unwrap_or_default();
    assert!(
        disposition.contains("faststyle-mosaic.png"),
        "{disposition}"
    );
    let out = image::load_from_memory_with_format(&answer.body, ImageFormat::Png)
        .unwrap()
        .into_rgb8();
    let photo = image::load_from_memory(&input).unwrap().into_rgb8();
    assert_eq!(out.dimensions(), (72, 52));
    let changed = out
        .pixels()
        .zip(photo.pixels())
        .filter(|(a, b)| a != b)
        .count();
    assert!(changed > 72 * 52 / 2, "only {changed} pixels changed");
}

#[test]
fn strength_zero_gives_back_the_photo_and_keep_colours_changes_the_result() {
    let server = default_server();
    let url = format!("{}/api/stylize", server.url());
    let input = photo(ImageFormat::Png);
    let decode = |body: &[u8]| image::load_from_memory(body).unwrap().into_rgb8();

    let none = post_form(&url, &form(&input, "mosaic", "0", "false"));
    assert_eq!(none.status, 200);
    assert_eq!(decode(&none.body), decode(&input));

    let full = post_form(&url, &form(&input, "mosaic", "1", "false"));
    let kept = post_form(&url, &form(&input, "mosaic", "1", "on"));
    assert_eq!((full.status, kept.status), (200, 200));
    assert_ne!(decode(&full.body), decode(&kept.body));
}

#[test]
fn jpeg_is_answered_as_jpeg_and_gif_as_png() {
    let server = default_server();
    let url = format!("{}/api/stylize", server.url());
    let jpeg = post_form(
        &url,
        &form(&photo(ImageFormat::Jpeg), "plain", "0.5", "false"),
    );
    assert_eq!(jpeg.status, 200);
    assert_eq!(jpeg.content_type, "image/jpeg");
    let img = image::load_from_memory_with_format(&jpeg.body, ImageFormat::Jpeg).unwrap();
    assert_eq!(img.dimensions(), (72, 52));

    let gif = post_form(
        &url,
        &form(&photo(ImageFormat::Gif), "plain", "0.5", "false"),
    );
    assert_eq!(gif.status, 200);
    assert_eq!(gif.content_type, "image/png");
    let img = image::load_from_memory_with_format(&gif.body, ImageFormat::Png).unwrap();
    assert_eq!(img.dimensions(), (72, 52));
}

#[test]
fn unknown_paths_answer_json_404() {
    let server = default_server();
    let answer = get(&format!("{}/api/nothing-here", server.url()));
    assert_eq!(answer.status, 404);
    assert_eq!(answer.error(), "no such page");
}

#[test]
fn a_photo_over_the_tiling_threshold_comes_back_at_its_size() {
    // Tiles far smaller than the default, so a small photo takes the tiled path quickly.
    let tiling = Tiling {
        max_untiled_pixels: 96 * 96,
        tile: 64,
        stats_max_pixels: 96 * 96,
        ..Tiling::default()
    };
    let options = EngineOptions {
        tiling,
        ..EngineOptions::default()
    };
    let server = start(engine_with(options), ServeConfig::default());
    let small = image::load_from_memory(&photo(ImageFormat::Png)).unwrap();
    let big = small.resize_exact(200, 150, image::imageops::FilterType::Triangle);
    let mut jpeg = std::io::Cursor::new(Vec::new());
    big.to_rgb8()
        .write_to(&mut jpeg, ImageFormat::Jpeg)
        .unwrap();
    let url = format!("{}/api/stylize", server.url());
    let answer = post_form(&url, &form(jpeg.get_ref(), "mosaic", "1", "false"));
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let out = image::load_from_memory_with_format(&answer.body, ImageFormat::Jpeg).unwrap();
    assert_eq!(out.dimensions(), (200, 150));
}

#[test]
fn transparency_survives_a_png_round_trip() {
    let server = default_server();
    let mut rgba = image::RgbaImage::from_pixel(40, 30, image::Rgba([90, 160, 220, 255]));
    for (x, _, px) in rgba.enumerate_pixels_mut() {
        px[3] = if x < 20 { 0 } else { 255 };
    }
    let mut png = std::io::Cursor::new(Vec::new());
    rgba.write_to(&mut png, ImageFormat::Png).unwrap();
    let url = format!("{}/api/stylize", server.url());
    let answer = post_form(&url, &form(png.get_ref(), "plain", "1", "false"));
    assert_eq!(answer.status, 200);
    let out = image::load_from_memory(&answer.body).unwrap().into_rgba8();
    assert_eq!(out.dimensions(), (40, 30));
    assert!(out
        .enumerate_pixels()
        .all(|(x, _, px)| px[3] == if x < 20 { 0 } else { 255 }));
}
