//! `faststyle`: the command line. Each subcommand lives in its own module, parses and validates
//! its arguments, and calls a library crate; this file only dispatches and maps errors to exit
//! codes.

mod allocator;
mod apply;
mod bench;
mod eval;
mod import;
mod optimize;
mod serve;
mod styles;
mod train;
mod train_loop;
mod vgg_loader;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "faststyle",
    version,
    about = "Repaint photos in the style of a painting"
)]
struct Cli {
    /// Log what happens to stderr (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Repaint photos with a trained style, in one forward pass.
    Apply(apply::ApplyArgs),
    /// List the shipped styles (checkpoints/, or $FASTSTYLE_CHECKPOINTS).
    Styles(styles::StylesArgs),
    /// Convert a pytorch/examples checkpoint (.pth) to safetensors, or re-save one for shipping.
    Import(import::ImportArgs),
    /// Score a trained style against the slow method, with its own training loss.
    Eval(eval::EvalArgs),
    /// Train a network for one style against a frozen VGG16.
    Train(Box<train::TrainArgs>),
    /// Repaint one photo by optimising its pixels (Gatys et al., the slow method).
    Optimize(optimize::OptimizeArgs),
    /// Measure the kernels, inference and training.
    Bench(bench::BenchArgs),
    /// Serve a web page (and a JSON API) that repaints dropped photos.
    Serve(serve::ServeArgs),
}

/// Exit code for anything the user can fix: bad arguments, unreadable or invalid inputs.
/// clap uses the same code for its own usage errors.
const EXIT_USER_ERROR: u8 = 2;

fn main() -> ExitCode {
    // Negative numbers are values, so that `--strength -0.5` is refused by its own check
    // rather than read as an unknown flag.
    let command = Cli::command().mut_subcommands(|c| c.allow_negative_numbers(true));
    let parsed = command
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) => return usage_error(err),
    };
    if !matches!(cli.command, Command::Serve(_)) {
        allocator::die_quietly_on_closed_pipe();
    }
    // The commands that run networks to an end: their freed buffers are reused at once. For
    // `apply` on the 12 test photos this took 59-62 s instead of 77-79 s with glibc's
    // defaults, and a peak of 0.90-0.97 GB instead of 1.03-1.09 GB (2026-12-04, these
    // settings given as GLIBC_TUNABLES, alternating runs). `serve` keeps the defaults, which
    // hand memory back between requests; `styles` and `import` allocate little.
    if matches!(
        cli.command,
        Command::Apply(_)
            | Command::Train(_)
            | Command::Optimize(_)
            | Command::Eval(_)
            | Command::Bench(_)
    ) {
        allocator::keep_freed_memory();
    }
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Apply(args) => apply::run(args),
        Command::Styles(args) => styles::run(args),
        Command::Import(args) => import::run(args),
        Command::Train(args) => train::run(*args),
        Command::Optimize(args) => optimize::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("faststyle: error: {err:#}");
            ExitCode::from(EXIT_USER_ERROR)
        }
    }
}

/// clap's own errors as one line, like every other user error (`--help` and `--version` print
/// as usual): `faststyle: error: invalid value 'abc' for '--strength <STRENGTH>': ...`.
fn usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    // After clap's message come its tips, usage and help hint, each after a blank line; a
    // value the user typed can hold blank lines too, so the message is cut at the last
    // `Usage:` (or help hint), then its lines (clap's list of missing arguments, line breaks
    // inside a value) are joined without the tips.
    let text = err.to_string();
    let end = ["\n\nUsage:", "\n\nFor more information"]
        .iter()
        .filter_map(|marker| text.rfind(marker))
        .min()
        .unwrap_or(text.len());
    let message = text[..end].strip_prefix("error: ").unwrap_or(&text[..end]);
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("tip:"))
        .collect();
    eprintln!(
        "faststyle: error: {} (see faststyle --help)",
        lines.join(" ")
    );
    ExitCode::from(EXIT_USER_ERROR)
}

/// Logs go to stderr through `tracing`, off unless `-v` is given (or `RUST_LOG` is set).
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => None,
        1 => Some("info"),
        2 => Some("debug"),
        _ => Some("trace"),
    };
    let filter = match (level, std::env::var("RUST_LOG")) {
        (_, Ok(env)) => tracing_subscriber::EnvFilter::new(env),
        (Some(level), _) => tracing_subscriber::EnvFilter::new(level),
        (None, _) => return,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
