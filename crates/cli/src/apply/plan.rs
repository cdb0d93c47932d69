//! From the command line's inputs and `-o` to a list of jobs, each with one source and one
//! destination, decided before any image is decoded.
//!
//! Naming rules:
//! - no `-o`: next to each input, as `<stem>-<style>.<ext>`; stdin goes to stdout;
//! - `-o -`: stdout (one input only);
//! - `-o DIR` (an existing folder, or a path without extension, created if needed):
//!   `DIR/<stem>-<style>.<ext>`;
//! - `-o FILE.ext`: that file (one input only).
//!
//! `<ext>` is the input's own when it is a format we write, else `png`; `--format` overrides it
//! (and names the format of stdout). `<style>` is the style names joined with `+`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use faststyle_infer::OutputFormat;

/// Extensions of the files taken from an input folder.
const READABLE: [&str; 8] = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif"];

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    File(PathBuf),
    Stdin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Sink {
    File(PathBuf),
    Stdout,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub source: Source,
    pub sink: Sink,
    pub format: OutputFormat,
    /// Why this job will not run (for example, its output exists), found while planning.
    pub problem: Option<(String, String)>,
}

impl Job {
    pub fn input_name(&self) -> String {
        match &self.source {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".into(),
        }
    }

    pub fn output_name(&self) -> String {
        match &self.sink {
            Sink::File(p) => p.display().to_string(),
            Sink::Stdout => "-".into(),
        }
    }
}

/// What `plan` needs from the command line.
pub struct Request<'a> {
    pub inputs: &'a [PathBuf],
    pub output: Option<&'a Path>,
    pub format: Option<OutputFormat>,
    pub force: bool,
    /// File-name-safe style label, `starry+mosaic`.
    pub label: &'a str,
}

/// The jobs, and inputs that failed already (an empty folder).
pub struct Plan {
    pub jobs: Vec<Job>,
    /// `(input, reason)`.
    pub failures: Vec<(String, String)>,
}

/// Plans the jobs. Errors here are about the command as a whole and stop everything before
/// any work.
pub fn plan(req: &Request) -> anyhow::Result<Plan> {
    let mut sources = Vec::new();
    let mut failures = Vec::new();
    for input in req.inputs {
        if input.as_os_str() == "-" {
            if sources.contains(&Source::Stdin) {
                bail!("`-` (stdin) given more than once");
            }
            sources.push(Source::Stdin);
        } else if input.is_dir() {
            let found = images_in(input)?;
            if found.is_empty() {
                failures.push((
                    input.display().to_string(),
                    "no images in this folder".into(),
                ));
            }
            sources.extend(found.into_iter().map(Source::File));
        } else {
            sources.push(Source::File(input.clone()));
        }
    }

    let mode = match req.output {
        None => Mode::Beside,
        Some(p) if p.as_os_str() == "-" => Mode::Stdout,
        Some(p) if p.is_dir() || p.extension().is_none() => Mode::Folder(p.to_owned()),
        // `--format` names the format whatever the file is called; else its extension does.
        Some(p) => {
            let format = match req.format {
                Some(f) => f,
                None => OutputFormat::from_path(p).with_context(|| p.display().to_string())?,
            };
            Mode::File(p.to_owned(), format)
        }
    };
    if matches!(mode, Mode::Stdout | Mode::File(..)) && sources.len() > 1 {
        bail!(
            "{} images cannot go to one output file; give a folder to -o",
            sources.len()
        );
    }

    let mut jobs: Vec<Job> = sources
        .into_iter()
        .map(|source| {
            let format = req.format.unwrap_or_else(|| format_like(&source));
            let named = |dir: &Path| dir.join(output_name(&source, req.label, format));
            let sink = match (&mode, &source) {
                (Mode::Stdout, _) | (Mode::Beside, Source::Stdin) => Sink::Stdout,
                (Mode::Beside, Source::File(p)) => {
                    Sink::File(named(p.parent().unwrap_or(Path::new(""))))
                }
                (Mode::Folder(dir), _) => Sink::File(named(dir)),
                (Mode::File(p, _), _) => Sink::File(p.clone()),
            };
            let format = match &mode {
                Mode::File(_, f) => *f,
                _ => format,
            };
            Job {
                source,
                sink,
                format,
                problem: None,
            }
        })
        .collect();

    let mut seen: HashMap<PathBuf, String> = HashMap::new();
    for job in &mut jobs {
        let Sink::File(out) = &job.sink else { continue };
        if let Some(other) = seen.insert(out.clone(), job.input_name()) {
            bail!(
                "{other} and {} would both be written to {}",
                job.input_name(),
                out.display()
            );
        }
        let overwrites_input = match (&job.source, out.canonicalize()) {
            (Source::File(input), Ok(out)) => input.canonicalize().is_ok_and(|i| i == out),
            _ => false,
        };
        if overwrites_input {
            // Even --force must not replace the photo being repainted.
            job.problem = Some((
                out.display().to_string(),
                "is the input itself; choose another output".into(),
            ));
        } else if out.exists() && !req.force {
            job.problem = Some((
                out.display().to_string(),
                "already exists (use --force to overwrite)".into(),
            ));
        }
    }
    if let Mode::Folder(dir) = &mode {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create the output folder", dir.display()))?;
    }
    Ok(Plan { jobs, failures })
}

enum Mode {
    Beside,
    Stdout,
    Folder(PathBuf),
    File(PathBuf, OutputFormat),
}

/// The input's own format if we can write it, PNG otherwise (GIF, stdin, no extension).
fn format_like(source: &Source) -> OutputFormat {
    match source {
        Source::File(p) => p
            .extension()
            .and_then(|e| OutputFormat::from_extension(&e.to_string_lossy()))
            .unwrap_or(OutputFormat::Png),
        Source::Stdin => OutputFormat::Png,
    }
}

fn output_name(source: &Source, label: &str, format: OutputFormat) -> String {
    let stem = match source {
        Source::File(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into()),
        Source::Stdin => "stdin".into(),
    };
    format!("{stem}-{label}.{}", format.extension())
}

/// The images directly in `dir` (not in subfolders), by extension, sorted, hidden files
/// skipped (among them our own half-written temporaries).
fn images_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("{}: cannot list", dir.display()))?
            .path();
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let image = path
            .extension()
            .is_some_and(|e| READABLE.contains(&e.to_string_lossy().to_ascii_lowercase().as_str()));
        if path.is_file() && image && !hidden {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}
