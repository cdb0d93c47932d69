//! The errors of the inference library. Messages say what is wrong with the input, without
//! naming the file: the caller knows which file it passed and prefixes it.

use faststyle_net::CheckpointError;

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error("not an image (or in a format faststyle cannot read)")]
    NotAnImage,
    #[error("truncated or corrupt image ({0})")]
    Corrupt(String),
    #[error(
        "the header claims {width}x{height} pixels, more than the limit of {limit_megapixels} \
         megapixels; refusing to decode it"
    )]
    TooLarge {
        width: u64,
        height: u64,
        limit_megapixels: u64,
    },
    #[error("unknown image format `{0}` (known: png, jpg, jpeg, webp, bmp, tif, tiff)")]
    UnknownFormat(String),
    #[error("cannot encode as {format}: {reason}")]
    Encode {
        format: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("invalid option: {0}")]
    Options(String),
    #[error("the network failed: {0}")]
    Network(String),
}

impl From<candle_core::Error> for InferError {
    fn from(e: candle_core::Error) -> Self {
        // candle may append a backtrace after the first line; users need only the reason.
        let text = e.to_string();
        InferError::Network(text.lines().next().unwrap_or_default().to_owned())
    }
}
