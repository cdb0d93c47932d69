//! The style catalogue: the trained styles shipped in `checkpoints/`, found by name.
//!
//! A style is a checkpoint `checkpoints/<name>.safetensors`; a preview image `<name>.jpg`
//! (or `.jpeg`, `.png`) may sit beside it. The directory is the first of:
//! 1. `$FASTSTYLE_CHECKPOINTS`, when set: an explicit choice, used even if it holds no style
//!    (and an error if it is not a directory);
//! 2. `./checkpoints` in the current directory;
//! 3. `checkpoints/` next to the executable or up to three directories above it (an
//!    unpacked release, or `target/release/` inside a checkout);
//! 4. the workspace's `checkpoints/`, as known at build time (`cargo run`, `cargo test`).
//!
//! The implicit places (2–4) count only when they hold at least one checkpoint, so an
//! unrelated `checkpoints/` folder (a PyTorch project's, say) does not hide the real one.
//! The environment variable comes first, unlike the usual "nearest first" rule, so that
//! scripts and tests get the directory they name wherever they run.
//!
//! `apply` without `--style` uses [`DEFAULT_STYLE`], or `$FASTSTYLE_DEFAULT_STYLE` when set.

use std::path::{Path, PathBuf};

use faststyle_net::{read_meta, CheckpointMeta};

/// Environment variable naming the checkpoints directory.
pub const CHECKPOINTS_ENV: &str = "FASTSTYLE_CHECKPOINTS";
/// Environment variable overriding [`DEFAULT_STYLE`].
pub const DEFAULT_STYLE_ENV: &str = "FASTSTYLE_DEFAULT_STYLE";
/// The style `apply` uses when given none.
pub const DEFAULT_STYLE: &str = "starry-night";
/// Extension of a checkpoint in the catalogue.
pub const CHECKPOINT_EXTENSION: &str = "safetensors";
const PREVIEW_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];
/// How far above the executable to look for `checkpoints/` (`target/release/faststyle` is
/// two levels below the workspace root).
const EXE_ANCESTORS: usize = 3;

/// One shipped style.
#[derive(Debug, Clone)]
pub struct StyleEntry {
    /// The file stem, as given to `--style`.
    pub name: String,
    pub path: PathBuf,
    /// The checkpoint's metadata; `None` for a file without ours (a bare converted checkpoint)
    /// or one whose metadata could not be read (then `problem` says why).
    pub meta: Option<CheckpointMeta>,
    /// An image of the style beside the checkpoint, `<name>.jpg` for instance.
    pub preview: Option<PathBuf>,
    /// Why the metadata could not be read, if it could not.
    pub problem: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{path}: no such checkpoint file")]
    NoSuchFile { path: PathBuf },
    #[error("{path}: is a directory, expected a checkpoint file")]
    IsDirectory { path: PathBuf },
    #[error("unknown style {name:?} ({})", available_text(available, dir.as_deref()))]
    UnknownStyle {
        name: String,
        available: Vec<String>,
        dir: Option<PathBuf>,
    },
    #[error("no style given and {}; pass --style NAME_OR_PATH", no_default_text(name, available, dir.as_deref()))]
    NoDefault {
        name: String,
        available: Vec<String>,
        dir: Option<PathBuf>,
    },
    #[error("{CHECKPOINTS_ENV}={path}: not a directory")]
    BadEnvDir { path: PathBuf },
    // Not `source`: the message already holds the cause, and `{:#}` would print it twice.
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

fn available_text(available: &[String], dir: Option<&Path>) -> String {
    match (available.is_empty(), dir) {
        (false, _) => format!("available: {}", available.join(", ")),
        (true, Some(dir)) => format!("no styles in {}", dir.display()),
        (true, None) => format!("no checkpoints directory found; set {CHECKPOINTS_ENV}"),
    }
}

fn no_default_text(name: &str, available: &[String], dir: Option<&Path>) -> String {
    if available.is_empty() {
        return available_text(available, dir);
    }
    format!(
        "the default style {name:?} is not in the catalogue ({})",
        available_text(available, dir)
    )
}

/// The catalogue of one directory (or of none: then it is empty).
#[derive(Debug, Clone)]
pub struct Catalog {
    dir: Option<PathBuf>,
}

impl Catalog {
    /// The catalogue of the directory found as the module header describes.
    pub fn discover() -> Result<Self, CatalogError> {
        Ok(Self {
            dir: checkpoints_dir()?,
        })
    }

    /// The catalogue of `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The styles, sorted by name; empty when there is no directory.
    pub fn styles(&self) -> Result<Vec<StyleEntry>, CatalogError> {
        let Some(dir) = &self.dir else {
            return Ok(vec![]);
        };
        let mut styles: Vec<StyleEntry> = checkpoint_files(dir)?
            .into_iter()
            .map(|(name, path)| entry(name, path))
            .collect();
        styles.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(styles)
    }

