#!/usr/bin/env python3
"""Connection flood on every listener: does each still answer afterwards?

Two simpools, the dataplane (miner port) and the controlplane (HTTP port
and metrics port).  For --minutes, in waves: for each listener in turn,
--conns connections are opened at once (non-blocking), a third of them
send half a request (a Stratum line without its newline, HTTP headers
without the blank line), they are held --hold seconds and closed (most
with an RST, so that neither side piles up TIME_WAIT; every tenth with a
normal FIN).  After each wave every listener must answer within --answer
seconds: a Stratum mining.subscribe on the miner port, GET /api/v1/status
on the HTTP port, GET /metrics on the metrics port.  Refused or unanswered
flood connections are counted, not failures (the listeners have caps);
a listener that does not answer after a wave is a failure.

    python3 tests/soak/soak_flood.py [--minutes 10] [--conns 2000]
"""

import json
import resource
import selectors
import socket
import struct
import sys
import time
import urllib.request

import soaklib

HOST = "127.0.0.1"


def add(ap):
    ap.add_argument("--conns", type=int, default=2000,
                    help="connections per listener per wave (2000)")
    ap.add_argument("--hold", type=float, default=1.0,
                    help="seconds the flood is held open (1)")
    ap.add_argument("--answer", type=float, default=10.0,
                    help="seconds a listener has to answer after a wave (10)")
    ap.add_argument("--max-waves", type=int, default=1000)


def flood(port, n, partial, hold, connect_s=5.0):
    """Open n connections to port at once; returns (connected, failed)."""
    socks = []
    sel = selectors.DefaultSelector()
    failed = 0
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((HOST, port))
        if err not in (0, 115):          # EINPROGRESS
            s.close()
            failed += 1
            continue
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE)
    pending = set(socks)
    deadline = time.monotonic() + connect_s
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.2):
            sel.unregister(key.fileobj)
            pending.discard(key.fileobj)
    sel.close()
    up = []
    for i, s in enumerate(socks):
        if s in pending or s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            failed += 1
            s.close()
            continue
        if i % 3 == 0:
            try:
                s.send(partial)
            except OSError:
                pass
        up.append(s)
    time.sleep(hold)
    for i, s in enumerate(up):
        if i % 10:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
        s.close()
    return len(up), failed


def stratum_answers(port, timeout):
    from dpmptest import StratumClient
    c = StratumClient(port, timeout=timeout)
    try:
        r = c.call("mining.subscribe", ["soak-flood/1"], timeout=timeout)
        return isinstance(r.get("result"), list)
    finally:
        c.close()


def http_answers(port, path, timeout, want):
    with urllib.request.urlopen("http://%s:%d%s" % (HOST, port, path),
                                timeout=timeout) as r:
        body = r.read().decode()
    return r.status == 200 and want(body)


def answers(check, limit):
    """Retry check until it answers or limit seconds pass: (ok, seconds,
    last error)."""
    t0 = time.monotonic()
    err = None
    while time.monotonic() - t0 < limit:
        try:
            if check(max(1.0, limit - (time.monotonic() - t0))):
                return True, time.monotonic() - t0, None
            err = "wrong answer"
        except Exception as e:        # refused, reset, timeout: try again
            err = "%s: %s" % (type(e).__name__, e)
        time.sleep(0.2)
    return False, time.monotonic() - t0, err


def main():
    a = soaklib.parse(__doc__, add)
    from dpmptest import Env
    from dpenv import Controlplane, Dataplane

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = a.conns + 256
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))

    env = Env("soak-flood")
    problems = []
    stats = {}
    waves = 0
    sampler = None
    t0 = time.monotonic()
    try:
        _, pa = env.simpool("--name", "A", "--difficulty", "1",
                            "--log-level", "warn", stats=False)
        _, pb = env.simpool("--name", "B", "--difficulty", "1",
                            "--log-level", "warn", stats=False)
        dp = Dataplane(env, {"A": pa, "B": pb}, extra={
            "logging": {"json": True, "level": "warn"}})
        cp = Controlplane(env, dp)
        sampler = soaklib.RssSampler({"dataplane": lambda: dp.proc.popen.pid,
                                      "controlplane": lambda: cp.proc.popen.pid},
                                     2.0).start()
        listeners = [
            ("miner", dp.port, b'{"id":1,"method":"mining.subscribe","par',
             lambda t: stratum_answers(dp.port, t)),
            ("http", cp.http, b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n",
             lambda t: http_answers(cp.http, "/api/v1/status", t,
                                    lambda b: "pools" in json.loads(b))),
            ("metrics", cp.metrics, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n",
             lambda t: http_answers(cp.metrics, "/metrics", t,
                                    lambda b: "dpmp_" in b)),
        ]
        for name, _, _, check in listeners:
            ok, _, err = answers(check, a.answer)
            if not ok:
                raise RuntimeError("%s does not answer before the flood: %s"
                                   % (name, err))
            stats[name] = {"opened": 0, "refused_or_timed_out": 0,
                           "failed_checks": 0, "max_answer_s": 0.0}
        end = t0 + a.minutes * 60
        while time.monotonic() < end and waves < a.max_waves:
            for name, port, partial, _ in listeners:
                up, failed = flood(port, a.conns, partial, a.hold)
                stats[name]["opened"] += up
                stats[name]["refused_or_timed_out"] += failed
            waves += 1
            for name, _, _, check in listeners:
                ok, took, err = answers(check, a.answer)
                st = stats[name]
                st["max_answer_s"] = round(max(st["max_answer_s"], took), 3)
                if not ok:
                    st["failed_checks"] += 1
                    problems.append("wave %d: %s did not answer in %gs: %s"
                                    % (waves, name, a.answer, err))
            if not (dp.proc.alive() and cp.proc.alive()):
                problems.append("a daemon exited after wave %d" % waves)
                break
    finally:
        if sampler:
            sampler.stop()
        elapsed = time.monotonic() - t0
        env.cleanup(keep=a.keep)

    result = {"elapsed_s": round(elapsed), "waves": waves,
              "conns_per_listener_per_wave": a.conns}
    result.update(stats)
    for name in ("dataplane", "controlplane"):
        result[name + "_rss"] = sampler.summary(name) if sampler else {}
    return soaklib.report("soak_flood", a.minutes, result, not problems,
                          problems[:20])


if __name__ == "__main__":
    sys.exit(main())
