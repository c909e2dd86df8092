#!/usr/bin/env python3
"""null-tcx.py IFNAME [--count]: attaches a TCX program that does nothing (returns TCX_NEXT) to
IFNAME's ingress and egress in the current network namespace and holds the links until killed.
With --count, the program instead adds one to a per-CPU array slot per packet: the least work
any agent that observes every packet can do.

scripts/bench-agent uses both as floors of the throughput comparison, measured the same way as
the agent.
"""
import ctypes
import os
import signal
import socket
import struct
import sys

libc = ctypes.CDLL(None, use_errno=True)
SYS_BPF = 321  # x86-64
BPF_MAP_CREATE, BPF_PROG_LOAD, BPF_LINK_CREATE = 0, 5, 28
BPF_MAP_TYPE_PERCPU_ARRAY = 6
BPF_PROG_TYPE_SCHED_CLS = 3
BPF_TCX_INGRESS, BPF_TCX_EGRESS = 46, 47


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), 160)
    fd = libc.syscall(SYS_BPF, cmd, buf, 160)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return fd


def insn(op, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", op, dst | (src << 4), off, imm)


RET_NEXT = insn(0xB7, 0, 0, 0, -1) + insn(0x95)  # r0 = -1 (TCX_NEXT); exit
if "--count" in sys.argv[2:]:
    attr = bytearray(160)
    struct.pack_into("IIII", attr, 0, BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8, 1)
    map_fd = bpf(BPF_MAP_CREATE, attr)
    insns = (
        insn(0x62, 10, 0, -4, 0)  # *(u32 *)(r10 - 4) = 0
        + insn(0xBF, 2, 10)  # r2 = r10
        + insn(0x07, 2, 0, 0, -4)  # r2 += -4
        + insn(0x18, 1, 1, 0, map_fd) + insn(0, 0, 0, 0, 0)  # r1 = map (ld_imm64, pseudo fd)
        + insn(0x85, 0, 0, 0, 1)  # call bpf_map_lookup_elem
        + insn(0x15, 0, 0, 3, 0)  # if r0 == 0 goto +3
        + insn(0x79, 1, 0, 0, 0)  # r1 = *(u64 *)(r0 + 0)
        + insn(0x07, 1, 0, 0, 1)  # r1 += 1
        + insn(0x7B, 0, 1, 0, 0)  # *(u64 *)(r0 + 0) = r1
        + RET_NEXT
    )
else:
    insns = RET_NEXT
code = ctypes.create_string_buffer(insns, len(insns))
license_ = ctypes.create_string_buffer(b"GPL")
ifindex = socket.if_nametoindex(sys.argv[1])
links = []
for attach_type in (BPF_TCX_INGRESS, BPF_TCX_EGRESS):
    load = bytearray(160)
    struct.pack_into("IIQQ", load, 0, BPF_PROG_TYPE_SCHED_CLS, len(insns) // 8,
                     ctypes.addressof(code), ctypes.addressof(license_))
    struct.pack_into("I", load, 68, attach_type)  # expected_attach_type
    prog = bpf(BPF_PROG_LOAD, load)
    link = bytearray(160)
    struct.pack_into("III", link, 0, prog, ifindex, attach_type)
    links.append(bpf(BPF_LINK_CREATE, link))
print("attached", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.pause()
