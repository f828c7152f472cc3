#!/usr/bin/env python3
"""Bad configs are refused by both daemons with a message naming the key
and a non-zero exit; the Python DPMP v2 config loads unchanged."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpmptest import Runner, binary  # noqa: E402

t = Runner("config")

V2 = {
    "listen": {"host": "0.0.0.0", "port": 3351},
    "metrics": {"enabled": True, "host": "127.0.0.1", "port": 9210},
    "pools": {
        "A": {"name": "ocean", "host": "mine.ocean.xyz", "port": 3334,
              "wallet": "bc1qexample", "password": "x", "chain": "BTC"},
        "B": {"name": "bchpool", "host": "bch.example", "port": 3333,
              "wallet": "qqexample", "chain": "BCH"},
    },
    "scheduler": {"mode": "ratio", "poolA_weight": 70, "poolB_weight": 30,
                  "slice_seconds": 30, "min_switch_seconds": 10},
    "downstream_diff": {"default_min": 0, "poolA_min": 0, "poolB_min": 0},
    "logging": {"json": True, "level": "info"},
}


def check(env, cfg, raw=None):
    path = env.path("c.json")
    with open(path, "w") as f:
        f.write(raw if raw is not None else json.dumps(cfg))
    out = []
    for prog in ("dpmp-dataplane", "dpmp-controlplane"):
        r = subprocess.run([binary(prog), "-c", path, "--check"],
                           capture_output=True, text=True, timeout=10)
        out.append((prog, r.returncode, r.stdout + r.stderr))
    return out


def variant(**changes):
    c = json.loads(json.dumps(V2))
    for path, value in changes.items():
        keys = path.split("__")
        d = c
        for k in keys[:-1]:
            d = d[k]
        if value is KeyError:
            del d[keys[-1]]
        else:
            d[keys[-1]] = value
    return c


@t.check("the Python DPMP v2 config loads unchanged")
def _(env):
    for prog, rc, text in check(env, V2):
        assert rc == 0, (prog, text)


BAD = [
    ("missing pools", variant(pools=KeyError), "pools"),
    ("port 0", variant(pools__A__port=0), "pools.A.port"),
    ("port 70000", variant(pools__B__port=70000), "pools.B.port"),
    ("port as text", variant(listen__port="x"), "listen.port"),
    ("negative weight", variant(scheduler__poolA_weight=-1),
     "scheduler.poolA_weight"),
    ("host not a string", variant(pools__B__host=5), "pools.B.host"),
    ("slice 0", variant(scheduler__slice_seconds=0),
     "scheduler.slice_seconds"),
    ("all weights zero", variant(scheduler__poolA_weight=0,
                                 scheduler__poolB_weight=0), "weights"),
]

for name, cfg, key in BAD:
    @t.check("refused: " + name)
    def _(env, cfg=cfg, key=key):
        for prog, rc, text in check(env, cfg):
            assert rc != 0, "%s accepted a bad config" % prog
            assert key in text, "%s: %r does not name %s" % (prog, text, key)
            assert len(text.strip().splitlines()) <= 3, text


@t.check("refused: not JSON, with the line and column")
def _(env):
    for prog, rc, text in check(env, None, raw='{"pools": {,}}'):
        assert rc != 0 and "line 1" in text, (prog, text)


@t.check("refused: missing file")
def _(env):
    r = subprocess.run([binary("dpmp-dataplane"), "-c", env.path("nope.json"),
                        "--check"], capture_output=True, text=True)
    assert r.returncode != 0 and "nope.json" in r.stderr, r.stderr


t.done()
