//! `netobserv-pipeline --config FILE`: runs a flowlogs-pipeline configuration.
//!
//! Supported today: `stdin` and `file` ingest (JSON lines), `network` / `filter` / `generic`
//! transforms, the `prom` encoder and the `stdout` / `none` writers. A configuration that uses
//! anything else is refused with the stage and type named, rather than run half-way.

use netobserv_pipeline::config::Config;
use netobserv_pipeline::ingest::read_json_lines;
use netobserv_pipeline::runtime::Pipeline;
use std::io::BufReader;
use std::process::ExitCode;

const USAGE: &str = "usage: netobserv-pipeline --config FILE [--metrics-out FILE]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("netobserv-pipeline: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut config_path, mut metrics_out) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config_path = args.next(),
            "--metrics-out" => metrics_out = args.next(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let config_path = config_path.ok_or(USAGE)?;
    let text = std::fs::read_to_string(&config_path)
        .map_err(|e| format!("cannot read {config_path}: {e}"))?;
    let config = Config::parse(&text).map_err(|e| e.to_string())?;
    let graph = config.check().map_err(|e| e.to_string())?;
    let ingest = config
        .parameters
        .iter()
        .find(|p| p.name == graph.root)
        .and_then(|p| p.ingest.clone())
        .ok_or("the ingest stage has no parameters")?;
    let batch_len = config
        .perf_settings
        .as_ref()
        .and_then(|p| p.batcher_max_len)
        .unwrap_or(1000) as usize;
    let mut pipeline =
        Pipeline::build(&config, || Box::new(std::io::stdout())).map_err(|e| e.to_string())?;
    let kind = ingest
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    let stats = match kind {
        "stdin" => read_json_lines(std::io::stdin().lock(), batch_len, |b| pipeline.process(b)),
        "file" => {
            let path = ingest
                .pointer("/file/filename")
                .and_then(|f| f.as_str())
                .ok_or("file ingest needs `file.filename`")?;
            let file = std::fs::File::open(path).map_err(|e| format!("cannot open {path}: {e}"))?;
            read_json_lines(BufReader::new(file), batch_len, |b| pipeline.process(b))
        }
        other => {
            return Err(format!(
                "stage `{}`: ingest type `{other}` is not supported by this pipeline yet",
                graph.root
            ));
        }
    }
    .map_err(|e| format!("reading input: {e}"))?;
    if let Some(path) = metrics_out {
        let mut text = String::new();
        for (_, encoder) in pipeline.prom_encoders() {
            if let Ok(encoder) = encoder.lock() {
                text.push_str(&encoder.render());
            }
        }
        std::fs::write(&path, text).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    let p = pipeline.stats();
    eprintln!(
        "netobserv-pipeline: {} records read, {} undecodable lines, {} filtered out, {} written, {} write errors",
        stats.records, stats.decode_errors, p.filtered, p.written, p.write_errors
    );
    Ok(())
}
