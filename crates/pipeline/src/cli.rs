//! Command-line arguments of `netobserv-pipeline`.
//!
//! They follow upstream flowlogs-pipeline's flags so that the Deployment / DaemonSet the operator
//! renders (`--config=/etc/flowlogs-pipeline/config.json`) and scripts written for upstream start
//! this binary unchanged: `--flag=value` and `--flag value` are both accepted, and flags given on
//! the command line win over the same settings in the configuration file. A few flags of our own
//! (`--metrics-address`, `--dynamic-file`, `--metrics-out`, `--workers`) come after them.

use crate::config::{Config, ConfigError, DynamicParameters};
use clap::Parser;

/// `netobserv-pipeline`: runs a flowlogs-pipeline configuration (ingest → transforms → encoders
/// and writers).
#[derive(Clone, Debug, Default, Parser, PartialEq, Eq)]
#[command(name = "netobserv-pipeline", version, about, long_about = None)]
pub struct Args {
    /// Configuration file (YAML or JSON: `pipeline`, `parameters`, `metricsSettings`, ...).
    #[arg(long, value_name = "FILE")]
    pub config: Option<String>,

    /// Log level: trace, debug, info, warn (warning), error. Wins over the file's `log-level`.
    #[arg(long = "log-level", value_name = "LEVEL")]
    pub log_level: Option<String>,

    /// The `pipeline` list as JSON, instead of (or over) the file's.
    #[arg(long, value_name = "JSON")]
    pub pipeline: Option<String>,

    /// The `parameters` list as JSON, instead of (or over) the file's.
    #[arg(long, value_name = "JSON")]
    pub parameters: Option<String>,

    /// `metricsSettings` as JSON (address, port, prefix, tls, noPanic, ...), over the file's.
    #[arg(long = "metricsSettings", value_name = "JSON")]
    pub metrics_settings: Option<String>,

    /// `dynamicParameters` as JSON (namespace, name, fileName, kubeConfigPath), over the file's.
    #[arg(long = "dynamicParameters", value_name = "JSON")]
    pub dynamic_parameters: Option<String>,

    /// Health server address (upstream default 0.0.0.0).
    #[arg(long = "health.address", value_name = "ADDR")]
    pub health_address: Option<String>,

    /// Health server port (`/live`, `/ready`); 0 or unset (and no `health.port` in the file)
    /// disables it.
    #[arg(long = "health.port", value_name = "PORT")]
    pub health_port: Option<u16>,

    /// Health server `HOST:PORT` (newer upstream spelling of the two flags above).
    #[arg(long = "healthAddr", value_name = "HOST:PORT")]
    pub health_addr: Option<String>,

    /// Profiling port (upstream Go pprof). Accepted and ignored: see README, profiling section.
    #[arg(long = "profile.port", value_name = "PORT")]
    pub profile_port: Option<u16>,

    /// Profiling address (upstream Go pprof). Accepted and ignored.
    #[arg(long = "pprofAddr", value_name = "HOST:PORT")]
    pub pprof_addr: Option<String>,

    /// Kubernetes cache server address (upstream `flp-informers` mode).
    #[arg(long = "k8scache.address", value_name = "ADDR")]
    pub k8scache_address: Option<String>,

    /// Kubernetes cache server port; anything but 0 is refused (the mode is not implemented).
    #[arg(long = "k8scache.port", value_name = "PORT")]
    pub k8scache_port: Option<u16>,

    /// Kubernetes cache server TLS.
    #[arg(long = "k8scache.tls-enabled", value_name = "BOOL", num_args = 0..=1,
          default_missing_value = "true")]
    pub k8scache_tls_enabled: Option<bool>,

    /// Kubernetes cache server certificate.
    #[arg(long = "k8scache.tls-cert-path", value_name = "FILE")]
    pub k8scache_tls_cert_path: Option<String>,

    /// Kubernetes cache server key.
    #[arg(long = "k8scache.tls-key-path", value_name = "FILE")]
    pub k8scache_tls_key_path: Option<String>,

    /// Kubernetes cache server client CA.
    #[arg(long = "k8scache.tls-ca-path", value_name = "FILE")]
    pub k8scache_tls_ca_path: Option<String>,

    /// Serve metrics on this `ADDR:PORT`, over `metricsSettings.address` / `port` (ours).
    #[arg(long = "metrics-address", value_name = "ADDR:PORT")]
    pub metrics_address: Option<String>,

    /// Read the dynamic stages from this file instead of the ConfigMap (ours).
    #[arg(long = "dynamic-file", value_name = "FILE")]
    pub dynamic_file: Option<String>,

    /// In stdin / file mode, write the Prometheus exposition here at the end (ours).
    #[arg(long = "metrics-out", value_name = "FILE")]
    pub metrics_out: Option<String>,

    /// Worker threads running the stage graph; flows are sharded by flow key so one
    /// conversation's flows stay in order on one worker (ours; default 1).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
}

/// Why the command line and the configuration file do not make a configuration.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A flag's value is invalid.
    #[error("--{flag}: {message}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// Why.
        message: String,
    },
    /// Neither `--config` nor `--pipeline` + `--parameters` were given.
    #[error("no configuration: give --config FILE, or --pipeline JSON and --parameters JSON")]
    Missing,
}

