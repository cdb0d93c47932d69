//! The errors of the trainer: each names the file or the step it is about.

use std::path::PathBuf;

/// Everything data loading, the optimizer and the training loop can fail with.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    // Not a `source` field: the message already holds the cause, and `main` prints the
    // chain of sources after it.
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },

    /// An image the run cannot do without (the style image, the sample photo) is unreadable.
    #[error("{}: {reason}", path.display())]
    Image { path: PathBuf, reason: String },

    #[error("{}: no images found (looked for {})", dir.display(), crate::data::IMAGE_EXTENSIONS.join(", "))]
    NoImages { dir: PathBuf },

    /// Every file of the data folder failed to decode.
    #[error("{}: none of the {count} image files could be read", dir.display())]
    AllUnreadable { dir: PathBuf, count: usize },

    /// The loss became NaN or infinite; no weights were updated with it.
    #[error("the loss is not finite at step {step} ({terms}); stopped without updating the weights. Lower --lr or the loss weights")]
    NonFinite { step: u64, terms: String },

    /// The resume state file is missing, damaged, or from another kind of run.
    #[error("{}: {reason}", path.display())]
    State { path: PathBuf, reason: String },

    /// The loss network or the losses (weights, layers).
    #[error(transparent)]
    Loss(#[from] crate::error::Error),

    #[error(transparent)]
    Checkpoint(#[from] faststyle_net::CheckpointError),

    /// Options that cannot be used together or out of range.
    #[error("{0}")]
    Config(String),
}

/// Shorthand for results of the trainer's modules.
pub type TrainResult<T> = std::result::Result<T, TrainError>;

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            cause,
        }
    }

    pub(crate) fn image(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        TrainError::Image {
            path: path.into(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn state(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        TrainError::State {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}
