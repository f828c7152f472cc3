#!/usr/bin/env python3
"""Work lost by a time-sliced miner whose firmware restarts its search on
every notify (cpuminer, ESP-Miner).  Two simulated pools that send a new
job every --job-interval seconds, the dataplane and the controlplane at
--weights with a short slice, and one miner: dpmp-simminer --firmware
restart by default, or any command given with --miner (e.g. a real
cpuminer; {port} is replaced by the proxy's port).  Prints the shares the
miner sent, how many the dataplane refused as duplicates, and the
fraction, from the dataplane's own counters.  Run it once with a
dataplane from before a change (--dataplane PATH) and once after: both
in one invocation with --baseline PATH.

    python3 tests/bench/bench_firmware.py --bin build/bin \\
        [--baseline OLD/dpmp-dataplane] [--seconds 60] [--mode per_miner] \\
        [--miner 'minerd -a sha256d -t 1 -o stratum+tcp://127.0.0.1:{port}
                  -u w.1 -p x']
"""

import argparse
import json
import os
import shlex
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))


def bin_with(dataplane, bindir):
    """A bin dir with every binary of bindir but dpmp-dataplane."""
    d = tempfile.mkdtemp(prefix="dpmp-bench-bin-")
    for n in os.listdir(bindir):
        os.symlink(os.path.join(bindir, n), os.path.join(d, n))
    os.unlink(os.path.join(d, "dpmp-dataplane"))
    os.symlink(os.path.abspath(dataplane), os.path.join(d, "dpmp-dataplane"))
    return d


def run_once(a, label):
    from dpmptest import Env, Proc, _stop_all
    from dpenv import Controlplane, Dataplane

    env = Env("bench-firmware-" + label)
    try:
        pool_args = ["--difficulty", str(a.difficulty), "--job-interval",
                     str(a.job_interval)] + shlex.split(a.pool_args)
        _, pa = env.simpool("--name", "A", *pool_args)
        _, pb = env.simpool("--name", "B", *pool_args)
        wa, wb = a.weights.split(":")
        sched = {"poolA_weight": float(wa), "poolB_weight": float(wb),
                 "slice_seconds": a.slice, "min_switch_seconds": 1}
        dp = Dataplane(env, {"A": pa, "B": pb}, mode=a.mode,
                       extra={"scheduler": sched})
        Controlplane(env, dp)
        if a.miner:
            argv = [x.replace("{port}", str(dp.port))
                    for x in shlex.split(a.miner)]
            m = Proc("miner", argv, env.dir)
            env.procs.append(m)
            time.sleep(a.seconds)
            m.stop()
        else:
            m = env.simminer(dp.port, "--miners", "1", "--rate", "5",
                             "--cpu", "0.3", "--firmware", "restart",
                             "--duration", str(a.seconds))
            m.wait(timeout=a.seconds + 60)
        time.sleep(1)
        acc = dp.counter_sum("dpmp_shares_accepted_total")
        rej = dp.counter_sum("dpmp_shares_rejected_total")
        dup = dp.counter_sum("dpmp_shares_rejected_total",
                             reason="duplicate")
        moves = len(dp.log_events("pool_switched"))
        sent = acc + rej
        return {"label": label, "sent": sent, "accepted": acc,
                "rejected": rej, "duplicates": dup, "moves": moves,
                "duplicate_pct": 100.0 * dup / sent if sent else 0.0}
    finally:
        env.cleanup()
        _stop_all()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--baseline", help="an older dpmp-dataplane to compare")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--mode", default="per_miner")
    ap.add_argument("--weights", default="70:30")
    ap.add_argument("--slice", type=int, default=3)
    ap.add_argument("--job-interval", type=float, default=30)
    ap.add_argument("--difficulty", type=float, default=0.00002)
    ap.add_argument("--miner", help="miner command line, {port} = proxy")
    ap.add_argument("--pool-args", default="",
                    help="more dpmp-simpool arguments, e.g. '--en2-size 4'")
    a = ap.parse_args()
    bindir = os.path.abspath(a.bin)
    runs = []
    if a.baseline:
        os.environ["DPMP_BIN"] = bin_with(a.baseline, bindir)
        runs.append(run_once(a, "baseline"))
    os.environ["DPMP_BIN"] = bindir
    runs.append(run_once(a, "this"))
    for r in runs:
        print(json.dumps(r))
    print("%-9s %6s %8s %8s %6s %7s" % ("dataplane", "sent", "rejected",
                                         "dup", "dup%", "moves"))
    for r in runs:
        print("%-9s %6d %8d %8d %5.1f%% %7d" % (
            r["label"], r["sent"], r["rejected"], r["duplicates"],
            r["duplicate_pct"], r["moves"]))


if __name__ == "__main__":
    main()
