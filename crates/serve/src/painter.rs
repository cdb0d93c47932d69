//! The seam between the web server and the image work: the server knows styles and requests,
//! a [`Painter`] turns uploaded bytes into repainted bytes. The real one is
//! [`crate::engine::Engine`]; the tests also plug in slow or failing ones to exercise the
//! queue and the time limit without depending on how fast the network is.

use std::sync::Arc;

use crate::thumbs::Thumbnail;

/// What the page shows about one style.
#[derive(Debug, Clone)]
pub struct StyleCard {
    /// The name the API takes (`starry-night`).
    pub name: String,
    pub title: Option<String>,
    pub artist: Option<String>,
    pub year: Option<String>,
    pub thumbnail: Arc<Thumbnail>,
}

/// One repaint, already checked by the server: the style exists, `strength` is in 0..1.
#[derive(Debug, Clone)]
pub struct PaintRequest {
    /// The uploaded file, not yet decoded.
    pub image: Vec<u8>,
    pub style: String,
    pub strength: f32,
    pub preserve_color: bool,
}

/// A repainted image, encoded.
#[derive(Debug, Clone)]
pub struct PaintOutput {
    pub bytes: Vec<u8>,
    /// `image/png`, `image/jpeg`, ...
    pub content_type: &'static str,
    /// File extension matching `content_type`, for the download name.
    pub extension: &'static str,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum PaintError {
    /// Something about the upload itself: not an image, corrupt, too many pixels. Answered 400.
    #[error("{0}")]
    Input(String),
    /// A fault of the server. Answered 500.
    #[error("{0}")]
    Internal(String),
}

/// Turns uploads into repainted images. Called on the blocking pool, from several threads at
/// once (at most one call per worker slot).
pub trait Painter: Send + Sync + 'static {
    /// The styles on offer, in the order the page shows them.
    fn styles(&self) -> &[StyleCard];

    /// Decodes, repaints and encodes one image.
    fn paint(&self, request: &PaintRequest) -> Result<PaintOutput, PaintError>;

    fn style(&self, name: &str) -> Option<&StyleCard> {
        self.styles().iter().find(|s| s.name == name)
    }
}
