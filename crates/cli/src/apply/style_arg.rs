//! `--style NAME_OR_PATH[:WEIGHT]`: which checkpoint, and its share in a blend.

use std::path::{Path, PathBuf};

/// One `--style` value.
#[derive(Debug, Clone, PartialEq)]
pub struct StyleArg {
    /// A checkpoint path or the name of a style in `checkpoints/`.
    pub spec: String,
    pub weight: f32,
}

/// Parses `spec` or `spec:weight`. Only a trailing `:` followed by a plain decimal number is a
/// weight, so paths containing colons (`C:\styles\a.safetensors`, `x:y.safetensors`) survive.
pub fn parse_style_arg(arg: &str) -> Result<StyleArg, String> {
    if let Some((spec, tail)) = arg.rsplit_once(':') {
        let numeric = !tail.is_empty() && tail.chars().all(|c| c.is_ascii_digit() || c == '.');
        if numeric && !spec.is_empty() {
            let weight: f32 = tail
                .parse()
                .map_err(|_| format!("`{tail}` in `{arg}` is not a weight"))?;
            return Ok(StyleArg {
                spec: spec.to_owned(),
                weight,
            });
        }
    }
    if arg.is_empty() {
        return Err("empty style".into());
    }
    Ok(StyleArg {
        spec: arg.to_owned(),
        weight: 1.0,
    })
}

/// The checkpoint file for a style given by path or by name.
// TODO: replace with catalog::resolve_style once the style catalogue is merged.
pub fn resolve_style(spec: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(spec);
    if path.is_file() {
        return Ok(path.to_owned());
    }
    let named = Path::new("checkpoints").join(format!("{spec}.safetensors"));
    if !spec.contains(['/', '\\']) && named.is_file() {
        return Ok(named);
    }
    anyhow::bail!("{spec}: no such checkpoint file, and no style of that name in checkpoints/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_split_only_from_a_trailing_number() {
        let a = parse_style_arg("starry:0.7").unwrap();
        assert_eq!((a.spec.as_str(), a.weight), ("starry", 0.7));
        let b = parse_style_arg("dir:x/mosaic.safetensors").unwrap();
        assert_eq!(
            (b.spec.as_str(), b.weight),
            ("dir:x/mosaic.safetensors", 1.0)
        );
        let c = parse_style_arg("C:\\a:2").unwrap();
        assert_eq!((c.spec.as_str(), c.weight), ("C:\\a", 2.0));
        assert!(parse_style_arg("a:1.2.3").is_err());
        assert!(parse_style_arg("").is_err());
    }
}
