//! Image in, image out: repaint photos with trained transformer networks.
//!
//! The library needs no VGG and no training code. Its parts, in the order an image meets them:
//! - [`decode`]: bytes to a [`Picture`] (any format `image` reads, EXIF orientation applied,
//!   absurd sizes refused from the header before anything is allocated);
//! - [`Stylizer`]: resize, run the network(s), blend styles, colour work ([`stylize`]);
//!   inside it, [`forward`] pads by reflection and tiles large images with shared
//!   instance-norm statistics, so the output always has the input's size;
//! - [`encode`]: a [`Picture`] to PNG, JPEG, WebP, BMP or TIFF bytes;
//! - [`catalog`]: the styles shipped in `checkpoints/`, by name;
//! - [`run_batch`]: all of that over many images, decoding and encoding in parallel with rayon
//!   while the network runs one image at a time;
//! - [`catalog`]: the shipped styles in `checkpoints/`, found by name.
//!
//! The library prints nothing; it returns [`InferError`]s and leaves messages to its caller.

mod batch;
pub mod catalog;
mod colour;
pub mod decode;
pub mod encode;
mod error;
pub mod forward;
mod geometry;
mod stylize;

pub use batch::{run_batch, BatchItem};
pub use decode::{decode, DecodeLimits, Picture};
pub use encode::{encode, OutputFormat};
pub use error::InferError;
pub use forward::Tiling;
pub use stylize::{Painting, Style, StylizeOptions, Stylizer};
