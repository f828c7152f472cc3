"""dpenv: start a real dpmp-dataplane (and controlplane) inside a dpmptest
Env, write their config, and speak their IPC through dpmp-ipctool."""

import json
import os
import subprocess
import time

from dpmptest import (HOST, binary, free_port, read_json, wait_for,
                      wait_port)


def write_config(env, pools, mode="per_miner", extra=None, name="dpmp.json"):
    """pools: {"A": port, ...} or {"A": {config fields}}.  Returns (path,
    cfg dict)."""
    state = env.path("state")
    os.makedirs(state, exist_ok=True)
    cfg = {
        "listen": {"host": HOST, "port": free_port()},
        "metrics": {"enabled": True, "host": HOST, "port": free_port()},
        "http": {"host": HOST, "port": free_port(), "token": "test-token"},
        "pools": {},
        "scheduler": {"mode": "ratio", "slice_seconds": 5,
                      "min_switch_seconds": 2},
        "upstream": {"mode": mode},
        "state_dir": state,
        "logging": {"json": True, "level": "info"},
    }
    for key, p in pools.items():
        if isinstance(p, int):
            p = {"host": HOST, "port": p}
        entry = {"name": "pool" + key, "wallet": "wallet" + key,
                 "chain": "BTC", "host": HOST}
        entry.update(p)
        cfg["pools"][key] = entry
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k].update(v)
        else:
            cfg[k] = v
    path = env.path(name)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return path, cfg


class Dataplane:
    def __init__(self, env, pools, mode="per_miner", extra=None,
                 wait_pools=True, name="dataplane"):
        self.env = env
        self.path, self.cfg = write_config(env, pools, mode, extra)
        self.port = self.cfg["listen"]["port"]
        self.url = "ipc://%s/dataplane.ipc" % self.cfg["state_dir"]
        self.start(name)
        if wait_pools:
            self.wait_pools_up(list(pools))

    def start(self, name="dataplane"):
        self.proc = self.env.start("dpmp-dataplane", "-c", self.path,
                                   name=name)
        wait_port(self.port, proc=self.proc)

    def ipc(self, *args, check=True, timeout=20):
        r = subprocess.run([binary("dpmp-ipctool"), "-e", self.url] +
                           [str(a) for a in args], capture_output=True,
                           text=True, timeout=timeout)
        out = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
        if check and r.returncode != 0:
            raise RuntimeError("ipctool %s failed: %s %s" %
                               (args, r.stdout, r.stderr))
        return out[-1] if out else None

    def state(self):
        return self.ipc("state")

    def pool(self, key):
        for p in self.state()["pools"]:
            if p["key"] == key:
                return p
        raise KeyError(key)

    def wait_pools_up(self, keys, timeout=10):
        wait_for(lambda: all(self.pool(k)["up"] for k in keys),
                 timeout=timeout, interval=0.1, what="pools %s up" % keys)

    def counters(self):
        """{(name, frozenset(labels)): value}"""
        c = self.ipc("counters")
        out = {}
        for m in c.get("metrics", []):
            labels = frozenset((l["name"], l["value"])
                               for l in m.get("labels", []))
            out[(m["name"], labels)] = m.get("value", 0)
        return out

    def counter_sum(self, name, **labels):
        want = set(labels.items())
        return sum(v for (n, ls), v in self.counters().items()
                   if n == name and want <= set(ls))

    def log_events(self, event=None):
        out = []
        with open(self.proc.stderr_path, "rb") as f:
            for line in f:
                try:
                    v = json.loads(line)
                except ValueError:
                    continue
                if event is None or v.get("event") == event:
                    out.append(v)
        return out


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_exit(proc, timeout):
    t = time.monotonic()
    proc.popen.wait(timeout=timeout)
    return time.monotonic() - t


class Controlplane:
    """dpmp-controlplane on the same config as a Dataplane."""

    def __init__(self, env, dp, name="controlplane"):
        self.env = env
        self.dp = dp
        self.path = dp.path
        self.http = dp.cfg["http"]["port"]
        self.metrics = dp.cfg["metrics"]["port"]
        self.start(name)

    def start(self, name="controlplane"):
        self.proc = self.env.start("dpmp-controlplane", "-c", self.path,
                                   name=name)
        wait_port(self.http, proc=self.proc)

    def ctl(self, *args, check=True):
        r = subprocess.run([binary("dpmpctl"), "-c", self.path, "--json"] +
                           [str(a) for a in args], capture_output=True,
                           text=True, timeout=20)
        if check and r.returncode != 0:
            raise RuntimeError("dpmpctl %s: %s" % (args, r.stderr))
        return json.loads(r.stdout) if r.stdout.strip() else None

    def get(self, path):
        import urllib.request
        with urllib.request.urlopen("http://%s:%d%s" % (HOST, self.http,
                                                        path), timeout=5) as r:
            return json.loads(r.read())


def pool_accepted_diff(stats_path):
    """Accepted difficulty a simpool's stats file reports (live)."""
    try:
        with open(stats_path) as f:
            return json.load(f)["accepted_difficulty"]
    except (OSError, ValueError, KeyError):
        return 0.0


def miner_stats(proc, timeout):
    """A simminer's final stats, once it has run its --duration."""
    proc.wait(timeout=timeout)
    return read_json(proc.stats, timeout=5)


def pool_stats(proc):
    """Final stats: the pool writes them once more when it exits."""
    if proc.alive():
        proc.stop()
    return read_json(proc.stats, timeout=5)


def flip(dp, seconds, pools="A,B", interval=1):
    """Move every miner of dp between pools every interval seconds."""
    return subprocess.Popen(
        [binary("dpmp-ipctool"), "-e", dp.url, "flip", pools,
         str(interval), str(seconds)],
        stdout=subprocess.PIPE, text=True)


def check_clean_run(m, pools, dp=None, min_switches=0):
    """Zero rejects anywhere, zero disconnects, pools accepted == miner
    accepted (count and difficulty)."""
    assert m["rejected_total"] == 0, "miner rejects: %s" % m["rejected"]
    assert m["disconnects"] == 0, "miner disconnects: %d" % m["disconnects"]
    assert m["unanswered"] == 0, "unanswered shares: %d" % m["unanswered"]
    acc = sum(p["accepted"] for p in pools)
    diff = sum(p["accepted_difficulty"] for p in pools)
    for p in pools:
        assert sum(p["rejected"].values()) == 0, "pool rejects: %s" % p
    assert m["accepted"] > 0, "no shares at all"
    assert acc == m["accepted"], "pools accepted %d, miners %d" % (
        acc, m["accepted"])
    assert abs(diff - m["accepted_difficulty"]) < 1e-9 * max(1, diff), \
        "difficulty: pools %r miners %r" % (diff, m["accepted_difficulty"])
    if dp is not None and min_switches:
        sw = dp.counter_sum("dpmp_pool_switches_total")
        assert sw >= min_switches, "only %d switches" % sw
