//! Shared by the API tests: a checkpoints directory made from the test fixtures, a server on
//! an ephemeral loopback port, a multipart body builder and a plain HTTP client.

#![allow(dead_code, unused_imports)] // each test binary uses a different part

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use faststyle_infer::catalog::Catalog;
use faststyle_serve::{Engine, EngineOptions, Painter, RunningServer, ServeConfig};
pub use faststyle_testkit::fixture;

pub const BOUNDARY: &str = "faststyle-test-boundary-7MA4YWxkTrZu0gW";

/// A checkpoints directory with two styles of the random-weights fixture network:
/// `mosaic`, with a preview painting, and `plain`, without one.
pub fn checkpoints() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let net = fixture("transformer_net.safetensors");
    for name in ["mosaic", "plain"] {
        std::fs::copy(&net, dir.path().join(format!("{name}.safetensors"))).expect("copy net");
    }
    std::fs::copy(fixture("style_96x80.png"), dir.path().join("mosaic.png")).expect("preview");
    dir
}

/// The real engine over [`checkpoints`]; the directory must outlive the server only while
/// loading, since the networks are read into memory.
pub fn engine() -> Arc<dyn Painter> {
    engine_with(EngineOptions::default())
}

pub fn engine_with(options: EngineOptions) -> Arc<dyn Painter> {
    let dir = checkpoints();
    let (engine, skipped) = Engine::load(&Catalog::in_dir(dir.path()), options).expect("engine");
    assert!(skipped.is_empty(), "{skipped:?}");
    engine.into_shared()
}

pub fn start(painter: Arc<dyn Painter>, config: ServeConfig) -> RunningServer {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    faststyle_serve::spawn(listener, faststyle_serve::router(painter, config)).expect("spawn")
}

pub fn default_server() -> RunningServer {
    start(engine(), ServeConfig::default())
}

/// One part of a multipart form.
pub enum Part<'a> {
    Text(&'a str),
    File { name: &'a str, bytes: &'a [u8] },
}

pub fn multipart(fields: &[(&str, Part)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, part) in fields {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File { name: file, bytes } => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\n\
                         Content-Type: application/octet-stream\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// A form with an image and the usual text fields.
pub fn form(image: &[u8], style: &str, strength: &str, preserve: &str) -> Vec<u8> {
    multipart(&[
        (
            "image",
            Part::File {
                name: "photo",
                bytes: image,
            },
        ),
        ("style", Part::Text(style)),
        ("strength", Part::Text(strength)),
        ("preserve_color", Part::Text(preserve)),
    ])
}

/// An answer: status, content type, body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `error` of a JSON error answer, checked to be one line.
    pub fn error(&self) -> String {
        assert!(
            self.content_type.starts_with("application/json"),
            "{self:?}"
        );
        let message = self.json()["error"]
            .as_str()
            .expect("error field")
            .to_owned();
        assert!(
            !message.is_empty() && !message.contains('\n'),
            "{message:?}"
        );
        message
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

fn answer(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut res = result.expect("HTTP exchange");
    let headers = res
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = res
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .expect("body");
    Answer {
        status: res.status().as_u16(),
        content_type,
        headers,
        body,
    }
}

pub fn get(url: &str) -> Answer {
    answer(agent().get(url).call())
}

pub fn post_form(url: &str, body: &[u8]) -> Answer {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    answer(
        agent()
            .post(url)
            .header("content-type", &content_type)
            .send(body),
    )
}

pub fn post_raw(url: &str, content_type: &str, body: &[u8]) -> Answer {
    answer(
        agent()
            .post(url)
            .header("content-type", content_type)
            .send(body),
    )
}

/// A 72x52 photo (non-square, so swapped sides show) in the given format.
pub fn photo(format: image::ImageFormat) -> Vec<u8> {
    let img = image::open(fixture("content_72x52.png")).expect("fixture photo");
    let mut out = std::io::Cursor::new(Vec::new());
    img.into_rgb8().write_to(&mut out, format).expect("encode");
    out.into_inner()
}
