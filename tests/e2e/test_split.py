#!/usr/bin/env python3
"""End to end: dataplane + controlplane + simulated pools and miners.  The
accepted work splits by the weights, weights change live, and the
controlplane can be killed with -9 and restarted without a miner
noticing."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpmptest import Runner, read_json, wait_for  # noqa: E402
from dpenv import (Controlplane, Dataplane,  # noqa: E402
                   pool_accepted_diff)

RUN_S = float(os.environ.get("DPMP_SPLIT_SECONDS", "60"))
t = Runner("split")

SCHED = {"poolA_weight": 70, "poolB_weight": 30, "slice_seconds": 5,
         "min_switch_seconds": 2, "window_seconds": 30}


def setup(env, miners=3):
    # colliding counter job ids, different difficulty per pool, miners
    # that never sent extranonce.subscribe
    a, pa = env.simpool("--name", "A", "--difficulty", "0.00002",
                        "--job-ids", "counter", "--job-interval", "3")
    b, pb = env.simpool("--name", "B", "--difficulty", "0.00004",
                        "--job-ids", "counter", "--job-interval", "4")
    dp = Dataplane(env, {"A": pa, "B": pb}, extra={"scheduler": SCHED})
    cp = Controlplane(env, dp)
    m = env.simminer(dp.port, "--miners", str(miners), "--rate", "5",
                     "--duration", str(RUN_S))
    return a, b, dp, cp, m


def share_a(a, b, since=(0.0, 0.0)):
    da = pool_accepted_diff(a.stats) - since[0]
    db = pool_accepted_diff(b.stats) - since[1]
    return 100.0 * da / (da + db) if da + db > 0 else 0.0, (da, db)


def finish(a, b, m):
    m.wait(timeout=RUN_S + 30)
    ms = read_json(m.stats, timeout=5)
    for p in (a, b):
        p.stop()
    sa, sb = read_json(a.stats), read_json(b.stats)
    assert ms["rejected_total"] == 0, ms["rejected"]
    assert ms["disconnects"] == 0, ms["disconnects"]
    assert sum(sa["rejected"].values()) + sum(sb["rejected"].values()) == 0
    assert ms["accepted"] == sa["accepted"] + sb["accepted"]
    return ms, sa, sb


@t.check("3 miners at 70:30: pool A gets 70% +- 5 of accepted difficulty")
def _(env):
    a, b, dp, cp, m = setup(env)
    ms, sa, sb = finish(a, b, m)
    pct = 100.0 * sa["accepted_difficulty"] / (
        sa["accepted_difficulty"] + sb["accepted_difficulty"])
    print("  split A=%.1f%% over %d shares" % (pct, ms["accepted"]))
    assert abs(pct - 70) <= 5, "A got %.1f%%" % pct


@t.check("weights set A=30 B=70 mid-run moves the split within a window")
def _(env):
    a, b, dp, cp, m = setup(env)
    time.sleep(RUN_S / 3)
    r = cp.ctl("weights", "set", "A=30", "B=70")
    assert r["weights"] == {"A": 30, "B": 70}, r
    assert cp.ctl("weights")["weights"] == {"A": 30, "B": 70}
    # one scheduler window (30 s here) to settle, then measure
    time.sleep(min(10.0, RUN_S / 6))
    mark = share_a(a, b)[1]
    time.sleep(RUN_S / 3)
    pct, _ = share_a(a, b, mark)
    finish(a, b, m)
    print("  after the change A=%.1f%%" % pct)
    assert abs(pct - 30) <= 8, "A got %.1f%% after A=30" % pct
    # persisted: a restarted controlplane comes back with the new weights
    cp.proc.stop()
    cp.start("controlplane-again")
    assert cp.ctl("weights")["weights"] == {"A": 30, "B": 70}


@t.check("kill -9 of the controlplane mid-run: no miner notices")
def _(env):
    a, b, dp, cp, m = setup(env)
    time.sleep(RUN_S / 4)
    cp.proc.signal(signal.SIGKILL)
    cp.proc.popen.wait(timeout=5)
    time.sleep(2)
    cp.start("controlplane-again")
    wait_for(lambda: cp.get("/api/v1/status").get("dataplane_connected"),
             timeout=10, what="controlplane reconnected")
    time.sleep(RUN_S / 4)
    mark = share_a(a, b)[1]
    ms, sa, sb = finish(a, b, m)
    pct, _ = share_a(a, b, mark)
    print("  after restart A=%.1f%%" % pct)
    assert abs(pct - 70) <= 8, "A got %.1f%% after restart" % pct


t.done()