impl Args {
    /// Reads the configuration file (if any) and lays the JSON flags over it.
    pub fn load_config(&self) -> Result<Config, CliError> {
        let mut config = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| CliError::Read {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                Config::parse(&text)?
            }
            None if self.pipeline.is_some() && self.parameters.is_some() => Config::default(),
            None => return Err(CliError::Missing),
        };
        if let Some(json) = &self.pipeline {
            config.pipeline = serde_json::from_str(json).map_err(|e| CliError::Flag {
                flag: "pipeline",
                message: e.to_string(),
            })?;
        }
        if let Some(json) = &self.parameters {
            config.parameters = serde_json::from_str(json).map_err(|e| CliError::Flag {
                flag: "parameters",
                message: e.to_string(),
            })?;
        }
        if let Some(json) = &self.metrics_settings {
            let value: serde_json::Value =
                serde_json::from_str(json).map_err(|e| CliError::Flag {
                    flag: "metricsSettings",
                    message: e.to_string(),
                })?;
            config.metrics_settings = Some(value);
        }
        if let Some(json) = &self.dynamic_parameters {
            let value: DynamicParameters =
                serde_json::from_str(json).map_err(|e| CliError::Flag {
                    flag: "dynamicParameters",
                    message: e.to_string(),
                })?;
            config.dynamic_parameters = Some(value);
        }
        if let Some(level) = &self.log_level {
            config.log_level = Some(level.clone());
        }
        if self.k8scache_port.is_some_and(|p| p != 0) {
            return Err(CliError::Flag {
                flag: "k8scache.port",
                message: "the Kubernetes cache server mode is not supported by this pipeline; \
                          each pipeline watches the API server itself"
                    .into(),
            });
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("netobserv-pipeline").chain(args.iter().copied()))
    }

    #[test]
    fn both_value_forms_and_upstream_flags() {
        let a = parse(&["--config=/etc/flowlogs-pipeline/config.json"]).expect("parses");
        assert_eq!(
            a.config.as_deref(),
            Some("/etc/flowlogs-pipeline/config.json")
        );
        let b = parse(&["--config", "/etc/flowlogs-pipeline/config.json"]).expect("parses");
        assert_eq!(a, b);
        let c = parse(&[
            "--config=c.yaml",
            "--log-level=debug",
            "--health.address=127.0.0.1",
            "--health.port",
            "8081",
            "--healthAddr=:8082",
            "--profile.port=6060",
            "--pprofAddr=127.0.0.1:6060",
            "--k8scache.address=0.0.0.0",
            "--k8scache.port=0",
            "--k8scache.tls-enabled",
            "--metricsSettings={\"port\":9401}",
            "--dynamicParameters={\"name\":\"x\"}",
            "--workers=2",
        ])
        .expect("parses");
        assert_eq!(c.log_level.as_deref(), Some("debug"));
        assert_eq!(c.health_port, Some(8081));
        assert_eq!(c.health_address.as_deref(), Some("127.0.0.1"));
        assert_eq!(c.health_addr.as_deref(), Some(":8082"));
        assert_eq!(c.k8scache_tls_enabled, Some(true));
        assert_eq!(c.workers, 2);
        assert!(parse(&["--k8scache.tls-enabled=false"]).is_ok());
    }

    #[test]
    fn unknown_flags_and_bad_values_are_errors() {
        assert!(parse(&["--confg=x"]).is_err());
        assert!(parse(&["--workers=0"]).is_err());
        assert!(parse(&["--health.port=http"]).is_err());
    }

    #[test]
    fn json_flags_override_the_file() {
        let dir = std::env::temp_dir().join(format!("netobserv-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("c.yaml");
        std::fs::write(
            &path,
            "log-level: info\nmetricsSettings: {port: 9102}\npipeline: [{name: in}]\nparameters: [{name: in, ingest: {type: stdin}}]\n",
        )
        .expect("write");
        let args = parse(&[
            &format!("--config={}", path.display()),
            "--metricsSettings={\"port\":9401,\"prefix\":\"x_\"}",
            "--log-level=warn",
        ])
        .expect("parses");
        let config = args.load_config().expect("loads");
        assert_eq!(
            config.metrics_settings,
            Some(serde_json::json!({"port": 9401, "prefix": "x_"}))
        );
        assert_eq!(config.log_level.as_deref(), Some("warn"));
        let only_flags = parse(&[
            "--pipeline=[{\"name\":\"in\"}]",
            "--parameters=[{\"name\":\"in\",\"ingest\":{\"type\":\"stdin\"}}]",
        ])
        .expect("parses")
        .load_config()
        .expect("loads");
        assert_eq!(only_flags.pipeline.len(), 1);
        assert!(matches!(
            parse(&[]).expect("parses").load_config(),
            Err(CliError::Missing)
        ));
        let bad = parse(&["--pipeline=[", "--parameters=[]"])
            .expect("parses")
            .load_config();
        assert!(matches!(
            bad,
            Err(CliError::Flag {
                flag: "pipeline",
                ..
            })
        ));
        let cache = parse(&[
            &format!("--config={}", path.display()),
            "--k8scache.port=9999",
        ])
        .expect("parses")
        .load_config();
        assert!(matches!(
            cache,
            Err(CliError::Flag {
                flag: "k8scache.port",
                ..
            })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
