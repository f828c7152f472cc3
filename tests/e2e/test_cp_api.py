#!/usr/bin/env python3
"""dpmp-controlplane on its own (no dataplane reachable): config checks,
the JSON API's auth and validation, live changes persisted across
restarts (SIGTERM and kill -9), log reopening, clean exits."""

import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpmptest import Runner, binary, free_port, wait_for, wait_port  # noqa: E402

TOKEN = "s3cret-token"


def config(env, **over):
    cfg = {
        "listen": {"host": "127.0.0.1", "port": free_port()},
        "metrics": {"enabled": True, "host": "127.0.0.1", "port": free_port()},
        "http": {"host": "127.0.0.1", "port": free_port(), "token": TOKEN},
        "state_dir": env.path("state"),
        "pools": {
            "A": {"name": "ocean", "host": "a.invalid", "port": 3334,
                  "wallet": "bc1qwallet", "password": "pw-a", "chain": "BTC"},
            "B": {"name": "bchpool", "host": "b.invalid", "port": 3333,
                  "wallet": "qqwallet", "chain": "BCH"},
        },
        "scheduler": {"mode": "ratio", "poolA_weight": 70, "poolB_weight": 30,
                      "slice_seconds": 30, "min_switch_seconds": 10},
        "logging": {"json": True, "level": "info"},
    }
    for k, v in over.items():
        cfg[k] = v
    return cfg


def write_config(env, cfg, name="dpmp.json"):
    path = env.path(name)
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def start(env, cfg, name="controlplane"):
    path = write_config(env, cfg, name + ".json")
    p = env.start("dpmp-controlplane", "-c", path, name=name)
    wait_port(cfg["http"]["port"], proc=p)
    return p


def call(cfg, method, path, body=None, token=None, raw=None, headers=None):
    """(status, headers, parsed JSON or text) of one request."""
    url = "http://127.0.0.1:%d%s" % (cfg["http"]["port"], path)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, hdrs, text = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, text = e.code, e.headers, e.read()
    text = text.decode("utf-8", "replace")
    if hdrs.get("Content-Type", "").startswith("application/json"):
        return status, hdrs, json.loads(text)
    return status, hdrs, text


def check_run(env, cfg, name):
    """dpmp-controlplane --check on cfg: (exit code, stderr)."""
    import subprocess
    path = write_config(env, cfg, name)
    r = subprocess.run([binary("dpmp-controlplane"), "-c", path, "--check"],
                       capture_output=True, text=True, timeout=10)
    return r.returncode, r.stdout + r.stderr


def events(proc, name):
    return [v for v in proc.json_lines("stderr") if v.get("event") == name]


t = Runner("cp_api")


@t.check("--check accepts a v2 config and names the key of a bad one")
def _(env):
    rc, out = check_run(env, config(env), "good.json")
    assert rc == 0, out
    bad = [
        ({"pools": {}, "scheduler": {"mode": "ratio"}}, "pools"),
        ({"pools": {"A": {"host": "h", "port": 70000}}}, "pools.A.port"),
        ({"pools": {"A": {"host": "h", "port": "3333"}}}, "pools.A.port"),
        ({"scheduler": {"poolA_weight": -1, "poolB_weight": 30}}, "poolA_weight"),
        ({"http": {"port": "x"}}, "http.port"),
    ]
    for over, key in bad:
        cfg = config(env)
        cfg.update(over)
        rc, out = check_run(env, cfg, "bad.json")
        assert rc != 0, (over, out)
        assert key in out, (key, out)
    # a broken state overlay is named too, with the file it is in
    cfg = config(env)
    os.makedirs(cfg["state_dir"])
    with open(os.path.join(cfg["state_dir"], "state.json"), "w") as f:
        json.dump({"weights": {"A": -5}}, f)
    rc, out = check_run(env, cfg, "good2.json")
    assert rc != 0 and "state.json" in out and "weights.A" in out, out


