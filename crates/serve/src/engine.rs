//! The real [`Painter`]: every style of the catalogue loaded once at start-up (the networks are
//! a few MB each and shared by all requests through the engine's `Arc`), thumbnails made once.

use std::sync::Arc;

use candle_core::Device;
use faststyle_infer::catalog::{Catalog, StyleEntry};
use faststyle_infer::{Style, Tiling};

use crate::painter::{PaintError, PaintOutput, PaintRequest, Painter, StyleCard};
use crate::pipeline;
use crate::thumbs;

/// Limits of the image work.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Width times height of an upload, at most; checked from the header before decoding.
    pub max_pixels: u64,
    /// When large photos run in tiles; the default keeps one request's network memory under
    /// about 750 MiB whatever the photo's size.
    pub tiling: Tiling,
}

impl Default for EngineOptions {
    /// 40 megapixels: any phone's photo, and a bound on the time one request can take.
    fn default() -> Self {
        EngineOptions {
            max_pixels: 40_000_000,
            tiling: Tiling::default(),
        }
    }
}

/// A style that could not be offered, and why (the server logs these and goes on).
#[derive(Debug, Clone)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

pub struct Engine {
    cards: Vec<StyleCard>,
    styles: Vec<Style>,
    options: EngineOptions,
    device: Device,
}

impl Engine {
    /// Loads every style in `catalog` on the CPU. Styles whose checkpoint does not load are
    /// left out and reported in the second value; an unreadable directory is an error.
    pub fn load(catalog: &Catalog, options: EngineOptions) -> Result<(Self, Vec<Skipped>), String> {
        let device = Device::Cpu;
        let entries = catalog.styles().map_err(|e| e.to_string())?;
        let (mut cards, mut styles, mut skipped) = (vec![], vec![], vec![]);
        for entry in entries {
            match faststyle_net::load_checkpoint(&entry.path, &device) {
                Ok(checkpoint) => {
                    let (card, problem) = card(&entry);
                    skipped.extend(problem);
                    cards.push(card);
                    styles.push(Style {
                        name: entry.name.clone(),
                        net: checkpoint.net,
                        weight: 1.0,
                    });
                }
                Err(e) => skipped.push(Skipped {
                    name: entry.name.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        tracing::info!(
            styles = cards.len(),
            skipped = skipped.len(),
            "styles loaded"
        );
        let engine = Engine {
            cards,
            styles,
            options,
            device,
        };
        Ok((engine, skipped))
    }

    pub fn into_shared(self) -> Arc<dyn Painter> {
        Arc::new(self)
    }
}

/// The card of a loaded style; a preview that does not decode is reported and replaced by
/// the placeholder (the style itself still works).
fn card(entry: &StyleEntry) -> (StyleCard, Option<Skipped>) {
    let info = entry.meta.as_ref().map(|m| &m.style);
    let (thumbnail, problem) = match entry.preview.as_deref().map(thumbs::from_preview) {
        Some(Ok(t)) => (t, None),
        Some(Err(reason)) => (
            thumbs::placeholder(&entry.name),
            Some(Skipped {
                name: format!("{} (preview)", entry.name),
                reason,
            }),
        ),
        None => (thumbs::placeholder(&entry.name), None),
    };
    let card = StyleCard {
        name: entry.name.clone(),
        title: info.and_then(|i| i.title.clone()),
        artist: info.and_then(|i| i.artist.clone()),
        year: info.and_then(|i| i.year.clone()),
        thumbnail: Arc::new(thumbnail),
    };
    (card, problem)
}

impl Painter for Engine {
    fn styles(&self) -> &[StyleCard] {
        &self.cards
    }

    fn paint(&self, request: &PaintRequest) -> Result<PaintOutput, PaintError> {
        let index = self
            .cards
            .iter()
            .position(|c| c.name == request.style)
            .ok_or_else(|| PaintError::Input(format!("unknown style {:?}", request.style)))?;
        pipeline::paint(&self.styles[index], request, &self.options, &self.device)
    }
}
