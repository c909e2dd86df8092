//! User-space side of the per-CPU flow cache (`flow_cache`, see
//! `netobserv_agent_common::CachedFlow`): the classifiers sum the packets of a flow that owns a
//! slot there without touching the shared flow map, so every eviction must first move those
//! sums into the map. That is done by a raw tracepoint program that is never attached: user
//! space runs it on each online CPU with `BPF_PROG_TEST_RUN`, the only way to run code on a
//! chosen CPU against that CPU's per-CPU slots without racing the classifiers.
//!
//! The cache is switched on only after a flush has succeeded on every CPU, so a kernel that
//! cannot run it (before 5.10, or a refused program) keeps the plain per-packet path.

use aya::{
    Ebpf,
    maps::{PerCpuArray, PerCpuValues},
    programs::{ProgramFd, RawTracePoint},
};
use netobserv_agent_common::{
    FLOW_CACHE_FLUSH_CHUNK, FLOW_CACHE_SLOTS, maps::FLOW_CACHE_CTL, programs::FLUSH_FLOW_CACHE,
};
use std::os::fd::{AsFd, AsRawFd};

/// How many times a chunk is run again while a classifier was mid-update on one of its slots
/// (a window of a few instructions; a second run virtually always finds it done).
const MAX_RETRIES: usize = 100;

/// The loaded flush program, owned by the flow maps so eviction can flush without the tracer.
pub struct FlowCache {
    prog: ProgramFd,
}

/// What one flush (or, summed, several) did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlushReport {
    /// CPUs flushed.
    pub cpus: usize,
    /// Slots whose sums were moved into the shared map (how much the cache absorbs).
    pub flushed: usize,
    /// Chunk runs repeated because a slot was busy.
    pub retries: usize,
    /// Slots still busy after [`MAX_RETRIES`]: their sums stay in the cache for the next flush
    /// (late, not lost).
    pub left_busy: usize,
    /// CPUs whose flush failed (their sums stay in the cache for the next flush).
    pub failed_cpus: usize,
}

/// Errors turning the cache on or flushing it.
#[derive(Debug, thiserror::Error)]
pub enum FlowCacheError {
    /// The flush program was refused or is missing.
    #[error("loading {FLUSH_FLOW_CACHE}: {0}")]
    Program(String),
    /// Running it failed (e.g. `BPF_F_TEST_RUN_ON_CPU` unsupported before kernel 5.10).
    #[error("running {FLUSH_FLOW_CACHE} on CPU {cpu}: {source}")]
    Run {
        /// The CPU it was run on.
        cpu: u32,
        /// The `bpf(2)` error.
        source: std::io::Error,
    },
    /// Listing the CPUs or switching the cache on failed.
    #[error("{0}")]
    Setup(String),
}

impl FlushReport {
    /// Adds another flush's figures to these.
    pub fn add(&mut self, o: &FlushReport) {
        self.cpus += o.cpus;
        self.flushed += o.flushed;
        self.retries += o.retries;
        self.left_busy += o.left_busy;
        self.failed_cpus += o.failed_cpus;
    }
}

impl FlowCache {
    /// Loads the flush program, checks that it runs on every online CPU, then switches the cache
    /// on for every possible CPU. On error the cache stays off and the classifiers keep the
    /// shared-map path.
    pub fn enable(ebpf: &mut Ebpf) -> Result<Self, FlowCacheError> {
        let prog: &mut RawTracePoint = ebpf
            .program_mut(FLUSH_FLOW_CACHE)
            .ok_or_else(|| FlowCacheError::Program("not in the object".into()))?
            .try_into()
            .map_err(|e: aya::programs::ProgramError| FlowCacheError::Program(e.to_string()))?;
        crate::hooks::load_retrying(|| prog.load())
            .map_err(|e| FlowCacheError::Program(e.to_string()))?;
        let fd = prog
            .fd()
            .and_then(|fd| fd.try_clone().map_err(Into::into))
            .map_err(|e| FlowCacheError::Program(e.to_string()))?;
        let cache = Self { prog: fd };
        let cpus =
            aya::util::online_cpus().map_err(|(_, e)| FlowCacheError::Setup(e.to_string()))?;
        for cpu in cpus {
            cache.flush_cpu(cpu, &mut FlushReport::default())?;
        }
        let ncpus = aya::util::nr_cpus().map_err(|(_, e)| FlowCacheError::Setup(e.to_string()))?;
        let map = ebpf
            .map_mut(FLOW_CACHE_CTL)
            .ok_or_else(|| FlowCacheError::Setup(format!("{FLOW_CACHE_CTL} missing")))?;
        let mut ctl: PerCpuArray<_, u32> =
            PerCpuArray::try_from(map).map_err(|e| FlowCacheError::Setup(e.to_string()))?;
        let on = PerCpuValues::try_from(vec![1u32; ncpus])
            .map_err(|e| FlowCacheError::Setup(e.to_string()))?;
        ctl.set(0, on, 0)
            .map_err(|e| FlowCacheError::Setup(e.to_string()))?;
        Ok(cache)
    }

