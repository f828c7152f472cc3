#!/usr/bin/env python3
"""Real firmware behind a time-sliced proxy: every firmware profile of
dpmp-simminer x {per_miner, aggregate} x {pool with 30 s jobs and counter
ids, pool with prefixed ids and a small extranonce2, pool with vardiff},
each miner moved between the pools at least 10 times inside one pool job.
Firmware that restarts its search on every notify (cpuminer, ESP-Miner)
must never be handed work it already did: zero rejects of any kind, at
the miners and at the pools, and the pools accept exactly the difficulty
the miners were told was accepted."""

import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpmptest import Runner, StratumClient, wait_for  # noqa: E402
from dpenv import (Controlplane, Dataplane, check_clean_run,  # noqa: E402
                   flip, miner_stats, pool_stats)

RUN_S = float(os.environ.get("DPMP_FIRMWARE_SECONDS", "16"))
MOVES = 10

# (name, simminer arguments): one miner process each.  Where each
# behaviour comes from: docs/OPERATIONS.md, "Simulated firmware".
PROFILES = [
    # cpuminer: restarts on every new job id, no version rolling
    ("restart", ["--firmware", "restart"]),
    # ESP-Miner: restarts, rolls versions, suggests a difficulty first
    ("restart-vr", ["--firmware", "restart", "--version-rolling",
                    "--suggest-difficulty", "0.00002"]),
    # cgminer-based ASIC firmware: global counter, reset on clean jobs;
    # takes set_extranonce
    ("cgminer-vr", ["--firmware", "cgminer", "--version-rolling",
                    "--xnsub"]),
    # a counter that never resets
    ("counter", ["--firmware", "counter"]),
    # slow firmware: stays on the old job a while after each notify
    ("restart-slow", ["--firmware", "restart", "--job-delay", "0.3"]),
]

# pools send a job every 30 s, so a miner flipped every second comes back
# to the same pool job many times
POOLS = {
    "slow-counter-ids": ["--job-interval", "30", "--job-ids", "counter"],
    "prefixed-small-en2": ["--job-interval", "30", "--job-ids", "prefixed",
                           "--en1-size", "4", "--en2-size", "4"],
    "vardiff": ["--job-interval", "30", "--job-ids", "counter",
                "--vardiff", "4:0.00004,9:0.00003"],
}

t = Runner("firmware")


def moves_per_miner(dp):
    """pool_switched events per miner id."""
    return Counter(e["miner"] for e in dp.log_events("pool_switched"))


def run_matrix_cell(env, mode, pool_args):
    a, pa = env.simpool("--name", "A", "--difficulty", "0.00002", *pool_args)
    b, pb = env.simpool("--name", "B", "--difficulty", "0.00003", *pool_args)
    dp = Dataplane(env, {"A": pa, "B": pb}, mode=mode)
    miners = {}
    for name, args in PROFILES:
        miners[name] = env.simminer(
            dp.port, "--miners", "1", "--rate", "4", "--cpu", "0.12",
            "--worker-prefix", name + "-", "--duration", str(RUN_S), *args,
            name="miner-" + name)
    wait_for(lambda: dp.state() and len(
        [m for m in dp.state().get("miners", []) if m.get("pool")]) ==
        len(PROFILES), timeout=15, what="every miner working")
    f = flip(dp, RUN_S - 2, interval=0.8)
    stats = {n: miner_stats(p, RUN_S + 60) for n, p in miners.items()}
    f.wait(timeout=30)
    pools = [pool_stats(a), pool_stats(b)]
    total = {"accepted": 0, "accepted_difficulty": 0.0, "rejected_total": 0,
             "rejected": {}, "disconnects": 0, "unanswered": 0}
    for n, s in stats.items():
        print("  %-13s accepted %3d rejected %s" % (n, s["accepted"],
                                                   s["rejected"]))
    bad = {n: s["rejected"] for n, s in stats.items() if s["rejected_total"]}
    assert not bad, "rejects: %s" % bad
    for n, s in stats.items():
        assert s["accepted"] > 0, "%s: no accepted share" % n
        for k in ("accepted", "accepted_difficulty", "rejected_total",
                  "disconnects", "unanswered"):
            total[k] += s[k]
    check_clean_run(total, pools)
    moves = moves_per_miner(dp)
    assert len(moves) == len(PROFILES), moves
    assert min(moves.values()) >= MOVES, "moves per miner: %s" % moves
    # the pool never sent a new job while the miners were flipped: every
    # move back re-issued a job the miner already had
    dup = dp.counter_sum("dpmp_shares_rejected_total", reason="duplicate")
    assert dup == 0, "dataplane counted %d duplicates" % dup


for mode in ("per_miner", "aggregate"):
    for pname, pargs in POOLS.items():
        def cell(env, mode=mode, pargs=pargs):
            run_matrix_cell(env, mode, pargs)
        t.run("%s, pool %s: every profile moved %d+ times, 0 rejects" %
              (mode, pname, MOVES), cell)


