//! The API under bad input and load: every refusal the issue lists, each answered with its
//! status and a one-line JSON reason, and the server still answering afterwards.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use common::{default_server, engine, form, multipart, photo, post_form, post_raw, start, Part};
use faststyle_serve::{
    thumbs, PaintError, PaintOutput, PaintRequest, Painter, ServeConfig, StyleCard,
};
use image::ImageFormat;

fn stylize_url(server: &faststyle_serve::RunningServer) -> String {
    format!("{}/api/stylize", server.url())
}

/// Posts a multipart `body` over a plain connection, sending it from another thread while this
/// one reads the answer. HTTP lets a server answer 413 and close before the upload ends; an
/// ordinary client then fails on its write (a broken pipe) before reading that answer.
/// Returns the status and the answer's body as text.
fn post_expecting_early_answer(url: &str, body: Vec<u8>) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        common::BOUNDARY,
        body.len()
    );
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        // Fails with a broken pipe once the server has answered and closed: expected.
        let _ = writer
            .write_all(head.as_bytes())
            .and_then(|_| writer.write_all(&body));
    });
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(_) if !answer.is_empty() => break,
            Err(e) => panic!("reading the answer: {e}"),
        }
    }
    let _ = sender.join();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Posts `body` and checks the answer is a 400 whose reason contains `expected`.
fn assert_400(url: &str, body: &[u8], expected: &str) {
    let answer = post_form(url, body);
    assert_eq!(
        answer.status,
        400,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let reason = answer.error();
    assert!(reason.contains(expected), "{reason:?} lacks {expected:?}");
}

/// A BMP header that claims `w`x`h` pixels with no pixels behind it: BMP has no checksum, so
/// a dozen bytes of header are enough to claim any size.
fn bmp_claiming(w: i32, h: i32) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"BM");
    b.extend_from_slice(&(54u32 + 1024).to_le_bytes()); // file size (a lie, like the rest)
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&54u32.to_le_bytes()); // pixel data offset
    b.extend_from_slice(&40u32.to_le_bytes()); // BITMAPINFOHEADER
    b.extend_from_slice(&w.to_le_bytes());
    b.extend_from_slice(&h.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // planes
    b.extend_from_slice(&24u16.to_le_bytes()); // bits per pixel
    b.extend_from_slice(&[0; 24]); // no compression, sizes and palette counts 0
    b.extend_from_slice(&[0; 1024]);
    b
}

#[test]
fn bad_inputs_get_400_with_a_reason() {
    let server = default_server();
    let url = stylize_url(&server);
    let png = photo(ImageFormat::Png);

    assert_400(
        &url,
        &form(b"just some text, not a picture", "mosaic", "1", "false"),
        "not an image",
    );
    assert_400(
        &url,
        &form(&png[..png.len() / 2], "mosaic", "1", "false"),
        "corrupt",
    );
    assert_400(
        &url,
        &form(&bmp_claiming(60_000, 60_000), "mosaic", "1", "false"),
        "60000x60000",
    );
    assert_400(
        &url,
        &form(&png, "van-gogh", "1", "false"),
        "unknown style \"van-gogh\" (available: mosaic, plain)",
    );
    assert_400(
        &url,
        &form(&png, "mosaic", "2", "false"),
        "strength must be a number from 0 to 1",
    );
    assert_400(&url, &form(&png, "mosaic", "lots", "false"), "strength");
    assert_400(
        &url,
        &form(&png, "mosaic", "1", "maybe"),
        "preserve_color must be true or false",
    );
    assert_400(&url, &form(b"", "mosaic", "1", "false"), "empty");
    assert_400(
        &url,
        &multipart(&[("style", Part::Text("mosaic"))]),
        "no image",
    );
    assert_400(
        &url,
        &multipart(&[(
            "image",
            Part::File {
                name: "p.png",
                bytes: &png,
            },
        )]),
        "no style",
    );
    assert_400(
        &url,
        &multipart(&[
            (
                "image",
                Part::File {
                    name: "p.png",
                    bytes: &png,
                },
            ),
            ("style", Part::Text("mosaic")),
            ("colour", Part::Text("red")),
        ]),
        "unknown field \"colour\"",
    );
    assert_400(
        &url,
        &multipart(&[
            ("style", Part::Text("mosaic")),
            ("style", Part::Text("plain")),
        ]),
        "given twice",
    );

    let json = post_raw(&url, "application/json", br#"{"style":"mosaic"}"#);
    assert_eq!(json.status, 400);
    assert!(
        json.error().contains("multipart/form-data"),
        "{}",
        json.error()
    );

    // After all that, a good request still works.
    assert_eq!(
        post_form(&url, &form(&png, "mosaic", "1", "false")).status,
        200
    );
}

#[test]
fn uploads_over_the_limit_get_413() {
    let config = ServeConfig {
        max_upload_bytes: 100_000,
        ..ServeConfig::default()
    };
    let server = start(engine(), config);
    let url = stylize_url(&server);
    // Incompressible bytes, so the body really is this large on the wire.
    let mut seed = 0x2545_f491_u32;
    let big: Vec<u8> = (0..150_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        })
        .collect();
    let (status, body) = post_expecting_early_answer(&url, form(&big, "mosaic", "1", "false"));
    assert_eq!(status, 413, "{body}");
    assert!(
        body.contains(r#"{"error":"the upload is larger than the limit of 0.1 MB"}"#),
        "{body}"
    );
    // Far over the limit: refused by the body limit itself, with the same reason.
    let huge = vec![7u8; 3_000_000];
    let (status, body) = post_expecting_early_answer(&url, form(&huge, "mosaic", "1", "false"));
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("limit of 0.1 MB"), "{body}");
    // Just under the limit is fine.
    let png = photo(ImageFormat::Png);
    assert!(png.len() < 100_000);
    assert_eq!(
        post_form(&url, &form(&png, "mosaic", "1", "false")).status,
        200
    );
}

