//! The logging set-up every binary of the project shares, so their logs read and filter alike:
//! a `tracing-subscriber` on standard error, at the level the component's own setting gives
//! (a flag, a configuration key, upstream's `LOG_LEVEL` variable), in text or JSON
//! (`LOG_FORMAT`).
//!
//! Precedence: `RUST_LOG` (a full filter, for developers) over the component's level over
//! `LOG_LEVEL` over `info`. Unknown level or format names fall back to the default with a
//! warning, rather than silencing the process.

use std::io::IsTerminal;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event (what log collectors parse).
    Json,
}

impl Format {
    /// Parses `text` or `json` (any case).
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "text" | "plain" | "console" => Some(Format::Text),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// The `tracing` level for a level name (upstream's names: `warning` = `warn`, `fatal` and
/// `panic` = `error`); `None` for an unknown name.
pub fn level(name: &str) -> Option<&'static str> {
    match name.trim().to_ascii_lowercase().as_str() {
        "trace" => Some("trace"),
        "debug" => Some("debug"),
        "" | "info" => Some("info"),
        "warn" | "warning" => Some("warn"),
        "error" | "fatal" | "panic" => Some("error"),
        _ => None,
    }
}

/// What [`init`] decided, with warnings about values it could not use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    /// The level filter applied (unless `RUST_LOG` overrides it).
    pub level: &'static str,
    /// The line format.
    pub format: Format,
    /// Values that were not understood, already logged as warnings.
    pub warnings: Vec<String>,
}

/// Decides level and format from the component's level (`component_level`), the environment
/// (`LOG_LEVEL`, `LOG_FORMAT`) and `default_format`, without installing anything.
pub fn choose(
    component_level: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
    default_format: Format,
) -> Chosen {
    let mut warnings = Vec::new();
    let env_level = env("LOG_LEVEL").filter(|v| !v.is_empty());
    let asked = component_level
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .or(env_level);
    let level = match asked {
        None => "info",
        Some(name) => level(&name).unwrap_or_else(|| {
            warnings.push(format!("unknown log level `{name}`, using info"));
            "info"
        }),
    };
    let format = match env("LOG_FORMAT").filter(|v| !v.is_empty()) {
        None => default_format,
        Some(name) => Format::parse(&name).unwrap_or_else(|| {
            warnings.push(format!(
                "unknown LOG_FORMAT `{name}` (expected text or json), using the default"
            ));
            default_format
        }),
    };
    Chosen {
        level,
        format,
        warnings,
    }
}

/// Installs the process's subscriber (once; later calls keep the first). Returns what was
/// chosen.
pub fn init(component_level: Option<&str>, default_format: Format) -> Chosen {
    let chosen = choose(
        component_level,
        |name| std::env::var(name).ok(),
        default_format,
    );
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(chosen.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match chosen.format {
        Format::Json => builder.json().with_current_span(false).try_init(),
        Format::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
    };
    if installed.is_ok() {
        for warning in &chosen.warnings {
            tracing::warn!("{warning}");
        }
    }
    chosen
}

/// Installs the process's subscriber writing text lines to `file` (appended), for a program whose
/// terminal shows a full-screen view that log lines would tear apart. Returns what was chosen.
pub fn init_to_file(
    component_level: Option<&str>,
    file: &std::path::Path,
) -> std::io::Result<Chosen> {
    let chosen = choose(
        component_level,
        |name| std::env::var(name).ok(),
        Format::Text,
    );
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(chosen.level));
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(out))
        .with_ansi(false)
        .with_target(false)
        .try_init();
    if installed.is_ok() {
        for warning in &chosen.warnings {
            tracing::warn!("{warning}");
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn component_level_wins_over_the_environment() {
        let c = choose(Some("debug"), env(&[("LOG_LEVEL", "error")]), Format::Text);
        assert_eq!(c.level, "debug");
        let c = choose(None, env(&[("LOG_LEVEL", "warning")]), Format::Text);
        assert_eq!(c.level, "warn");
        let c = choose(None, env(&[]), Format::Text);
        assert_eq!((c.level, c.format), ("info", Format::Text));
    }

    #[test]
    fn format_from_the_environment_and_bad_values_are_reported() {
        let c = choose(None, env(&[("LOG_FORMAT", "JSON")]), Format::Text);
        assert_eq!(c.format, Format::Json);
        let c = choose(Some("loud"), env(&[("LOG_FORMAT", "xml")]), Format::Json);
        assert_eq!((c.level, c.format), ("info", Format::Json));
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert_eq!(level("fatal"), Some("error"));
    }
}
