//! The pipeline inside another program: what the agent runs with `EXPORT=direct-flp` (and local
//! mode or the CLI later). The configuration is upstream's: its first stages follow
//! `preset-ingester`, the ingest the program feeds through a [`PresetSender`]; no gRPC, no
//! protobuf encoding between the two.
//!
//! It runs on the caller's tokio runtime (its background tasks are tasks there) with its own
//! worker threads for the stage graph, exactly as the standalone pipeline does: the same stage
//! builders, dynamic reload, Kubernetes caches, writers and metrics. Its endpoints (health,
//! `/metrics`) only start when the configuration asks for them, since the embedding program has
//! its own.

use crate::cli::Args;
use crate::config::{Config, PRESET_INGESTER};
use crate::dynamic::DynamicSource;
use crate::ingest::preset::{PresetIngester, PresetSender};
use crate::registry::Registry;
use crate::service::{
    Outcome, RunError, RunOptions, Shutdown, ShutdownTrigger, Source, StdoutMaker,
};
use crate::settings::{HealthSettings, MetricsSettings};
use crate::stage::BuildContext;

/// Settings of an embedded pipeline besides its configuration.
pub struct EmbeddedOptions {
    /// Worker threads running the stage graph.
    pub workers: usize,
    /// Batches each worker queue holds before the sender waits. The sender's batches are small
    /// (the agent hands over a few thousand flows at a time), so a short queue keeps the
    /// pipeline busy without holding much: the agent's own export queue absorbs bursts.
    pub queue_batches: usize,
    /// Where `stdout` writers write.
    pub stdout: StdoutMaker,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self {
            workers: 1,
            queue_batches: 2,
            stdout: crate::service::process_stdout(),
        }
    }
}

/// A running embedded pipeline.
pub struct InProcess {
    sender: Option<PresetSender>,
    trigger: ShutdownTrigger,
    task: tokio::task::JoinHandle<Result<Outcome, RunError>>,
}

impl InProcess {
    /// Parses a configuration (the agent's `FLP_CONFIG`, YAML or JSON) and starts it.
    pub async fn start_text(text: &str, options: EmbeddedOptions) -> Result<Self, RunError> {
        let config = Config::parse(text).map_err(|e| RunError::Config(e.to_string()))?;
        Self::start(config, options).await
    }

    /// Starts `config` on the current runtime; returns once its stages are built (the
    /// Kubernetes caches may still be filling: flows sent meanwhile wait in the queues).
    pub async fn start(config: Config, options: EmbeddedOptions) -> Result<Self, RunError> {
        let graph = config
            .check()
            .map_err(|e| RunError::Config(e.to_string()))?;
        if graph.root != PRESET_INGESTER {
            return Err(RunError::Config(format!(
                "an embedded pipeline is fed by the program running it: its first stages must \
                 follow `{PRESET_INGESTER}`, and it declares no ingest (found ingest stage `{}`)",
                graph.root
            )));
        }
        let registry = Registry::standard();
        registry
            .check_supported(&config)
            .map_err(|(stage, e)| RunError::Config(format!("stage `{stage}`: {e}")))?;
        let args = Args::default();
        let mut metrics = MetricsSettings::from_config(&config, &args)
            .map_err(|e| RunError::Config(e.to_string()))?;
        // The embedding program serves its own metrics: ours only when asked for.
        metrics.disabled |= config.metrics_settings.is_none();
        let health = HealthSettings::from_config(&config, &args)
            .map_err(|e| RunError::Config(e.to_string()))?;
        let (ingester, handoff) = PresetIngester::new(options.queue_batches);
        let (built_tx, built) = tokio::sync::oneshot::channel();
        let run = RunOptions {
            workers: options.workers.max(1),
            dynamic: config
                .dynamic_parameters
                .as_ref()
                .and_then(DynamicSource::from_parameters),
            metrics,
            health,
            metrics_explicit: true,
            metrics_out: None,
            stdout: options.stdout,
            on_built: Some(built_tx),
        };
        let source = Source {
            stage: PRESET_INGESTER.to_string(),
            ingester: Box::new(ingester),
            synthetic: false,
        };
        let (trigger, shutdown) = Shutdown::manual();
        let context = BuildContext::new(tokio::runtime::Handle::current());
        let mut task = tokio::spawn(crate::service::serve(
            config, source, run, shutdown, context,
        ));
        let failed =
            |joined: Result<Result<Outcome, RunError>, tokio::task::JoinError>| match joined {
                Ok(Err(e)) => e,
                Ok(Ok(_)) => RunError::Start("the embedded pipeline stopped at once".into()),
                Err(e) => RunError::Start(format!("the embedded pipeline failed: {e}")),
            };
        let sender = tokio::select! {
            sender = handoff => sender.ok(),
            joined = &mut task => return Err(failed(joined)),
        };
        tokio::select! {
            _ = built => {}
            joined = &mut task => return Err(failed(joined)),
        }
        Ok(Self {
            sender,
            trigger,
            task,
        })
    }

    /// Where the program sends its flows.
    pub fn sender(&self) -> Option<PresetSender> {
        self.sender.clone()
    }

    /// Stops: the queues close once every sender is dropped, the workers finish what they hold,
    /// the writers flush. Returns the run's counters.
    pub async fn stop(mut self) -> Result<Outcome, RunError> {
        self.sender.take();
        self.trigger.stop();
        self.task
            .await
            .map_err(|e| RunError::Start(format!("the embedded pipeline failed: {e}")))?
    }
}