def next_notify(c, timeout=10.0):
    return c.read_until(lambda m: m.get("method") == "mining.notify",
                        timeout)["params"]


def work_of(en1, params):
    """What a miner searches for a notify: (coinb1 + its en1, ntime).
    The job id is left out: a new id on the same work is the bug."""
    return (params[2] + en1, params[7])


def miner_id(dp, worker):
    for m in dp.state().get("miners", []):
        if m["worker"] == worker:
            return m["id"]
    raise KeyError(worker)


def gone(dp):
    wait_for(lambda: not [m for m in dp.state()["miners"]
                          if m.get("connected")], timeout=5,
             what="disconnect seen")


@t.check("the same pool job sent again (switch back, resume with the "
         "session id) is always new work, byte for byte")
def _(env):
    seen = []
    for mode in ("per_miner", "aggregate"):
        a, pa = env.simpool("--name", "A", "--difficulty", "0.00002",
                            "--job-interval", "300")
        b, pb = env.simpool("--name", "B", "--difficulty", "0.00002",
                            "--job-interval", "300")
        dp = Dataplane(env, {"A": pa, "B": pb}, mode=mode,
                       name="dataplane-" + mode)
        c = StratumClient(dp.port)
        sub = c.call("mining.subscribe", ["cgminer/4.11.1"])["result"]
        session, en1 = sub[0][0][1], sub[1]
        assert c.call("mining.authorize", ["wallet.rig1", "x"])["result"]
        first = next_notify(c)
        pool_job_a = dp.state()["miners"][0]["pool"]
        seen.append(work_of(en1, first))
        mid = miner_id(dp, "rig1")
        other = "B" if pool_job_a == "A" else "A"
        for i in range(4):
            # away and back: the pool's job has not changed (300 s)
            dp.ipc("assign", other, mid)
            next_notify(c)
            dp.ipc("assign", pool_job_a, mid)
            seen.append(work_of(en1, next_notify(c)))
        # resume: a power-cycled cgminer comes back with its session id.
        # The session is taken over at authorize, once the worker proves
        # it is the ghost's (docs/OPERATIONS.md, limits.reconnect_grace_seconds), so the en1 of
        # the subscribe answer may be a fresh one: new work either way.
        c.close()
        gone(dp)
        c = StratumClient(dp.port)
        sub = c.call("mining.subscribe", ["cgminer/4.11.1", session])
        session, en1 = sub["result"][0][0][1], sub["result"][1]
        assert c.call("mining.authorize", ["wallet.rig1", "x"])["result"]
        assert miner_id(dp, "rig1") == mid, "not resumed"
        seen.append(work_of(en1, next_notify(c)))
        # a firmware that authorizes first keeps its en1 too: then only
        # the work number makes the pool job new work
        c.close()
        gone(dp)
        c = StratumClient(dp.port)
        assert c.call("mining.authorize", ["wallet.rig1", "x"])["result"]
        sub = c.call("mining.subscribe", ["cgminer/4.11.1", session])
        en1_again = sub["result"][1]
        assert en1_again == en1, "not resumed: en1 %s, was %s" % (
            en1_again, en1)
        assert miner_id(dp, "rig1") == mid, "not resumed"
        seen.append(work_of(en1_again, next_notify(c)))
        c.close()
        for p in (a, b):
            p.stop()
        dp.proc.stop()
    dups = len(seen) - len(set(seen))
    print("  %d issues of unchanged pool jobs, %d repeated" % (len(seen),
                                                            dups))
    assert dups == 0, "work handed out again: %s" % seen


@t.check("the scheduler time-slices one cpuminer-like miner at 70:30 "
         "against 30 s jobs: no duplicates")
def _(env):
    a, pa = env.simpool("--name", "A", "--difficulty", "0.00002",
                        "--job-interval", "30")
    b, pb = env.simpool("--name", "B", "--difficulty", "0.00002",
                        "--job-interval", "30")
    sched = {"poolA_weight": 70, "poolB_weight": 30, "slice_seconds": 2,
             "min_switch_seconds": 1}
    dp = Dataplane(env, {"A": pa, "B": pb}, extra={"scheduler": sched})
    Controlplane(env, dp)
    m = env.simminer(dp.port, "--miners", "1", "--rate", "5", "--cpu",
                     "0.3", "--firmware", "restart", "--duration", "40")
    s = miner_stats(m, 90)
    pools = [pool_stats(a), pool_stats(b)]
    moves = sum(moves_per_miner(dp).values())
    print("  %d moves, accepted %d, rejected %s" % (moves, s["accepted"],
                                                    s["rejected"]))
    check_clean_run(s, pools)
    assert moves >= MOVES, "the scheduler moved the miner %d times" % moves


t.done()
