//! The API's errors: a status code and a one-line reason, answered as `{"error": "..."}` so the
//! page can show the reason as it is.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// One line, meant for the person using the page.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        // A reason is one line: multi-line library messages (backtraces) are cut to the first.
        let message: String = message.into();
        let message = message.lines().next().unwrap_or_default().trim().to_owned();
        ApiError { status, message }
    }

    /// 400: something in the request is wrong and resending it will not help.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 413: the upload is larger than the server accepts.
    pub fn too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the upload is larger than the limit of {}",
                megabytes(limit_bytes)
            ),
        )
    }

    /// 503: the server is saturated or the request took too long; trying later may work.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 500: a fault of the server, not of the request.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if retry {
            // A hint for scripted clients; the page shows the message instead.
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// `20 MB`, `1.5 MB`: sizes as people read them (decimal megabytes, as browsers show them).
pub fn megabytes(bytes: usize) -> String {
    let mb = bytes as f64 / 1e6;
    if mb.fract() == 0.0 {
        format!("{mb:.0} MB")
    } else {
        format!("{mb:.1} MB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line() {
        let e = ApiError::bad_request("first line\nstack backtrace:\n  0: foo");
        assert_eq!(e.message, "first line");
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn megabytes_read_naturally() {
        assert_eq!(megabytes(20_000_000), "20 MB");
        assert_eq!(megabytes(1_500_000), "1.5 MB");
    }
}