@t.check("status answers with no dataplane, and the daemon exits 0 on SIGTERM")
def _(env):
    cfg = config(env)
    p = start(env, cfg)
    t0 = time.monotonic()
    st, hdrs, body = call(cfg, "GET", "/api/v1/status")
    assert st == 200 and time.monotonic() - t0 < 1.0
    assert hdrs["Cache-Control"] == "no-store"
    assert body["dataplane_connected"] is False
    assert [x["state"]["key"] for x in body["pools"]] == ["A", "B"]
    assert all(x["state"]["up"] is False for x in body["pools"])
    assert body["miners"] == [] and body["version"]
    assert body["weights"] == {"A": 70, "B": 30}
    # keeps retrying, logs the outage once, answers promptly throughout
    time.sleep(3.5)
    worst = 0.0
    for _ in range(10):
        t0 = time.monotonic()
        assert call(cfg, "GET", "/api/v1/weights")[0] == 200
        worst = max(worst, time.monotonic() - t0)
        time.sleep(0.1)
    assert worst < 0.5, worst
    assert len(events(p, "dataplane_unreachable")) == 1
    assert events(p, "controlplane_started") and events(p, "config_loaded")
    assert p.alive()
    assert p.stop() == 0


@t.check("writes need the bearer token; reads do not")
def _(env):
    cfg = config(env)
    start(env, cfg)
    w = {"weights": {"A": 60, "B": 40}}
    st, hdrs, body = call(cfg, "PUT", "/api/v1/weights", w)
    assert st == 401 and "error" in body
    assert hdrs["WWW-Authenticate"].startswith("Bearer")
    assert call(cfg, "PUT", "/api/v1/weights", w, token="wrong")[0] == 401
    assert call(cfg, "PUT", "/api/v1/weights", w, token=TOKEN + "x")[0] == 401
    assert call(cfg, "POST", "/api/v1/pins", {"worker": "w", "pool": "A"})[0] == 401
    assert call(cfg, "PUT", "/api/v1/pools/A", {"port": 1})[0] == 401
    assert call(cfg, "GET", "/api/v1/weights")[2] == {"weights": {"A": 70, "B": 30}}
    assert call(cfg, "PUT", "/api/v1/weights", w, token=TOKEN)[0] == 200


@t.check("Host: IP literals, localhost and http.allowed_hosts are served, others 421")
def _(env):
    cfg = config(env)
    cfg["http"]["allowed_hosts"] = ["dpmp.lan"]
    start(env, cfg)
    port = cfg["http"]["port"]
    for host in ("127.0.0.1:%d" % port, "localhost:%d" % port, "localhost",
                 "[::1]:%d" % port, "dpmp.lan:%d" % port, "DPMP.LAN"):
        st, _, body = call(cfg, "GET", "/api/v1/status", headers={"Host": host})
        assert st == 200, (host, st, body)
    # a rebound name: refused before routing, and even with the token
    for host in ("evil.example:%d" % port, "dpmp.lan.evil.example", "localhost.evil.example"):
        st, _, body = call(cfg, "GET", "/api/v1/status", headers={"Host": host})
        assert st == 421 and "http.allowed_hosts" in body["error"], (host, st, body)
    st, _, _ = call(cfg, "PUT", "/api/v1/weights", {"weights": {"A": 1, "B": 1}},
                    token=TOKEN, headers={"Host": "evil.example"})
    assert st == 421
    assert call(cfg, "GET", "/api/v1/weights")[2] == {"weights": {"A": 70, "B": 30}}
    st, _, _ = call(cfg, "GET", "/", headers={"Host": "evil.example"})
    assert st == 421
    # the metrics listener answers to any name, and counts the refusals
    url = "http://127.0.0.1:%d/metrics" % cfg["metrics"]["port"]
    req = urllib.request.Request(url, headers={"Host": "prometheus-target.example"})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()
    assert 'dpmp_http_refused_total{listener="http",reason="host"} 5\n' in text, text


@t.check("no token configured: every write is refused with 401")
def _(env):
    cfg = config(env)
    cfg["http"] = {"host": "127.0.0.1", "port": free_port()}
    start(env, cfg)
    st, _, body = call(cfg, "PUT", "/api/v1/weights", {"weights": {"A": 1}}, token="")
    assert st == 401 and "no http.token" in body["error"], body
    assert call(cfg, "GET", "/api/v1/status")[2]["writes_enabled"] is False


