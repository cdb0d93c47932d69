//! The JSON API and its router:
//! - `GET /api/styles`: the styles on offer and the upload limit;
//! - `GET /api/styles/{name}/thumbnail`: a style's gallery image;
//! - `POST /api/stylize`: the repainted image, in the uploaded format (PNG for formats we do
//!   not write), or a JSON error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::error::ApiError;
use crate::form::{read_form, StylizeForm};
use crate::gate::{Gate, Ticket};
use crate::page;
use crate::painter::{PaintError, PaintOutput, PaintRequest, Painter};

/// Room in the body limit for the multipart framing and the text fields around the image.
const FORM_OVERHEAD: usize = 64 * 1024;

/// How the server behaves under load and bad input.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Largest image file accepted; larger uploads get 413.
    pub max_upload_bytes: usize,
    /// Inferences at once; one per core by default.
    pub workers: usize,
    /// Requests that may wait for a worker; more get 503.
    pub queue: usize,
    /// Time limit of one request, from its arrival to its answer; past it, 503.
    pub request_timeout: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_upload_bytes: 20_000_000,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            queue: 8,
            request_timeout: Duration::from_secs(120),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
struct AppState {
    painter: Arc<dyn Painter>,
    gate: Gate,
    config: Arc<ServeConfig>,
}

/// The whole application: the page and the API.
pub fn router(painter: Arc<dyn Painter>, config: ServeConfig) -> Router {
    let body_limit = config.max_upload_bytes.saturating_add(FORM_OVERHEAD);
    let state = AppState {
        painter,
        gate: Gate::new(config.workers, config.queue),
        config: Arc::new(config),
    };
    Router::new()
        .merge(page::routes())
        .route("/api/styles", get(list_styles))
        .route("/api/styles/{name}/thumbnail", get(thumbnail))
        .route(
            "/api/stylize",
            post(stylize).layer(DefaultBodyLimit::max(body_limit)),
        )
        .fallback(|| async { ApiError::not_found("no such page") })
        .with_state(state)
}

async fn list_styles(State(app): State<AppState>) -> Json<serde_json::Value> {
    let styles: Vec<_> = app
        .painter
        .styles()
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "title": s.title,
                "artist": s.artist,
                "year": s.year,
                "thumbnail": format!("/api/styles/{}/thumbnail", encode_segment(&s.name)),
            })
        })
        .collect();
    Json(serde_json::json!({
        "styles": styles,
        "max_upload_bytes": app.config.max_upload_bytes,
    }))
}

async fn thumbnail(State(app): State<AppState>, Path(name): Path<String>) -> Response {
    let Some(card) = app.painter.style(&name) else {
        return ApiError::not_found(format!("unknown style {name:?}")).into_response();
    };
    let thumb = card.thumbnail.clone();
    (
        [
            (header::CONTENT_TYPE, thumb.content_type),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        thumb.bytes.clone(),
    )
        .into_response()
}

async fn stylize(
    State(app): State<AppState>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let started = Instant::now();
    let limit = app.config.request_timeout;
    let result = match tokio::time::timeout(limit, stylize_within_limit(&app, multipart)).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::unavailable(format!(
            "the repaint took longer than the limit of {} s; try a smaller photo",
            limit.as_secs_f64()
        ))),
    };
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok((style, out)) => {
            tracing::info!(%style, w = out.width, h = out.height, seconds, "stylized");
            image_response(&style, out, seconds)
        }
        Err(e) => {
            tracing::info!(status = e.status.as_u16(), reason = %e.message, seconds, "refused");
            e.into_response()
        }
    }
}

/// Admission first, so a saturated server refuses before reading a 20 MB upload; then the
/// form, checked against the catalogue; then the wait for a worker and the work.
async fn stylize_within_limit(
    app: &AppState,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(String, PaintOutput), ApiError> {
    let ticket: Ticket = app.gate.admit().ok_or_else(|| {
        ApiError::unavailable(format!(
            "the server is busy ({} requests running or waiting); try again in a moment",
            app.gate.capacity()
        ))
    })?;
    let multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!(
            "expected a multipart/form-data upload ({})",
            e.body_text()
        ))
    })?;
    let StylizeForm {
        image,
        style,
        strength,
        preserve_color,
    } = read_form(multipart, app.config.max_upload_bytes).await?;
    if app.painter.style(&style).is_none() {
        let names: Vec<&str> = app
            .painter
            .styles()
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        return Err(ApiError::bad_request(format!(
            "unknown style {style:?} (available: {})",
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        )));
    }
    let request = PaintRequest {
        image,
        style: style.clone(),
        strength,
        preserve_color,
    };
    let painter = app.painter.clone();
    let painted = ticket
        .run(move || painter.paint(&request))
        .await
        .map_err(|e| ApiError::internal(format!("the repaint failed: {e}")))?;
    match painted {
        Ok(out) => Ok((style, out)),
        Err(PaintError::Input(m)) => Err(ApiError::bad_request(m)),
        Err(PaintError::Internal(m)) => Err(ApiError::internal(m)),
    }
}

fn image_response(style: &str, out: PaintOutput, seconds: f64) -> Response {
    let filename: String = style
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "inline; filename=\"faststyle-{filename}.{}\"",
        out.extension
    );
    let mut response = (
        [
            (header::CONTENT_TYPE, out.content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out.bytes,
    )
        .into_response();
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("content-disposition", disposition);
    set("x-image-width", out.width.to_string());
    set("x-image-height", out.height.to_string());
    set("x-elapsed-seconds", format!("{seconds:.3}"));
    response
}

/// Percent-encodes a path segment: style names come from file names and may hold anything.
fn encode_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::encode_segment;

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("starry-night"), "starry-night");
        assert_eq!(encode_segment("la vague/2"), "la%20vague%2F2");
    }
}
