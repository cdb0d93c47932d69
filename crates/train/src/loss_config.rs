//! Which VGG16 layers feed which loss, and how much each loss weighs.
//!
//! What a weight means, with the normalisations of [`crate::loss`]:
//! - `content` multiplies the mean squared difference of the content tap's activations (ReLU
//!   outputs of VGG16 on ImageNet-normalised pixels; typical values 1..100 for unrelated images);
//! - `style` multiplies the sum over the style taps of each tap's weight times the mean squared
//!   difference of Gram matrices `F Fᵀ / (C H W)` (typical values 1e-4..1e-1, hence the 1e10);
//! - `tv` multiplies the sum of absolute differences of neighbouring pixels, in 0..255 units,
//!   over the whole batch (so it grows with image size and batch size).
//!
//! The defaults (content 1e5, style 1e10, tv 0; content on `relu2_2`, style on all four taps
//! with weight 1) are those of pytorch/examples' fast_neural_style, whose recipe they reproduce.

use crate::error::{Error, Result};
use crate::vgg::Tap;

/// How much each loss term counts in the total.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossWeights {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            content: 1e5,
            style: 1e10,
            tv: 0.0,
        }
    }
}

/// The layers of each loss and the weights of the terms.
#[derive(Debug, Clone, PartialEq)]
pub struct LossConfig {
    /// The tap whose activations the content loss compares.
    pub content_tap: Tap,
    /// The taps whose Gram matrices the style loss compares, each with its own weight.
    pub style_taps: Vec<(Tap, f64)>,
    pub weights: LossWeights,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            content_tap: Tap::Relu2_2,
            style_taps: Tap::ALL.iter().map(|&t| (t, 1.0)).collect(),
            weights: LossWeights::default(),
        }
    }
}

impl LossConfig {
    /// The configuration as the command line names it: the content layer (`relu2_2`), the
    /// style layers with optional weights (`relu1_2:1,relu2_2:0.5`) and the terms' weights.
    pub fn from_names(
        content_layer: &str,
        style_layers: &str,
        weights: LossWeights,
    ) -> Result<Self> {
        Ok(Self {
            content_tap: Tap::from_name(content_layer)?,
            style_taps: parse_style_taps(style_layers)?,
            weights,
        })
    }

    /// Checks that every weight is finite and non-negative, the style layers are distinct, and
    /// there is at least one style layer when the style term counts.
    pub fn validate(&self) -> Result<()> {
        let LossWeights { content, style, tv } = self.weights;
        for (name, w) in [("content", content), ("style", style), ("tv", tv)] {
            check_weight(&format!("the {name} weight"), w)?;
        }
        for (i, &(tap, w)) in self.style_taps.iter().enumerate() {
            check_weight(&format!("the weight of style layer {tap}"), w)?;
            if self.style_taps[..i].iter().any(|&(t, _)| t == tap) {
                return Err(Error::Config(format!("style layer {tap} is listed twice")));
            }
        }
        if style > 0.0 && self.style_taps.is_empty() {
            return Err(Error::Config(
                "the style weight is positive but no style layer is given".into(),
            ));
        }
        Ok(())
    }
}

fn check_weight(what: &str, w: f64) -> Result<()> {
    if w.is_finite() && w >= 0.0 {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "{what} must be a finite number >= 0, not {w}"
        )))
    }
}

/// Parses a list of style layers as given on a command line: `relu1_2:1,relu2_2:0.5,relu3_3`
/// (a layer without `:weight` weighs 1).
pub fn parse_style_taps(list: &str) -> Result<Vec<(Tap, f64)>> {
    let taps = list
        .split(',')
        .filter(|item| !item.trim().is_empty())
        .map(|item| {
            let (name, weight) = match item.split_once(':') {
                Some((name, weight)) => {
                    let weight = weight.trim().parse::<f64>().map_err(|_| {
                        Error::Config(format!("{item:?}: the weight after ':' is not a number"))
                    })?;
                    (name, weight)
                }
                None => (item, 1.0),
            };
            Ok((Tap::from_name(name)?, weight))
        })
        .collect::<Result<Vec<_>>>()?;
    if taps.is_empty() {
        return Err(Error::Config(format!("no style layer in {list:?}")));
    }
    Ok(taps)
}

/// Writes style layers in the form [`parse_style_taps`] reads, e.g. for a checkpoint's metadata.
pub fn format_style_taps(taps: &[(Tap, f64)]) -> String {
    taps.iter()
        .map(|(tap, w)| format!("{tap}:{w}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_layers_with_and_without_weights() {
        let taps = parse_style_taps("relu1_2:1, relu2_2:0.5,relu4_3").unwrap();
        assert_eq!(
            taps,
            vec![
                (Tap::Relu1_2, 1.0),
                (Tap::Relu2_2, 0.5),
                (Tap::Relu4_3, 1.0)
            ]
        );
    }

    #[test]
    fn formatting_and_parsing_round_trip() {
        let taps = vec![(Tap::Relu3_3, 0.25), (Tap::Relu1_2, 1e3)];
        assert_eq!(format_style_taps(&taps), "relu3_3:0.25,relu1_2:1000");
        assert_eq!(parse_style_taps(&format_style_taps(&taps)).unwrap(), taps);
        assert_eq!("relu2_2".parse::<Tap>().unwrap(), Tap::Relu2_2);
    }

    #[test]
    fn rejects_unknown_layers_and_bad_weights() {
        assert!(parse_style_taps("relu5_3").is_err());
        assert!(parse_style_taps("relu2_2:x").is_err());
        assert!(parse_style_taps(" , ").is_err());
        let config = LossConfig {
            style_taps: parse_style_taps("relu2_2:-1").unwrap(),
            ..LossConfig::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    fn rejects_duplicate_style_layers() {
        let config = LossConfig {
            style_taps: parse_style_taps("relu2_2,relu2_2:2").unwrap(),
            ..LossConfig::default()
        };
        assert!(config.validate().is_err());
    }

    #[test]
    fn the_defaults_are_the_pytorch_examples_recipe() {
        let config = LossConfig::default();
        config.validate().unwrap();
        assert_eq!(config.content_tap, Tap::Relu2_2);
        assert_eq!(config.style_taps.len(), 4);
        assert_eq!(config.weights.content, 1e5);
        assert_eq!(config.weights.style, 1e10);
        assert_eq!(config.weights.tv, 0.0);
    }
}
