//! What every optional kernel hook shares: the choice among its attach methods at run time
//! (first that loads and attaches wins, a failure is never fatal), program loads retried on
//! `EAGAIN`, program lookup by type, and the reasons a hook or method is off, as `/status`
//! reports them. A leaf: it knows no feature, each feature module uses it.

use aya::programs::{BtfTracePoint, FEntry, KProbe, ProgramError};
use aya::{Btf, Ebpf};

/// Whether an optional hook runs, and how or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookState {
    /// Attached, with the attach method.
    Active(&'static str),
    /// Not running, with the reason.
    Off(String),
}

/// An attach method of a hook that is not in use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodOff {
    /// Method, e.g. `fentry/tcp_rcv_established`.
    pub method: &'static str,
    /// Why it is not in use (the load/attach error, or that another method is active).
    pub reason: String,
}

/// One way of attaching a hook: short mode (`/status` `mode`, metric label) and full name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// Short mode, e.g. `fentry`.
    pub mode: &'static str,
    /// Program type and attach point, e.g. `fentry/tcp_rcv_established`.
    pub name: &'static str,
}

/// What became of one optional hook at load: its state, the methods it can use, why each
/// unused one is off, and whether it fell back to probe reads (a verifier refused the direct
/// loads). `/status` shows it as one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookReport {
    /// Active method, or why the hook is off.
    pub state: HookState,
    /// Every method of the hook, in the order they are tried.
    pub methods: &'static [Method],
    /// Methods not in use, and why.
    pub methods_off: Vec<MethodOff>,
    /// Whether the active program reads kernel memory with `bpf_probe_read_kernel` rather than
    /// direct loads.
    pub probe_reads: bool,
}

impl HookReport {
    /// A hook that is off before any method was tried (disabled, or missing kernel offsets).
    pub fn off(methods: &'static [Method], why: impl Into<String>) -> Self {
        Self {
            state: HookState::Off(why.into()),
            methods,
            methods_off: Vec::new(),
            probe_reads: false,
        }
    }

    /// Whether a method is attached.
    pub fn is_active(&self) -> bool {
        matches!(self.state, HookState::Active(_))
    }
}

/// Tries `methods` in order and keeps the first one `try_method` loads and attaches. Returns the
/// hook state and, for every other method, why it is not in use. A failure is never fatal.
pub fn choose_method(
    methods: &'static [Method],
    mut try_method: impl FnMut(Method) -> Result<(), String>,
) -> HookReport {
    let mut off = Vec::new();
    let mut active: Option<Method> = None;
    for m in methods {
        if let Some(a) = active {
            off.push(MethodOff {
                method: m.name,
                reason: format!("not needed: {} is active", a.name),
            });
            continue;
        }
        match try_method(*m) {
            Ok(()) => active = Some(*m),
            Err(e) => off.push(MethodOff {
                method: m.name,
                reason: format!("{} could not be loaded/attached: {e}", m.name),
            }),
        }
    }
    let state = match active {
        Some(m) => HookState::Active(m.mode),
        None => HookState::Off(
            off.iter()
                .map(|o| o.reason.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    HookReport {
        state,
        methods,
        methods_off: off,
        probe_reads: false,
    }
}

/// Runs a program load again (up to 5 tries) while the kernel answers `EAGAIN`: the verifier
/// gives up with it when a signal is pending for the loading thread (a child exiting under a
/// SIGCHLD handler, say), which says nothing about the program. libbpf retries the same way.
pub fn load_retrying(
    mut load: impl FnMut() -> Result<(), ProgramError>,
) -> Result<(), ProgramError> {
    let mut tries = 1;
    loop {
        match load() {
            Err(ProgramError::LoadError { io_error, .. })
                if io_error.raw_os_error() == Some(libc::EAGAIN) && tries < 5 =>
            {
                tries += 1;
            }
            other => return other,
        }
    }
}

/// Program `name` of the object as its concrete type (`FEntry`, `KProbe`, ...), or why not.
pub fn typed_program<'a, P>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut P, String>
where
    &'a mut P: TryFrom<&'a mut aya::programs::Program, Error = ProgramError>,
{
    ebpf.program_mut(name)
        .ok_or("program missing from the object")?
        .try_into()
        .map_err(|e: ProgramError| e.to_string())
}

/// A load/attach error as one line, without the empty verifier log a refused load carries.
pub fn error_text(e: &ProgramError) -> String {
    let s = e.to_string();
    let s = s.trim_end();
    s.strip_suffix("Verifier output:")
        .map_or(s, str::trim_end)
        .to_string()
}

/// Loads `tp_btf` program `program` on `tracepoint` and attaches it.
pub fn load_btf_hook(
    ebpf: &mut Ebpf,
    btf: Option<&Btf>,
    program: &str,
    tracepoint: &str,
) -> Result<(), String> {
    let btf = btf.ok_or("no kernel BTF")?;
    let prog: &mut BtfTracePoint = typed_program(ebpf, program)?;
    load_retrying(|| prog.load(tracepoint, btf)).map_err(|e| error_text(&e))?;
    prog.attach().map_err(|e| error_text(&e))?;
    Ok(())
}

/// Loads `fentry` program `program` on kernel function `function` and attaches it; a program
/// that loads but cannot attach is unloaded, so only a fallback stays.
pub fn load_fentry_hook(
    ebpf: &mut Ebpf,
    btf: Option<&Btf>,
    program: &str,
    function: &str,
) -> Result<(), String> {
    let btf = btf.ok_or("no kernel BTF")?;
    let prog: &mut FEntry = typed_program(ebpf, program)?;
    load_retrying(|| prog.load(function, btf)).map_err(|e| error_text(&e))?;
    if let Err(e) = prog.attach() {
        // Loaded but not attachable: release it so only the fallback stays.
        let _ = prog.unload();
        return Err(error_text(&e));
    }
    Ok(())
}

/// Loads `kprobe` program `program` and attaches it to kernel function `function`; unloaded
/// again when the attach fails.
pub fn load_kprobe_hook(ebpf: &mut Ebpf, program: &str, function: &str) -> Result<(), String> {
    let prog: &mut KProbe = typed_program(ebpf, program)?;
    load_retrying(|| prog.load()).map_err(|e| error_text(&e))?;
    if let Err(e) = prog.attach(function, 0) {
        let _ = prog.unload();
        return Err(error_text(&e));
    }
    Ok(())
}

/// Loads `tp_btf` program `program` through the verifier and unloads it (diagnostics and tests:
/// whether this kernel accepts a fallback the agent did not need).
pub fn verify_btf_program(ebpf: &mut Ebpf, program: &str, tracepoint: &str) -> Result<(), String> {
    let btf = Btf::from_sys_fs().map_err(|e| e.to_string())?;
    let prog: &mut BtfTracePoint = typed_program(ebpf, program)?;
    load_retrying(|| prog.load(tracepoint, &btf)).map_err(|e| error_text(&e))?;
    let _ = prog.unload();
    Ok(())
}
