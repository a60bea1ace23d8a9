#!/usr/bin/env python3
"""Writes the seed corpus of engine_fuzz.cpp into engine_corpus/: short programs in the
target's input language (see the decoder in engine_fuzz.cpp), one per behaviour, so the
fuzzer starts from inputs that reach deep states (Observe queues, Block1, retransmission).
Run it from this directory; the outputs are checked in."""
import os

PATHS = ["sync", "async", "obs", "large", "up", ".well-known/core", "nothing/here", "cap/x/y", "/sync/", ""]

def req(peer, typ=0, method=1, mid=1, token=b"\x01", path="sync", observe=None, block2=None,
        block1=None, size1=None, no_response=None, payload=None):
    """A structured request step (op 1)."""
    out = bytes([1, peer])
    t = typ | (4 if payload is not None and block1 is None else 0)
    out += bytes([t, method - 1, mid, len(token)]) + token + bytes([PATHS.index(path)])
    f = 0
    if observe is not None: f |= 1
    if block2 is not None: f |= 2
    if block1 is not None:
        f |= 4
        if block1[1]: f |= 64
    if size1 is not None: f |= 8
    if no_response is not None: f |= 16
    out += bytes([f])
    if observe is not None: out += bytes([observe])
    if block2 is not None: out += bytes(block2)
    if block1 is not None:
        num, more, szx, n = block1
        out += bytes([num, szx])
        if not more: out += bytes([n])
    if size1 is not None: out += size1.to_bytes(2, "big")
    if no_response is not None: out += bytes([no_response])
    if payload is not None and block1 is None: out += bytes([len(payload)]) + payload
    return out

def advance(ms): return bytes([4, ms // 20])
def advance_s(s): return bytes([5, s])
def respond(idx, sel): return bytes([6, idx, sel])
def notify(idx, sel, cookie, merge=0): return bytes([7, idx, sel, cookie, merge])
def end(idx, sel, final): return bytes([8, idx, sel, final])
def ack(idx, rst=0): return bytes([9, idx, rst])
def session_end(peer): return bytes([10, peer])
def raw(peer, data): return bytes([0, peer, len(data)]) + data

seeds = {
    "ping-and-garbage": raw(0, b"\x40\x00\x12\x34") + raw(1, b"\x49\x01\x00\x01") + raw(2, b"\x40"),
    "sync-get-duplicate": req(0) + req(0) + advance_s(250) + req(0),
    "async-piggyback": req(1, path="async") + advance(200) + respond(0, 0),
    "async-separate-retransmit": req(1, path="async", mid=2) + advance(600) + respond(0, 0) +
        advance_s(3) + ack(0) + advance_s(100),
    "async-timeout": req(2, path="async", typ=1) + advance_s(11) + respond(0, 0),
    "observe-con-queue": req(0, path="obs", observe=0) + notify(0, 0, 1) + notify(0, 1, 2) +
        notify(0, 2, 3, 1) + notify(0, 2, 4, 1) + ack(0) + ack(1) + ack(2, 1),
    "observe-non-liveness": req(3, typ=1, path="obs", observe=0) + notify(0, 0, 1) + notify(0, 0, 2) +
        notify(0, 0, 3) + notify(0, 0, 4) + advance_s(100),
    "observe-dereg-end": req(0, path="obs", observe=0, token=b"\x05") +
        req(0, path="obs", observe=1, token=b"\x05", mid=3) + req(0, path="obs", observe=0, mid=4) +
        end(0, 4, 1) + ack(0),
    "block2": req(0, path="large") + req(0, path="large", mid=2, block2=[1, 6]) +
        req(0, path="large", mid=3, block2=[39, 2]) + req(0, path=".well-known/core", mid=4, block2=[0, 0]),
    "block1": req(1, method=2, path="up", block1=(0, True, 2, 0)) +
        req(1, method=2, path="up", mid=2, block1=(1, True, 2, 0)) +
        req(1, method=2, path="up", mid=3, block1=(2, False, 2, 10)) +
        req(1, method=2, path="up", mid=4, block1=(5, True, 2, 0)) +
        req(1, method=2, path="up", mid=5, size1=60000, block1=(0, True, 2, 0)),
    "session-end": req(6, path="obs", observe=0) + req(6, path="async", mid=2) + session_end(6),
    "no-response": req(0, path="nothing/here", no_response=8) + req(1, path="async", no_response=2) +
        respond(0, 0),
    "cross-thread": req(0, path="async") + req(0, path="obs", observe=0, mid=2) +
        bytes([11, 0, 1, 0]) + bytes([11, 0, 0, 0]),
}

os.makedirs("engine_corpus", exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join("engine_corpus", "seed-" + name + ".bin"), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds)} seeds")
