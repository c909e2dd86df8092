//! Raw `bpf(2)` map commands aya 0.14 does not expose for hash maps: atomic per-key
//! lookup-and-delete and its batched form, which eviction needs so that packets counted between
//! a read and a delete are never lost.

use std::io;
use std::os::fd::RawFd;

const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;
const BPF_MAP_LOOKUP_AND_DELETE_ELEM: libc::c_long = 21;
const BPF_MAP_LOOKUP_AND_DELETE_BATCH: libc::c_long = 25;

/// `bpf_attr` for the element commands.
#[repr(C)]
#[derive(Default)]
struct ElemAttr {
    map_fd: u32,
    pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// `bpf_attr` for the batch commands.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<()> {
    // SAFETY: `attr` is a properly laid out, fully initialised bpf_attr prefix whose pointers
    // refer to live buffers of the sizes the map was created with.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Collects the current keys of a hash map.
fn keys<K: Copy + Default>(fd: RawFd) -> io::Result<Vec<K>> {
    let mut out = Vec::new();
    let mut prev: Option<K> = None;
    loop {
        let mut next = K::default();
        let mut attr = ElemAttr {
            map_fd: fd as u32,
            key: prev.as_ref().map_or(0, |k| k as *const K as u64),
            value: &mut next as *mut K as u64,
            ..Default::default()
        };
        match bpf(BPF_MAP_GET_NEXT_KEY, &mut attr) {
            Ok(()) => {
                out.push(next);
                prev = Some(next);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}

/// Removes and returns one entry; `None` if it vanished meanwhile.
fn lookup_and_delete<K, V: Default>(fd: RawFd, key: &K) -> io::Result<Option<V>> {
    let mut value = V::default();
    let mut attr = ElemAttr {
        map_fd: fd as u32,
        key: key as *const K as u64,
        value: &mut value as *mut V as u64,
        ..Default::default()
    };
    match bpf(BPF_MAP_LOOKUP_AND_DELETE_ELEM, &mut attr) {
        Ok(()) => Ok(Some(value)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Batched drain; `Err` with `EINVAL`/`ENOTSUP` means the kernel lacks it for this map.
fn drain_batched<K: Copy + Default, V: Copy + Default>(
    fd: RawFd,
    chunk: usize,
    out: &mut Vec<(K, V)>,
) -> io::Result<()> {
    let mut keys = vec![K::default(); chunk];
    let mut values = vec![V::default(); chunk];
    let mut token_in = [0u8; 8];
    let mut token_out = [0u8; 8];
    let mut first = true;
    loop {
        let mut attr = BatchAttr {
            in_batch: if first {
                0
            } else {
                token_in.as_mut_ptr() as u64
            },
            out_batch: token_out.as_mut_ptr() as u64,
            keys: keys.as_mut_ptr() as u64,
            values: values.as_mut_ptr() as u64,
            count: chunk as u32,
            map_fd: fd as u32,
            ..Default::default()
        };
        let res = bpf(BPF_MAP_LOOKUP_AND_DELETE_BATCH, &mut attr);
        let n = (attr.count as usize).min(chunk);
        out.extend(keys[..n].iter().copied().zip(values[..n].iter().copied()));
        match res {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
            Err(e) => return Err(e),
        }
        token_in = token_out;
        first = false;
    }
}

/// Removes every entry of a hash map and returns them. Each entry is read and deleted
/// atomically, so concurrent kernel updates land either in this drain or in the next one.
/// Room for `expected` entries is reserved up front (e.g. the previous drain's count), so a
/// large drain does not regrow and copy its buffer several times.
pub fn drain_hash_map<K: Copy + Default, V: Copy + Default>(
    fd: RawFd,
    batched: &mut bool,
    expected: usize,
) -> io::Result<Vec<(K, V)>> {
    let mut out = Vec::with_capacity(expected);
    if *batched {
        match drain_batched(fd, 4096, &mut out) {
            Ok(()) => return Ok(out),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) | Some(524)
                ) && out.is_empty() =>
            {
                tracing::info!(error = %e, "batched map drain unsupported, using per-key drain");
                *batched = false;
            }
            Err(e) => return Err(e),
        }
    }
    for k in keys::<K>(fd)? {
        if let Some(v) = lookup_and_delete::<K, V>(fd, &k)? {
            out.push((k, v));
        }
    }
    Ok(out)
}

/// Drains a shared enrichment map keyed by flow (`name` for the log); errors are logged and
/// end the drain (the feature's data for this round is lost, the flows themselves are not).
pub fn drain_shared<V: Copy + Default>(
    map: &aya::maps::MapData,
    batched: &mut bool,
    name: &str,
) -> Vec<(netobserv_agent_common::FlowId, V)> {
    use std::os::fd::{AsFd, AsRawFd};
    let fd = map.fd().as_fd().as_raw_fd();
    match drain_hash_map::<netobserv_agent_common::FlowId, V>(fd, batched, 0) {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(error = %e, map = name, "draining an enrichment map");
            Vec::new()
        }
    }
}

/// Batched drain of a per-CPU hash map: each value comes back as one `V` per possible CPU.
/// Falls back to get-next-key + per-key lookup-and-delete when batching is unavailable.
pub fn drain_percpu_hash_map<K: Copy + Default, V: Copy + Default>(
    fd: RawFd,
    ncpus: usize,
    batched: &mut bool,
) -> io::Result<Vec<(K, Vec<V>)>> {
    let mut out = Vec::new();
    drain_percpu_hash_map_with::<K, V>(fd, ncpus, batched, |k, v| out.push((k, v.to_vec())))?;
    Ok(out)
}

/// Like [`drain_percpu_hash_map`], but hands each entry (key, one `V` per possible CPU) to
/// `each` straight from the syscall buffers, so that merging the per-CPU values costs no
/// allocation per entry.
pub fn drain_percpu_hash_map_with<K: Copy + Default, V: Copy + Default>(
    fd: RawFd,
    ncpus: usize,
    batched: &mut bool,
    mut each: impl FnMut(K, &[V]),
) -> io::Result<()> {
    // The kernel lays per-CPU values out with an 8-byte stride.
    let stride = std::mem::size_of::<V>().div_ceil(8) * 8;
    if stride != std::mem::size_of::<V>() {
        return Err(io::Error::other(
            "per-CPU value size must be a multiple of 8",
        ));
    }
    if *batched {
        let chunk = 1024;
        let mut keys = vec![K::default(); chunk];
        let mut values = vec![V::default(); chunk * ncpus];
        let mut token_in = [0u8; 8];
        let mut token_out = [0u8; 8];
        let mut first = true;
        let mut seen = 0usize;
        loop {
            let mut attr = BatchAttr {
                in_batch: if first {
                    0
                } else {
                    token_in.as_mut_ptr() as u64
                },
                out_batch: token_out.as_mut_ptr() as u64,
                keys: keys.as_mut_ptr() as u64,
                values: values.as_mut_ptr() as u64,
                count: chunk as u32,
                map_fd: fd as u32,
                ..Default::default()
            };
            let res = bpf(BPF_MAP_LOOKUP_AND_DELETE_BATCH, &mut attr);
            let n = (attr.count as usize).min(chunk);
            for (k, v) in keys[..n].iter().zip(values.chunks_exact(ncpus)) {
                each(*k, v);
            }
            seen += n;
            match res {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) | Some(524)
                    ) && seen == 0 =>
                {
                    tracing::info!(error = %e, "batched per-CPU drain unsupported, using per-key");
                    *batched = false;
                    break;
                }
                Err(e) => return Err(e),
            }
            token_in = token_out;
            first = false;
        }
    }
    let mut vals = vec![V::default(); ncpus];
    for k in keys::<K>(fd)? {
        let mut attr = ElemAttr {
            map_fd: fd as u32,
            key: &k as *const K as u64,
            value: vals.as_mut_ptr() as u64,
            ..Default::default()
        };
        match bpf(BPF_MAP_LOOKUP_AND_DELETE_ELEM, &mut attr) {
            Ok(()) => each(k, &vals),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes one key of a (shared) hash map.
pub fn update_elem<K, V>(fd: RawFd, key: &K, value: &V) -> io::Result<()> {
    let mut attr = ElemAttr {
        map_fd: fd as u32,
        key: key as *const K as u64,
        value: value as *const V as u64,
        ..Default::default()
    };
    bpf(BPF_MAP_UPDATE_ELEM, &mut attr)
}

const BPF_PROG_TEST_RUN: libc::c_long = 10;
/// `BPF_F_TEST_RUN_ON_CPU`: run a raw tracepoint program on `cpu` (kernel 5.10+).
const BPF_F_TEST_RUN_ON_CPU: u32 = 1;

/// `bpf_attr` for `BPF_PROG_TEST_RUN` (the `test` member, up to `batch_size`).
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    pad: u32,
}

/// Runs a raw tracepoint program once on `cpu` with `args` as its `bpf_raw_tracepoint_args`
/// (in an IPI when `cpu` is not the caller's), and returns the program's return value.
pub fn run_raw_tp_on_cpu(prog_fd: RawFd, cpu: u32, args: &[u64]) -> io::Result<u32> {
    let mut attr = TestRunAttr {
        prog_fd: prog_fd as u32,
        ctx_size_in: std::mem::size_of_val(args) as u32,
        ctx_in: args.as_ptr() as u64,
        flags: BPF_F_TEST_RUN_ON_CPU,
        cpu,
        ..Default::default()
    };
    bpf(BPF_PROG_TEST_RUN, &mut attr)?;
    Ok(attr.retval)
}

/// Runs a packet program (TC classifier) `repeat` times on `frame` with `BPF_PROG_TEST_RUN`
/// and returns its return value and the kernel's mean duration per run, in ns.
pub fn test_run_packet(prog_fd: RawFd, frame: &[u8], repeat: u32) -> io::Result<(u32, u32)> {
    let mut attr = TestRunAttr {
        prog_fd: prog_fd as u32,
        data_size_in: frame.len() as u32,
        data_in: frame.as_ptr() as u64,
        repeat,
        ..Default::default()
    };
    bpf(BPF_PROG_TEST_RUN, &mut attr)?;
    Ok((attr.retval, attr.duration))
}
