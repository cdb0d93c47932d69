//! `faststyle serve`: a web page where you drop a photo and get a painting back, served from
//! the user's own machine, and the small JSON API behind it.
//!
//! - [`api`]: the routes, the limits ([`ServeConfig`]) and the JSON errors;
//! - [`gate`]: at most one inference per core, a bounded queue, 503 past it;
//! - [`painter`]: the seam between the server and the image work; [`engine::Engine`] is the
//!   real painter over the style catalogue, doing the image work through `faststyle-infer`;
//! - [`page`]: the embedded HTML, CSS and JavaScript;
//! - [`server`]: running it, in the foreground or on a background thread.
//!
//! The library prints nothing; it logs through `tracing`.

pub mod api;
pub mod engine;
pub mod error;
mod form;
pub mod gate;
mod page;
pub mod painter;
mod pipeline;
pub mod server;
pub mod thumbs;

pub use api::{router, ServeConfig};
pub use engine::{Engine, EngineOptions, Skipped};
pub use error::ApiError;
pub use painter::{PaintError, PaintOutput, PaintRequest, Painter, StyleCard};
pub use server::{serve_forever, spawn, RunningServer};