@t.check("bad requests: 400 with a message, 404, 405, 413")
def _(env):
    cfg = config(env)
    start(env, cfg)
    cases = [
        (b'{"weights": ', "bad JSON"),
        (b'{"weights": {"A": -1, "B": 30}}', "weights.A"),
        (b'{"weights": {"C": 10}}', "weights.C: unknown pool"),
        (b'{"weights": {"A": "70"}}', "weights.A: must be a number"),
        (b'{"weights": {"A": 0, "B": 0}}', "above 0"),
        (b'{"weights": [70, 30]}', "weights"),
    ]
    for raw, msg in cases:
        st, _, body = call(cfg, "PUT", "/api/v1/weights", raw=raw, token=TOKEN)
        assert st == 400 and msg in body["error"], (raw, st, body)
    assert call(cfg, "GET", "/api/v1/weights")[2] == {"weights": {"A": 70, "B": 30}}
    st, _, body = call(cfg, "POST", "/api/v1/pins", {"worker": "w", "pool": "Z"}, token=TOKEN)
    assert st == 400 and "unknown pool" in body["error"]
    st, _, body = call(cfg, "PUT", "/api/v1/pools/A", {"port": 0}, token=TOKEN)
    assert st == 400 and "pools.A.port" in body["error"], body
    assert call(cfg, "PUT", "/api/v1/pools/Z", {"port": 1}, token=TOKEN)[0] == 404
    assert call(cfg, "GET", "/api/v1/nope")[0] == 404
    assert call(cfg, "GET", "/static/../../etc/passwd")[0] == 404
    st, hdrs, _ = call(cfg, "DELETE", "/api/v1/weights", token=TOKEN)
    assert st == 405 and "PUT" in hdrs["Allow"] and "GET" in hdrs["Allow"]
    big = b'{"weights": {"A": 1, "pad": "' + b"x" * (70 * 1024) + b'"}}'
    assert call(cfg, "PUT", "/api/v1/weights", raw=big, token=TOKEN)[0] == 413


@t.check("a body that grows past the limit without a length gets 413")
def _(env):
    cfg = config(env)
    p = start(env, cfg)
    s = socket.create_connection(("127.0.0.1", cfg["http"]["port"]), timeout=10)
    s.sendall(("PUT /api/v1/weights HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
               "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" % TOKEN).encode())
    chunk = b"x" * 8192
    try:
        for _ in range(10):
            s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    reply = b""
    while True:
        try:
            d = s.recv(4096)
        except OSError:
            break
        if not d:
            break
        reply += d
    s.close()
    assert reply.startswith(b"HTTP/1.1 413"), reply[:80]
    assert p.alive()


@t.check("weights, pins and pool edits persist across restart and kill -9")
def _(env):
    cfg = config(env)
    p = start(env, cfg)
    st, _, body = call(cfg, "PUT", "/api/v1/weights", {"weights": {"A": 60, "B": 40}}, token=TOKEN)
    assert st == 200 and body == {"weights": {"A": 60, "B": 40}}, body
    assert call(cfg, "GET", "/api/v1/weights")[2] == {"weights": {"A": 60, "B": 40}}
    ev = wait_for(lambda: events(p, "weights_changed"), 5, what="weights_changed")
    assert ev[0]["weights"] == {"A": 60, "B": 40} and ev[0]["source"] == "http"
    worker = "<img src=x onerror=alert(1)>"
    st, _, body = call(cfg, "POST", "/api/v1/pins", {"worker": worker, "pool": "B"}, token=TOKEN)
    assert st == 200 and body == {"worker": worker, "pool": "B"}
    assert events(p, "pin_changed")
    st, _, body = call(cfg, "PUT", "/api/v1/pools/B", {"host": "b2.invalid", "port": 4444,
                                                      "password": "newpw"}, token=TOKEN)
    assert st == 200 and body["pool"]["host"] == "b2.invalid", body
    assert body["pool"]["password"] == "***"

    state = json.load(open(os.path.join(cfg["state_dir"], "state.json")))
    assert state["weights"] == {"A": 60, "B": 40}, state
    assert state["pins"] == {worker: "B"}, state
    assert oct(os.stat(os.path.join(cfg["state_dir"], "state.json")).st_mode & 0o777) == "0o600"

    assert p.stop() == 0
    p = start(env, cfg, name="controlplane2")
    assert call(cfg, "GET", "/api/v1/weights")[2] == {"weights": {"A": 60, "B": 40}}
    st = call(cfg, "GET", "/api/v1/status")[2]
    assert st["pins"] == [{"worker": worker, "pool": "B"}], st["pins"]
    conf = call(cfg, "GET", "/api/v1/config")[2]
    assert conf["pools"]["B"]["host"] == "b2.invalid" and conf["pools"]["B"]["port"] == 4444
    assert conf["pools"]["A"]["wallet"] == "bc1qwallet"     # from the file, untouched

    # kill -9 right after a change: the change is on disk already
    assert call(cfg, "PUT", "/api/v1/weights", {"weights": {"A": 25, "B": 75}}, token=TOKEN)[0] == 200
    p.signal(signal.SIGKILL)
    p.wait(5)
    start(env, cfg, name="controlplane3")
    assert call(cfg, "GET", "/api/v1/weights")[2] == {"weights": {"A": 25, "B": 75}}
    left = sorted(os.listdir(cfg["state_dir"]))
    assert not [f for f in left if f.startswith("state.json.tmp")], left


