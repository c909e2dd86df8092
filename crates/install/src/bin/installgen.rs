//! `installgen`: regenerates or checks the install artefacts from their sources
//! (`make bundle`, `make sync-images`, the stale checks in `make test`).

use clap::{Parser, Subcommand};
use netobserv_install::{bundle, images::ImageSet, sync, validate};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "installgen",
    version,
    about = "Generate and check netobserv-rs install artefacts"
)]
struct Cli {
    /// Repository root.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write the image references of images/images.env into config/manager.
    SyncImages {
        /// Only report what would change; exit 1 when something would.
        #[arg(long)]
        check: bool,
    },
    /// Generate bundle/ and bundle.Dockerfile from config/ (then validate them).
    Bundle {
        /// Bundle (CSV) version; defaults to IMAGE_TAG of images/images.env.
        #[arg(long)]
        version: Option<String>,
        /// Only report whether the committed bundle is stale; exit 1 when it is.
        #[arg(long)]
        check: bool,
    },
    /// Validate a bundle directory with the offline `operator-sdk bundle validate` rules.
    Validate {
        /// The bundle directory (holding manifests/ and metadata/).
        #[arg(default_value = "bundle")]
        dir: PathBuf,
    },
}

fn run(cli: Cli) -> Result<bool, netobserv_install::Error> {
    let root = cli.root;
    match cli.command {
        Command::SyncImages { check } => {
            let changes = sync::plan(&root, &ImageSet::load(&root)?)?;
            for c in &changes {
                println!(
                    "{}: image references differ from images/images.env",
                    c.path.display()
                );
            }
            if !check {
                sync::apply(&root, &changes)?;
                return Ok(true);
            }
            Ok(changes.is_empty())
        }
        Command::Bundle { version, check } => {
            let inputs = bundle::Inputs::load(&root)?;
            let version = version.unwrap_or_else(|| inputs.images.tag.clone());
            let files = bundle::generate(&inputs, &version)?;
            if check {
                let problems = bundle::stale(&root, &files)?;
                for p in &problems {
                    println!("stale bundle: {p} (run `make bundle`)");
                }
                return Ok(problems.is_empty());
            }
            bundle::write(&root, &files)?;
            println!("bundle {version}: {} files written", files.len());
            report(validate::validate(&root.join("bundle"))?)
        }
        Command::Validate { dir } => report(validate::validate(&root.join(dir))?),
    }
}

fn report(errors: Vec<String>) -> Result<bool, netobserv_install::Error> {
    for e in &errors {
        println!("invalid bundle: {e}");
    }
    Ok(errors.is_empty())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            tracing::error!(error = %e, "installgen failed");
            ExitCode::FAILURE
        }
    }
}
