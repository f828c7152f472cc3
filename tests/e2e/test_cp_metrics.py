#!/usr/bin/env python3
"""/metrics of dpmp-controlplane: Prometheus text format that passes
`promtool check metrics` with no warnings, on the metrics port and the
http port, with no dataplane and on a live run (simpools, the real
dataplane, simminers), where the counters agree with the pools' own
stats."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpmptest import Runner, free_port, read_json, wait_for, wait_port  # noqa: E402

PROMTOOL = shutil.which("promtool")
CONTENT_TYPE = "text/plain; version=0.0.4"


def config(env, pa=3334, pb=3333):
    return {
        "listen": {"host": "127.0.0.1", "port": free_port()},
        "metrics": {"enabled": True, "host": "127.0.0.1", "port": free_port()},
        "http": {"host": "127.0.0.1", "port": free_port(), "token": "tok"},
        "state_dir": env.path("state"),
        "pools": {
            "A": {"name": "pool \"A\"", "host": "127.0.0.1", "port": pa,
                  "wallet": "wa", "chain": "BTC"},
            "B": {"name": "pool\\B", "host": "127.0.0.1", "port": pb,
                  "wallet": "wb", "chain": "BCH"},
        },
        "scheduler": {"poolA_weight": 70, "poolB_weight": 30,
                      "slice_seconds": 2, "min_switch_seconds": 1,
                      "window_seconds": 60},
        "logging": {"level": "info"},
    }


def start(env, prog, cfg, name):
    path = env.path(name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return env.start(prog, "-c", path, name=name)


def scrape(port, path="/metrics"):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def promtool(text):
    """(ok, output) of promtool check metrics; ok None without promtool."""
    if PROMTOOL is None:
        return None, "promtool not installed"
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    out = (r.stdout + r.stderr).strip()
    return r.returncode == 0 and out == "", out


def samples(text):
    """{(name, frozenset(labels)): value} of every sample line."""
    out = {}
    rx = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
    lrx = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = rx.match(line)
        assert m, "unparsable sample line: %r" % line
        labels = frozenset(lrx.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(smp, metric, **labels):
    return smp.get((metric, frozenset(labels.items())))


t = Runner("cp_metrics")


def live_stack(env, a_args=()):
    """Two simpools (A with a_args), the dataplane and the controlplane.
    Returns (pool A, pool B, cfg, dataplane, controlplane)."""
    pa, port_a = env.simpool("--name", "A", "--difficulty", "0.0001",
                             *a_args)
    pb, port_b = env.simpool("--name", "B", "--difficulty", "0.0001")
    cfg = config(env, port_a, port_b)
    os.makedirs(cfg["state_dir"])
    dp = start(env, "dpmp-dataplane", cfg, "dataplane")
    wait_port(cfg["listen"]["port"], proc=dp)
    cp = start(env, "dpmp-controlplane", cfg, "controlplane")
    wait_port(cfg["metrics"]["port"], proc=cp)
    return pa, pb, cfg, dp, cp


@t.check("no dataplane: valid exposition on both ports, only /metrics on the metrics port")
def _(env):
    cfg = config(env)
    p = start(env, "dpmp-controlplane", cfg, "controlplane")
    wait_port(cfg["metrics"]["port"], proc=p)
    st, ctype, text = scrape(cfg["metrics"]["port"])
    assert st == 200 and ctype.startswith(CONTENT_TYPE), ctype
    ok, out = promtool(text)
    assert ok is not False, out
    if ok is None:
        print("  (skipped promtool: %s)" % out)
    for fam in ("dpmp_shares_accepted_total", "dpmp_share_latency_seconds",
                "dpmp_pool_switches_total"):
        assert "# TYPE %s " % fam in text, fam
    smp = samples(text)
    assert value(smp, "dpmp_pool_weight", pool="A") == 70
    assert value(smp, "dpmp_pool_info", pool="A", name='pool \\"A\\"',
                 host="127.0.0.1", chain="BTC") == 1, text
    assert value(smp, "dpmp_pool_info", pool="B", name="pool\\\\B",
                 host="127.0.0.1", chain="BCH") == 1, text
    # nothing invented for what only the dataplane knows
    assert not [k for k in smp if k[0] == "dpmp_pool_up"]
    st2, _, text2 = scrape(cfg["http"]["port"])
    assert st2 == 200 and "# TYPE dpmp_pool_weight gauge" in text2
    try:
        scrape(cfg["metrics"]["port"], "/api/v1/status")
        assert False, "metrics port served the API"
    except urllib.error.HTTPError as e:
        assert e.code == 404


@t.check("metrics.enabled false: no metrics listener, /metrics still on http")
def _(env):
    cfg = config(env)
    cfg["metrics"]["enabled"] = False
    p = start(env, "dpmp-controlplane", cfg, "controlplane")
    wait_port(cfg["http"]["port"], proc=p)
    assert scrape(cfg["http"]["port"])[0] == 200
    try:
        scrape(cfg["metrics"]["port"])
        assert False, "metrics listener is up"
    except (urllib.error.URLError, ConnectionError):
        pass


@t.check("live run: promtool clean and counters agree with the pools")
def _(env):
    pa, pb, cfg, dp, cp = live_stack(env)
    env.simminer(cfg["listen"]["port"], "--miners", "3", "--rate", "20",
                 "--worker-prefix", 'rig "x"\\')

    def enough():
        smp = samples(scrape(cfg["metrics"]["port"])[2])
        a = value(smp, "dpmp_shares_accepted_total", pool="A") or 0
        b = value(smp, "dpmp_shares_accepted_total", pool="B") or 0
        return a >= 5 and b >= 2
    wait_for(enough, 60, interval=0.5, what="accepted shares on both pools")
    st, ctype, text = scrape(cfg["metrics"]["port"])
    ok, out = promtool(text)
    assert ok is not False, out
    smp = samples(text)
    assert value(smp, "dpmp_pool_up", pool="A") == 1
    assert value(smp, "dpmp_downstream_connections") == 3
    assert value(smp, "dpmp_pool_difficulty", pool="A") == 0.0001
    assert (value(smp, "dpmp_up_seconds") or 0) > 0

    # stop the miners, let the last answers land, then compare
    for p in env.procs:
        if p.name.startswith("simminer"):
            p.stop()
    time.sleep(2.5)
    smp = samples(scrape(cfg["metrics"]["port"])[2])
    for key, pool in (("A", pa), ("B", pb)):
        stats = read_json(pool.stats, timeout=5)
        acc = value(smp, "dpmp_shares_accepted_total", pool=key)
        diff = value(smp, "dpmp_accepted_difficulty_total", pool=key)
        assert acc == stats["accepted"], (key, acc, stats["accepted"])
        assert abs(diff - stats["accepted_difficulty"]) < 1e-9, (key, diff, stats)


def where_sum(smp, where, **labels):
    """Sum of dpmp_shares_rejected_total over samples with where= and
    labels (any pool and reason unless given)."""
    want = set(labels.items()) | {("where", where)}
    return sum(v for (n, ls), v in smp.items()
               if n == "dpmp_shares_rejected_total" and want <= set(ls))


@t.check("rejects: DPMP's own under where=local, the pool's under where=pool, "
         "in /metrics, the API and dpmpctl")
def _(env):
    # pool A refuses every 4th valid share itself (code 20); the miners
    # resend an accepted share now and then, which DPMP refuses (22)
    pa, pb, cfg, dp, cp = live_stack(env, ["--reject-every", "4"])
    mn = env.simminer(cfg["listen"]["port"], "--miners", "2", "--rate", "20",
                      "--bad-shares", "duplicate", "--bad-every", "3")

    def enough():
        smp = samples(scrape(cfg["metrics"]["port"])[2])
        return (where_sum(smp, "local", reason="duplicate") >= 3 and
                where_sum(smp, "pool", pool="A") >= 3)
    wait_for(enough, 60, interval=0.5, what="local and pool rejects")
    mn.stop()
    time.sleep(2.5)
    text = scrape(cfg["metrics"]["port"])[2]
    ok, out = promtool(text)
    assert ok is not False, out
    smp = samples(text)
    ms = read_json(mn.stats, timeout=5)
    sa = read_json(pa.stats, timeout=5)
    sb = read_json(pb.stats, timeout=5)
    dups = ms["rejected"].get("22", 0)
    refused = ms["rejected"].get("20", 0)
    assert dups == ms["bad"]["submitted"] and dups > 0, ms
    assert refused == sa["rejected"].get("20", 0) > 0, (ms, sa)
    assert sb["rejected"] == {}, sb

    # /metrics: the duplicates are DPMP's, the refusals pool A's
    assert where_sum(smp, "local") == dups, (dups, text)
    assert where_sum(smp, "local", reason="duplicate") == dups
    assert where_sum(smp, "pool") == refused, (refused, text)
    assert value(smp, "dpmp_shares_rejected_total", pool="A",
                 reason="other", where="pool") == refused
    assert where_sum(smp, "pool", pool="B") == 0
    assert where_sum(smp, "pool", reason="duplicate") == 0

    # the JSON API: per pool, and per miner and pool
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/status" %
                                cfg["http"]["port"], timeout=10) as r:
        st = json.loads(r.read())
    pools = {p["state"]["key"]: p for p in st["pools"]}
    for key in ("A", "B"):
        p = pools[key]
        assert p["rejected_local"] == where_sum(smp, "local", pool=key), p
        assert p["rejected_pool"] == where_sum(smp, "pool", pool=key), p
        assert p["rejected"] == p["rejected_local"] + p["rejected_pool"], p
    assert pools["A"]["rejected_pool"] == refused
    assert {"where": "pool", "reason": "other", "count": refused} in \
        pools["A"]["rejected_by_reason"], pools["A"]
    assert all(r["where"] == "local" and r["reason"] == "duplicate"
               for r in pools["B"]["rejected_by_reason"]), pools["B"]
    work = [w for m in st["miners"] for w in m["work"]]
    assert sum(w["rejected_local"] for w in work) == dups, work
    assert sum(w["rejected_pool"] for w in work) == refused, work

    # dpmpctl: one column each
    r = subprocess.run([os.path.join(os.environ.get("DPMP_BIN", "build/bin"),
                                     "dpmpctl"),
                        "-c", env.path("controlplane.json"), "pools"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    head = r.stdout.splitlines()[0].split()
    assert head[-2:] == ["REJ(local)", "REJ(pool)"], r.stdout
    row = [l.split() for l in r.stdout.splitlines() if l.startswith("A ")][0]
    assert row[-2:] == [str(pools["A"]["rejected_local"]), str(refused)], \
        r.stdout


t.done()
