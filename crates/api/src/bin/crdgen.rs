//! `make manifests`: writes the CRDs generated from the Rust types under `config/crd/bases`.
//!
//! With `--check` it writes nothing and exits 1 when the committed files differ, so CI can tell
//! that someone changed a type without regenerating.

use netobserv_api::crd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.iter().any(|a| a == "--check");
    let root = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    match run(&root, check) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("crdgen: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(root: &Path, check: bool) -> Result<bool, Box<dyn std::error::Error>> {
    let outputs = [
        (
            crd::FLOWCOLLECTOR_CRD_PATH,
            crd::to_yaml(&crd::flowcollector_crd()?)?,
        ),
        (
            crd::FLOWMETRIC_CRD_PATH,
            crd::to_yaml(&crd::flowmetric_crd()?)?,
        ),
    ];
    let mut up_to_date = true;
    for (relative, yaml) in outputs {
        let path = root.join(relative);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == yaml {
            continue;
        }
        if check {
            eprintln!("{relative} is out of date: run `make manifests`");
            up_to_date = false;
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(&path, yaml)?;
            println!("wrote {relative}");
        }
    }
    Ok(up_to_date)
}