/// A painter whose calls block until the test opens the gate, counting them; or that sleeps,
/// or panics, to exercise the server's handling of slow and failing work.
struct FakePainter {
    cards: Vec<StyleCard>,
    behaviour: Behaviour,
    calls: AtomicUsize,
    open: Arc<(Mutex<bool>, Condvar)>,
}

enum Behaviour {
    WaitForGate,
    Sleep(Duration),
    Panic,
}

impl FakePainter {
    fn new(behaviour: Behaviour) -> Arc<Self> {
        let card = StyleCard {
            name: "fake".into(),
            title: Some("Fake".into()),
            artist: None,
            year: None,
            thumbnail: Arc::new(thumbs::placeholder("fake")),
        };
        Arc::new(FakePainter {
            cards: vec![card],
            behaviour,
            calls: AtomicUsize::new(0),
            open: Arc::new((Mutex::new(false), Condvar::new())),
        })
    }

    fn open_gate(&self) {
        let (lock, cvar) = &*self.open;
        *lock.lock().unwrap() = true;
        cvar.notify_all();
    }
}

impl Painter for FakePainter {
    fn styles(&self) -> &[StyleCard] {
        &self.cards
    }

    fn paint(&self, request: &PaintRequest) -> Result<PaintOutput, PaintError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.behaviour {
            Behaviour::WaitForGate => {
                let (lock, cvar) = &*self.open;
                let guard = lock.lock().unwrap();
                // Bounded, so a broken test ends instead of hanging.
                let (open, _) = cvar
                    .wait_timeout_while(guard, Duration::from_secs(60), |open| !*open)
                    .unwrap();
                assert!(*open, "the test never opened the gate");
            }
            Behaviour::Sleep(d) => std::thread::sleep(d),
            Behaviour::Panic => panic!("the painter broke"),
        }
        Ok(PaintOutput {
            bytes: request.image.clone(),
            content_type: "image/png",
            extension: "png",
            width: 1,
            height: 1,
        })
    }
}

#[test]
fn past_the_queue_requests_get_503_and_the_admitted_ones_finish() {
    let painter = FakePainter::new(Behaviour::WaitForGate);
    let config = ServeConfig {
        workers: 1,
        queue: 1,
        ..ServeConfig::default()
    };
    let server = start(painter.clone(), config);
    let url = stylize_url(&server);
    let body = Arc::new(form(&photo(ImageFormat::Png), "fake", "1", "false"));

    // Four at once: one runs, one waits, two are turned away. The painter holds the first
    // two until the refusals are in, so the split does not depend on timing.
    let (tx, rx) = mpsc::channel();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (tx, url, body) = (tx.clone(), url.clone(), body.clone());
            std::thread::spawn(move || tx.send(post_form(&url, &body)).unwrap())
        })
        .collect();
    let first_two: Vec<_> = (0..2)
        .map(|_| rx.recv_timeout(Duration::from_secs(60)).unwrap())
        .collect();
    for refused in &first_two {
        assert_eq!(refused.status, 503);
        assert!(refused.error().contains("busy"), "{}", refused.error());
        assert_eq!(refused.header("retry-after"), Some("5"));
    }
    painter.open_gate();
    let last_two: Vec<_> = (0..2)
        .map(|_| rx.recv_timeout(Duration::from_secs(60)).unwrap())
        .collect();
    assert!(last_two.iter().all(|a| a.status == 200), "{last_two:?}");
    clients.into_iter().for_each(|c| c.join().unwrap());
    // Only the admitted two ever reached the painter.
    assert_eq!(painter.calls.load(Ordering::SeqCst), 2);
}

#[test]
fn a_request_past_its_time_limit_gets_503_and_frees_its_place() {
    let painter = FakePainter::new(Behaviour::Sleep(Duration::from_millis(1500)));
    let config = ServeConfig {
        workers: 1,
        queue: 0,
        request_timeout: Duration::from_millis(300),
        ..ServeConfig::default()
    };
    let server = start(painter.clone(), config);
    let url = stylize_url(&server);
    let body = form(&photo(ImageFormat::Png), "fake", "1", "false");
    let answer = post_form(&url, &body);
    assert_eq!(answer.status, 503);
    assert!(
        answer.error().contains("longer than the limit of 0.3 s"),
        "{}",
        answer.error()
    );
    // The core stays busy until the abandoned repaint really ends; then the place is free.
    std::thread::sleep(Duration::from_millis(1600));
    let again = post_form(&url, &body);
    assert_eq!(
        again.status, 503,
        "the second one times out too, but it was admitted"
    );
    assert!(again.error().contains("longer than"), "{}", again.error());
    assert_eq!(painter.calls.load(Ordering::SeqCst), 2);
}

#[test]
fn a_panicking_painter_gets_500_and_the_server_goes_on() {
    let painter = FakePainter::new(Behaviour::Panic);
    let config = ServeConfig {
        workers: 1,
        queue: 0,
        ..ServeConfig::default()
    };
    let server = start(painter, config);
    let url = stylize_url(&server);
    let body = form(&photo(ImageFormat::Png), "fake", "1", "false");
    for _ in 0..2 {
        let answer = post_form(&url, &body);
        assert_eq!(answer.status, 500);
        assert!(
            answer.error().contains("repaint failed"),
            "{}",
            answer.error()
        );
    }
    assert_eq!(
        common::get(&format!("{}/api/styles", server.url())).status,
        200
    );
}