    /// The style names, sorted.
    pub fn names(&self) -> Result<Vec<String>, CatalogError> {
        let Some(dir) = &self.dir else {
            return Ok(vec![]);
        };
        let mut names: Vec<String> = checkpoint_files(dir)?.into_iter().map(|(n, _)| n).collect();
        names.sort();
        Ok(names)
    }

    /// The checkpoint for `--style`: an existing file wins; something that looks like a path
    /// must exist; anything else is a name in the catalogue.
    pub fn resolve(&self, name_or_path: &str) -> Result<PathBuf, CatalogError> {
        let path = Path::new(name_or_path);
        if path.is_file() {
            return Ok(path.to_owned());
        }
        if path.is_dir() {
            return Err(CatalogError::IsDirectory {
                path: path.to_owned(),
            });
        }
        if looks_like_path(name_or_path) {
            return Err(CatalogError::NoSuchFile {
                path: path.to_owned(),
            });
        }
        self.find(name_or_path)?
            .ok_or_else(|| CatalogError::UnknownStyle {
                name: name_or_path.to_owned(),
                available: self.names().unwrap_or_default(),
                dir: self.dir.clone(),
            })
    }

    /// The checkpoint of the default style (`$FASTSTYLE_DEFAULT_STYLE`, else
    /// [`DEFAULT_STYLE`]).
    pub fn default_style(&self) -> Result<PathBuf, CatalogError> {
        let name = std::env::var(DEFAULT_STYLE_ENV)
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| DEFAULT_STYLE.to_owned());
        self.find(&name)?.ok_or_else(|| CatalogError::NoDefault {
            name,
            available: self.names().unwrap_or_default(),
            dir: self.dir.clone(),
        })
    }

    fn find(&self, name: &str) -> Result<Option<PathBuf>, CatalogError> {
        let Some(dir) = &self.dir else {
            return Ok(None);
        };
        let path = dir.join(format!("{name}.{CHECKPOINT_EXTENSION}"));
        Ok(path.is_file().then_some(path))
    }
}

/// The styles of the discovered catalogue.
pub fn list_styles() -> Result<Vec<StyleEntry>, CatalogError> {
    Catalog::discover()?.styles()
}

/// [`Catalog::resolve`] in the discovered catalogue.
pub fn resolve_style(name_or_path: &str) -> Result<PathBuf, CatalogError> {
    Catalog::discover()?.resolve(name_or_path)
}

/// [`Catalog::default_style`] of the discovered catalogue.
pub fn default_style() -> Result<PathBuf, CatalogError> {
    Catalog::discover()?.default_style()
}

/// The checkpoints directory, found as the module header describes; `None` if there is none.
pub fn checkpoints_dir() -> Result<Option<PathBuf>, CatalogError> {
    if let Some(dir) = std::env::var_os(CHECKPOINTS_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if !dir.is_dir() {
            return Err(CatalogError::BadEnvDir { path: dir });
        }
        return Ok(Some(dir));
    }
    let mut candidates = vec![PathBuf::from("checkpoints")];
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| Some(e.parent()?.to_owned()))
    {
        candidates.extend(
            exe_dir
                .ancestors()
                .take(EXE_ANCESTORS + 1)
                .map(|d| d.join("checkpoints")),
        );
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../checkpoints"));
    Ok(candidates
        .into_iter()
        .find(|dir| checkpoint_files(dir).is_ok_and(|files| !files.is_empty())))
}

/// `(name, path)` of every `*.safetensors` file directly in `dir`, in no particular order.
fn checkpoint_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, CatalogError> {
    let io_err = |error| CatalogError::Io {
        path: dir.to_owned(),
        error,
    };
    let mut files = vec![];
    for item in std::fs::read_dir(dir).map_err(io_err)? {
        let path = item.map_err(io_err)?.path();
        let is_checkpoint = path.extension().is_some_and(|e| e == CHECKPOINT_EXTENSION);
        // Hidden files are not styles (editor backups, half-copied files).
        let name = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned);
        if let (true, Some(name)) = (is_checkpoint && path.is_file(), name) {
            if !name.starts_with('.') {
                files.push((name, path));
            }
        }
    }
    Ok(files)
}

fn entry(name: String, path: PathBuf) -> StyleEntry {
    let (meta, problem) = match read_meta(&path) {
        Ok(meta) => (meta, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let preview = PREVIEW_EXTENSIONS
        .iter()
        .map(|ext| path.with_extension(ext))
        .find(|p| p.is_file());
    StyleEntry {
        name,
        path,
        meta,
        preview,
        problem,
    }
}

/// Whether `s` names a file rather than a style: it has a directory part or a file extension
/// of a checkpoint. Style names never contain a separator.
fn looks_like_path(s: &str) -> bool {
    s.contains('/')
        || s.contains(std::path::MAIN_SEPARATOR)
        || Path::new(s)
            .extension()
            .is_some_and(|e| e == CHECKPOINT_EXTENSION || e == "pth" || e == "pt")
}
