#!/usr/bin/env python3
"""dpmp-controlplane's HTTP listeners under a burst of idle connections
(issue 13): more connections than the cap, opened and closed or held
open, must never leave the UI/API port or the /metrics port silent.
A request either gets its answer or a quick 503, never a hang, and the
port serves again once the burst is gone."""

import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpmptest import HOST, Runner, free_port, wait_port  # noqa: E402

BURST = 100         # above the cap of 64 connections per listener
PROMPT = 5.0        # what "answers promptly" means here, seconds


def config(env, **http):
    cfg = {
        "listen": {"host": HOST, "port": free_port()},
        "metrics": {"enabled": True, "host": HOST, "port": free_port()},
        "http": {"host": HOST, "port": free_port(), "token": "tok"},
        "state_dir": env.path("state"),
        "pools": {
            "A": {"host": "a.invalid", "port": 3334, "wallet": "w"},
            "B": {"host": "b.invalid", "port": 3333, "wallet": "w"},
        },
        "logging": {"json": True, "level": "info"},
    }
    cfg["http"].update(http)
    return cfg


def start(env, cfg):
    path = env.path("dpmp.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = env.start("dpmp-controlplane", "-c", path, name="controlplane")
    wait_port(cfg["http"]["port"], proc=p)
    wait_port(cfg["metrics"]["port"], proc=p)
    return p


def get(port, path, timeout=PROMPT):
    """(status, body) of one GET on a fresh connection."""
    url = "http://%s:%d%s" % (HOST, port, path)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def must_answer(port, path, want=(200,)):
    """The request is answered with a status in want within PROMPT
    seconds; a timeout is the bug."""
    t = time.monotonic()
    try:
        status, body = get(port, path)
    except (socket.timeout, TimeoutError, urllib.error.URLError) as e:
        raise AssertionError("GET %s on port %d: no answer after %.1fs (%s)"
                             % (path, port, time.monotonic() - t, e))
    assert status in want, (path, status, body[:200])
    return status, body


def burst(port, n=BURST):
    """n idle TCP connections to port (no request sent)."""
    out = []
    for _ in range(n):
        s = socket.create_connection((HOST, port), timeout=PROMPT)
        out.append(s)
    # let the server's loop see them all before anyone goes on
    time.sleep(0.5)
    return out


def close_all(socks):
    for s in socks:
        s.close()


def refused(metrics_port, listener):
    _, text = must_answer(metrics_port, "/metrics")
    m = re.search(r'^dpmp_http_refused_total\{listener="%s",reason="limit"\} '
                  r'(\S+)$' % listener, text, re.M)
    assert m, "no dpmp_http_refused_total for %s" % listener
    return float(m.group(1))


t = Runner("http_flood")


@t.check("a burst on the API port, closed: the port serves again")
def _(env):
    cfg = config(env)
    start(env, cfg)
    port = cfg["http"]["port"]
    must_answer(port, "/api/v1/status")
    close_all(burst(port))
    must_answer(port, "/api/v1/status")
    # and again: the second burst must not find the port half-stuck
    close_all(burst(port))
    must_answer(port, "/api/v1/status")
    must_answer(port, "/metrics")


@t.check("a burst on the metrics port, closed: /metrics serves again")
def _(env):
    cfg = config(env)
    start(env, cfg)
    port = cfg["metrics"]["port"]
    close_all(burst(port))
    must_answer(port, "/metrics")
    close_all(burst(port))
    must_answer(port, "/metrics")
    # the other listener was never affected
    must_answer(cfg["http"]["port"], "/api/v1/status")


@t.check("a burst held open: new requests get 200 or a quick 503")
def _(env):
    cfg = config(env)
    start(env, cfg)
    api, met = cfg["http"]["port"], cfg["metrics"]["port"]
    held = burst(api) + burst(met)
    try:
        status, body = must_answer(api, "/api/v1/status", want=(200, 503))
        if status == 503:
            assert len(body) < 200, body
        status, body = must_answer(met, "/metrics", want=(200, 503))
        if status == 503:
            assert len(body) < 200, body
    finally:
        close_all(held)
    # the refusals were counted, per listener
    must_answer(api, "/api/v1/status")
    assert refused(met, "http") > 0
    assert refused(met, "metrics") > 0


@t.check("idle connections time out (http.idle_timeout_seconds)")
def _(env):
    cfg = config(env, idle_timeout_seconds=2)
    start(env, cfg)
    api = cfg["http"]["port"]
    held = burst(api)
    try:
        # the server cuts every idle connection: EOF, after at most a
        # 503 for those that came in above the cap
        deadline = time.monotonic() + 10
        for s in held:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            data = b""
            while True:
                try:
                    chunk = s.recv(4096)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                data += chunk
            assert data == b"" or data.startswith(b"HTTP/1.1 503"), data[:80]
        # with the clients' ends still open, the port serves normally
        must_answer(api, "/api/v1/status")
    finally:
        close_all(held)


t.done()
