//! `faststyle serve`: checks the options, loads the styles, binds the address, says where it
//! listens, and hands over to `faststyle-serve` until Ctrl-C.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use faststyle_infer::catalog::Catalog;
use faststyle_serve::{Engine, EngineOptions, ServeConfig};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. The default serves only this computer; 0.0.0.0 opens the page to
    /// the local network.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Directory of the styles (default: as `faststyle styles` finds it).
    #[arg(long, value_name = "DIR")]
    pub checkpoints: Option<PathBuf>,
    /// Largest photo accepted, in megabytes.
    #[arg(long, default_value_t = 20.0, value_name = "MB")]
    pub max_upload_mb: f64,
    /// Largest photo accepted, in megapixels (width times height).
    #[arg(long, default_value_t = 40.0, value_name = "MP")]
    pub max_megapixels: f64,
    /// Repaints at once (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Requests that may wait for a worker; more are refused with 503.
    #[arg(long, default_value_t = 8)]
    pub queue: usize,
    /// Time limit of one request, in seconds.
    #[arg(long, default_value_t = 120.0, value_name = "SECONDS")]
    pub timeout: f64,
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = config(&args)?;
    let catalog = match &args.checkpoints {
        Some(dir) if !dir.is_dir() => {
            anyhow::bail!("--checkpoints {}: not a directory", dir.display())
        }
        Some(dir) => Catalog::in_dir(dir),
        None => Catalog::discover()?,
    };
    let options = EngineOptions {
        max_pixels: (args.max_megapixels * 1e6) as u64,
        ..EngineOptions::default()
    };
    let (engine, skipped) = Engine::load(&catalog, options).map_err(anyhow::Error::msg)?;
    for s in &skipped {
        eprintln!(
            "faststyle: warning: style {} left out: {}",
            s.name, s.reason
        );
    }
    let count = faststyle_serve::Painter::styles(&engine).len();
    if count == 0 {
        let place = catalog
            .dir()
            .map_or("no checkpoints directory found".into(), |d| {
                format!("none in {}", d.display())
            });
        eprintln!("faststyle: warning: no styles to offer ({place}); the page will say so");
    }
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let app = faststyle_serve::router(engine.into_shared(), config);
    println!("faststyle: serving {count} styles at http://{addr}/ (Ctrl-C to stop)");
    faststyle_serve::serve_forever(listener, app)?;
    Ok(ExitCode::SUCCESS)
}

/// The server's limits from the options, refusing values that make no sense.
fn config(args: &ServeArgs) -> anyhow::Result<ServeConfig> {
    let positive = |name: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(anyhow::anyhow!("{name} must be a positive number, got {v}"))
        }
    };
    positive("--max-megapixels", args.max_megapixels)?;
    let defaults = ServeConfig::default();
    Ok(ServeConfig {
        max_upload_bytes: (positive("--max-upload-mb", args.max_upload_mb)? * 1e6) as usize,
        workers: match args.workers {
            Some(0) => anyhow::bail!("--workers must be at least 1"),
            Some(n) => n,
            None => defaults.workers,
        },
        queue: args.queue,
        request_timeout: Duration::from_secs_f64(positive("--timeout", args.timeout)?),
    })
}