    /// Moves every CPU's cached sums into the shared flow map. The CPU list is read each time,
    /// so a CPU brought online later is flushed too; an offline CPU keeps its sums until it is
    /// back (it runs no classifier meanwhile). A CPU whose flush fails is counted and skipped:
    /// its sums wait for the next flush.
    pub fn flush(&self) -> Result<FlushReport, FlowCacheError> {
        let cpus =
            aya::util::online_cpus().map_err(|(_, e)| FlowCacheError::Setup(e.to_string()))?;
        let mut report = FlushReport {
            cpus: cpus.len(),
            ..FlushReport::default()
        };
        for cpu in cpus {
            if let Err(e) = self.flush_cpu(cpu, &mut report) {
                tracing::warn!(error = %e, "flushing the flow cache of one CPU");
                report.failed_cpus += 1;
            }
        }
        Ok(report)
    }

    /// Runs the flush program over all slots of one CPU, repeating a chunk while a slot in it is
    /// busy (up to [`MAX_RETRIES`] times).
    fn flush_cpu(&self, cpu: u32, report: &mut FlushReport) -> Result<(), FlowCacheError> {
        let fd = self.prog.as_fd().as_raw_fd();
        for start in (0..FLOW_CACHE_SLOTS).step_by(FLOW_CACHE_FLUSH_CHUNK as usize) {
            let mut tries = 0;
            loop {
                let ret = crate::sys::run_raw_tp_on_cpu(fd, cpu, &[u64::from(start)])
                    .map_err(|source| FlowCacheError::Run { cpu, source })?;
                let (busy, flushed) = (ret & 0xffff, ret >> 16);
                if busy > FLOW_CACHE_FLUSH_CHUNK {
                    return Err(FlowCacheError::Setup(format!(
                        "{FLUSH_FLOW_CACHE} on CPU {cpu} returned {ret:#x}"
                    )));
                }
                report.flushed += flushed as usize;
                if busy == 0 {
                    break;
                }
                tries += 1;
                if tries > MAX_RETRIES {
                    report.left_busy += busy as usize;
                    break;
                }
                report.retries += 1;
                std::thread::yield_now();
            }
        }
        Ok(())
    }
}

/// Flush figures, and flushes that failed, since the previous report (for the agent's metrics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheReport {
    /// What the flushes did, summed.
    pub flush: FlushReport,
    /// Flushes that failed as a whole.
    pub failed_flushes: u64,
}

/// The flow cache as eviction sees it: its flush when the cache is on, its `/status` text, and
/// the figures of the flushes since the last report.
pub(crate) struct CacheSide {
    cache: Option<FlowCache>,
    status: String,
    report: CacheReport,
}

impl CacheSide {
    /// Turns the cache on when wanted and possible (`FLOW_CACHE`).
    pub(crate) fn start(ebpf: &mut Ebpf, wanted: bool) -> Self {
        let (cache, status) = if !wanted {
            (None, "off: disabled (FLOW_CACHE is false)".to_string())
        } else {
            match FlowCache::enable(ebpf) {
                Ok(c) => {
                    tracing::info!(slots_per_cpu = FLOW_CACHE_SLOTS, "per-CPU flow cache on");
                    (Some(c), format!("on ({FLOW_CACHE_SLOTS} slots per CPU)"))
                }
                Err(e) => {
                    tracing::warn!(error = %e, "per-CPU flow cache off: every packet goes to the shared map");
                    (None, format!("off: {e}"))
                }
            }
        };
        Self {
            cache,
            status,
            report: CacheReport::default(),
        }
    }

    /// `on (N slots per CPU)` or `off: why`, for `/status`.
    pub(crate) fn status(&self) -> &str {
        &self.status
    }

    /// Moves the per-CPU sums into the shared map (nothing when the cache is off). A failure
    /// leaves the sums in the cache for the next round; it is logged, not fatal.
    pub(crate) fn flush(&mut self) {
        let Some(cache) = &self.cache else {
            return;
        };
        match cache.flush() {
            Ok(r) => {
                if r.left_busy > 0 {
                    tracing::debug!(
                        slots = r.left_busy,
                        "flow cache slots busy; flushed next round"
                    );
                }
                self.report.flush.add(&r);
            }
            Err(e) => {
                tracing::warn!(error = %e, "flushing the per-CPU flow cache");
                self.report.failed_flushes += 1;
            }
        }
    }

    /// The figures since the previous call.
    pub(crate) fn take_report(&mut self) -> CacheReport {
        std::mem::take(&mut self.report)
    }
}
