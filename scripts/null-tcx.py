#!/usr/bin/env python3
"""null-tcx.py IFNAME: attaches a TCX program that does nothing (returns TCX_NEXT) to IFNAME's
ingress and egress in the current network namespace and holds the links until killed.

scripts/bench-agent uses it as the floor of the throughput comparison: what any TCX program
costs before it does any work, measured the same way as the agent.
"""
import ctypes
import os
import signal
import socket
import struct
import sys

libc = ctypes.CDLL(None, use_errno=True)
SYS_BPF = 321  # x86-64
BPF_PROG_LOAD, BPF_LINK_CREATE = 5, 28
BPF_PROG_TYPE_SCHED_CLS = 3
BPF_TCX_INGRESS, BPF_TCX_EGRESS = 46, 47


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(bytes(attr), 160)
    fd = libc.syscall(SYS_BPF, cmd, buf, 160)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return fd


# r0 = -1 (TCX_NEXT); exit
insns = struct.pack("<BBhi", 0xB7, 0, 0, -1) + struct.pack("<BBhi", 0x95, 0, 0, 0)
code = ctypes.create_string_buffer(insns, len(insns))
license_ = ctypes.create_string_buffer(b"GPL")
ifindex = socket.if_nametoindex(sys.argv[1])
links = []
for attach_type in (BPF_TCX_INGRESS, BPF_TCX_EGRESS):
    load = bytearray(160)
    struct.pack_into("IIQQ", load, 0, BPF_PROG_TYPE_SCHED_CLS, 2,
                     ctypes.addressof(code), ctypes.addressof(license_))
    struct.pack_into("I", load, 68, attach_type)  # expected_attach_type
    prog = bpf(BPF_PROG_LOAD, load)
    link = bytearray(160)
    struct.pack_into("III", link, 0, prog, ifindex, attach_type)
    links.append(bpf(BPF_LINK_CREATE, link))
print("attached", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.pause()
