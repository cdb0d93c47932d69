//! `faststyle styles`: list the shipped styles and what their checkpoints say about them.

use std::process::ExitCode;

use faststyle_infer::catalog::{Catalog, StyleEntry, CHECKPOINTS_ENV};

#[derive(clap::Args)]
pub struct StylesArgs {
    /// Print one JSON array of styles instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: StylesArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::discover()?;
    let styles = catalog.styles()?;
    if args.json {
        let rows: Vec<_> = styles.iter().map(json_row).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if !styles.is_empty() {
        print!("{}", table(&styles));
    }
    // An empty catalogue is not an error, but the user should know why nothing was listed.
    if styles.is_empty() {
        match catalog.dir() {
            Some(dir) => eprintln!("faststyle: no styles in {}", dir.display()),
            None => eprintln!(
                "faststyle: no checkpoints directory found (looked for ./checkpoints, next to \
                 the program, and ${CHECKPOINTS_ENV})"
            ),
        }
    }
    for style in styles.iter().filter(|s| s.problem.is_some()) {
        let problem = style.problem.as_deref().unwrap_or_default();
        eprintln!("faststyle: warning: {problem}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The columns of the table, in order, for one style.
fn columns(style: &StyleEntry) -> [String; 6] {
    let info = style.meta.as_ref().map(|m| &m.style);
    let field = |f: Option<&Option<String>>| f.and_then(|v| v.clone()).unwrap_or("-".into());
    [
        style.name.clone(),
        field(info.map(|i| &i.title)),
        field(info.map(|i| &i.artist)),
        field(info.map(|i| &i.year)),
        field(info.map(|i| &i.licence)),
        style.path.display().to_string(),
    ]
}

const HEADER: [&str; 6] = ["NAME", "TITLE", "ARTIST", "YEAR", "LICENCE", "PATH"];

/// A left-aligned table, columns padded to their widest cell; the last column unpadded.
fn table(styles: &[StyleEntry]) -> String {
    let rows: Vec<[String; 6]> = std::iter::once(HEADER.map(String::from))
        .chain(styles.iter().map(columns))
        .collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, &w))| {
                if c + 1 == row.len() {
                    cell.clone()
                } else {
                    format!("{cell:<w$}")
                }
            })
            .collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
    }
    out
}

fn json_row(style: &StyleEntry) -> serde_json::Value {
    let info = style.meta.as_ref().map(|m| &m.style);
    serde_json::json!({
        "name": style.name,
        "title": info.and_then(|i| i.title.clone()),
        "artist": info.and_then(|i| i.artist.clone()),
        "year": info.and_then(|i| i.year.clone()),
        "licence": info.and_then(|i| i.licence.clone()),
        "path": style.path,
        "preview": style.preview,
        "image_sha256": info.map(|i| i.image_sha256.clone()).filter(|s| !s.is_empty()),
        "problem": style.problem,
    })
}