@t.check("the running config is shown with secrets masked")
def _(env):
    cfg = config(env)
    start(env, cfg)
    st, _, body = call(cfg, "GET", "/api/v1/config")
    assert st == 200
    text = json.dumps(body)
    assert "pw-a" not in text and TOKEN not in text
    assert body["pools"]["A"]["password"] == "***"
    assert body["http"]["token"] == "***"
    assert body["pools"]["A"]["host"] == "a.invalid"


@t.check("scheduler settings change live and persist")
def _(env):
    cfg = config(env)
    p = start(env, cfg)
    st, _, body = call(cfg, "PUT", "/api/v1/scheduler", {"slice_seconds": 5, "min_switch_seconds": 2},
                       token=TOKEN)
    assert st == 200 and body["scheduler"]["slice_seconds"] == 5, body
    assert call(cfg, "PUT", "/api/v1/scheduler", {"slice_seconds": 0}, token=TOKEN)[0] == 400
    assert p.stop() == 0
    start(env, cfg, name="controlplane2")
    sch = call(cfg, "GET", "/api/v1/status")[2]["scheduler"]
    assert sch["slice_seconds"] == 5 and sch["min_switch_seconds"] == 2, sch


@t.check("logging.file is reopened on SIGHUP (logrotate)")
def _(env):
    cfg = config(env)
    logf = env.path("cp.log")
    cfg["logging"] = {"json": True, "level": "info", "file": logf}
    p = start(env, cfg)
    wait_for(lambda: os.path.exists(logf) and "controlplane_started" in open(logf).read(), 5,
             what="log file")
    os.rename(logf, logf + ".1")
    p.signal(signal.SIGHUP)
    wait_for(lambda: os.path.exists(logf), 5, what="new log file")
    call(cfg, "PUT", "/api/v1/weights", {"weights": {"A": 1, "B": 1}}, token=TOKEN)
    lines = [json.loads(x) for x in wait_for(
        lambda: [x for x in open(logf).read().splitlines()
                 if "weights_changed" in x] and open(logf).read().splitlines(), 5,
        what="weights_changed in new file")]
    assert any(v["event"] == "weights_changed" for v in lines)
    assert all(v["proc"] == "controlplane" for v in lines)
    assert "weights_changed" not in open(logf + ".1").read()


@t.check("a port in use fails the start with a message")
def _(env):
    cfg = config(env)
    start(env, cfg)
    cfg2 = dict(cfg)
    cfg2["state_dir"] = env.path("state2")
    p2 = env.start("dpmp-controlplane", "-c", write_config(env, cfg2, "second.json"),
                   name="second")
    rc = p2.wait(10)
    assert rc != 0
    assert any(v.get("event") == "http_listen_failed" for v in p2.json_lines("stderr"))


t.done()
