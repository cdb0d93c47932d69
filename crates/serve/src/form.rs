//! Reading the `POST /api/stylize` form: a multipart body with the fields `image` (the file),
//! `style`, `strength` (0..1, default 1) and `preserve_color` (`true`/`false`, default false).
//! Every field is checked here, so a typo is answered at once with a 400, before the request
//! waits for a worker.

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::Multipart;
use axum::http::StatusCode;

use crate::error::ApiError;

/// Longest text field accepted; the real ones are a style name or a number.
const MAX_TEXT_FIELD: usize = 1024;

/// The form as sent, fields checked for syntax but not yet against the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct StylizeForm {
    pub image: Vec<u8>,
    pub style: String,
    pub strength: f32,
    pub preserve_color: bool,
}

/// Reads the whole form; `max_image_bytes` bounds the image field.
pub async fn read_form(
    mut multipart: Multipart,
    max_image_bytes: usize,
) -> Result<StylizeForm, ApiError> {
    let (mut image, mut style, mut strength, mut preserve) = (None, None, None, None);
    let upload_error = |e: MultipartError| upload_error(e, max_image_bytes);
    while let Some(field) = multipart.next_field().await.map_err(upload_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        let slot = match name.as_str() {
            "image" => {
                let bytes = read_limited(field, max_image_bytes)
                    .await
                    .map_err(|e| e.unwrap_or_else(|| ApiError::too_large(max_image_bytes)))?;
                set_once(&mut image, bytes, &name)?;
                continue;
            }
            "style" => &mut style,
            "strength" => &mut strength,
            "preserve_color" => &mut preserve,
            "" => return Err(ApiError::bad_request("a form field has no name")),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown field {other:?} (expected image, style, strength, preserve_color)"
                )))
            }
        };
        let bytes = read_limited(field, MAX_TEXT_FIELD).await.map_err(|e| {
            e.unwrap_or_else(|| ApiError::bad_request(format!("field {name:?} is too long")))
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| ApiError::bad_request(format!("field {name:?} is not UTF-8 text")))?;
        set_once(slot, text.trim().to_owned(), &name)?;
    }
    let image =
        image.ok_or_else(|| ApiError::bad_request("no image in the form (field \"image\")"))?;
    if image.is_empty() {
        return Err(ApiError::bad_request("the image file is empty"));
    }
    let style = style
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("no style chosen (field \"style\")"))?;
    Ok(StylizeForm {
        image,
        style,
        strength: strength.as_deref().map_or(Ok(1.0), parse_strength)?,
        preserve_color: preserve.as_deref().map_or(Ok(false), parse_bool)?,
    })
}

/// The field's bytes; `Err(None)` when it is longer than `limit`, `Err(Some(_))` when the
/// body itself fails.
async fn read_limited(mut field: Field<'_>, limit: usize) -> Result<Vec<u8>, Option<ApiError>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| Some(upload_error(e, limit)))?
    {
        if bytes.len() + chunk.len() > limit {
            return Err(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn set_once<T>(slot: &mut Option<T>, value: T, name: &str) -> Result<(), ApiError> {
    if slot.replace(value).is_some() {
        return Err(ApiError::bad_request(format!("field {name:?} given twice")));
    }
    Ok(())
}

/// A body that breaks off or exceeds axum's body limit. The limit shows as 413 with the
/// configured size; anything else is a malformed upload.
fn upload_error(e: MultipartError, max_image_bytes: usize) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::too_large(max_image_bytes);
    }
    ApiError::bad_request(format!("malformed upload ({})", e.body_text()))
}

pub fn parse_strength(text: &str) -> Result<f32, ApiError> {
    match text.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(ApiError::bad_request(format!(
            "strength must be a number from 0 to 1, got {text:?}"
        ))),
    }
}

pub fn parse_bool(text: &str) -> Result<bool, ApiError> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" | "" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "preserve_color must be true or false, got {text:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength_accepts_only_0_to_1() {
        assert_eq!(parse_strength("0.25").unwrap(), 0.25);
        assert_eq!(parse_strength("1").unwrap(), 1.0);
        for bad in ["1.5", "-0.1", "NaN", "inf", "half", ""] {
            let e = parse_strength(bad).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn booleans_as_forms_send_them() {
        assert!(parse_bool("on").unwrap());
        assert!(parse_bool("TRUE").unwrap());
        assert!(!parse_bool("false").unwrap());
        assert!(parse_bool("maybe").is_err());
    }
}
