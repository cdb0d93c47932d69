//! The image transformation network of Johnson, Alahi and Fei-Fei, "Perceptual Losses for
//! Real-Time Style Transfer and Super-Resolution" (2016), <https://arxiv.org/abs/1603.08155>,
//! in the variant of pytorch/examples' fast_neural_style: instance normalisation instead of
//! batch normalisation, and nearest upsampling followed by a convolution instead of transposed
//! convolutions; and its checkpoint format.

pub mod atomic;
pub mod checkpoint;
pub mod import;
pub mod pth;
pub mod transformer;

pub use checkpoint::{
    load_checkpoint, read_meta, resave_checkpoint, save_checkpoint, CheckpointError,
    CheckpointMeta, StyleCheckpoint, StyleInfo, ARCHITECTURE,
};
pub use import::{import_pth, is_valid_name, ImportError, ImportOptions, ImportSummary};
pub use pth::{read_pth, PthError, PthFile, PthFormat};
pub use transformer::{NormMode, TransformerNet, TRANSFORMER_PARAMETERS};
