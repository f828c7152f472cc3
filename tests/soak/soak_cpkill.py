#!/usr/bin/env python3
"""kill -9 of the controlplane, again and again, under 100 miners.

Two simpools, the dataplane, the controlplane and one dpmp-simminer with
--miners simulated miners at a low --rate.  Every --every seconds for
--minutes the controlplane is killed with SIGKILL and started again; each
restart must report the dataplane connected with every miner within 30 s.
The dataplane carries the miners alone meanwhile: at the end the miners
must have had zero rejects, zero disconnects and zero unanswered shares,
the pools zero rejects, the dataplane zero miner_disconnected events, and
the dataplane's RSS a flat second half (least-squares slope under
--max-slope KiB/min).

    python3 tests/soak/soak_cpkill.py [--minutes 10] [--miners 100]
"""

import json
import signal
import sys
import time
import urllib.request

import soaklib


def add(ap):
    ap.add_argument("--miners", type=int, default=100)
    ap.add_argument("--rate", type=float, default=0.2,
                    help="shares/s per miner (0.2)")
    ap.add_argument("--every", type=float, default=10.0,
                    help="seconds between kills (10)")
    ap.add_argument("--jobs-kept", type=int, default=8,
                    help="limits.jobs_kept (8): see soaklib.WARMUP")
    ap.add_argument("--max-slope", type=float, default=256.0,
                    help="fail above this dataplane RSS slope, KiB/min (256)")


def main():
    a = soaklib.parse(__doc__, add)
    from dpmptest import Env, read_json, wait_for
    from dpenv import Controlplane, Dataplane

    env = Env("soak-cpkill")
    problems = []
    kills = restart_fail = 0
    restart_s = []
    sampler = None
    m = {}
    pools = []
    dropped = None
    t0 = time.monotonic()
    try:
        pa_proc, pa = env.simpool("--name", "A", "--difficulty", "1e-6",
                                  "--job-interval", "2", "--log-level", "warn")
        pb_proc, pb = env.simpool("--name", "B", "--difficulty", "1e-6",
                                  "--job-interval", "2", "--log-level", "warn")
        dp = Dataplane(env, {"A": pa, "B": pb}, extra={
            "limits": {"max_miners": a.miners + 100,
                       "jobs_kept": a.jobs_kept}})
        cp = Controlplane(env, dp)

        def status():
            with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/status"
                                        % cp.http, timeout=5) as r:
                return json.loads(r.read())

        def all_there():
            try:
                s = status()
            except Exception:
                return False
            return s.get("dataplane_connected") and sum(
                1 for x in s.get("miners", []) if x.get("connected")) >= a.miners

        sm = env.simminer(dp.port, "--miners", a.miners, "--rate", a.rate,
                          "--cpu", "0.2", "--quiet")
        wait_for(all_there, timeout=60, interval=0.2,
                 what="%d miners in the status" % a.miners)
        sampler = soaklib.RssSampler({"dataplane": lambda: dp.proc.popen.pid,
                                      "controlplane": lambda: cp.proc.popen.pid},
                                     2.0).start()
        before = len(dp.log_events("miner_disconnected"))
        end = t0 + a.minutes * 60
        max_kills = int(a.minutes * 60 / a.every) + 1
        next_kill = time.monotonic() + a.every
        while kills < max_kills:
            time.sleep(max(0.0, min(next_kill, end) - time.monotonic()))
            if time.monotonic() >= end:
                break
            next_kill += a.every
            cp.proc.signal(signal.SIGKILL)
            cp.proc.popen.wait(timeout=10)
            kills += 1
            t = time.monotonic()
            cp.start("controlplane")
            try:
                wait_for(all_there, timeout=30, interval=0.05,
                         what="controlplane back")
                restart_s.append(time.monotonic() - t)
            except TimeoutError:
                restart_fail += 1
                problems.append("kill %d: controlplane not back with %d "
                                "miners in 30 s" % (kills, a.miners))
            if not (dp.proc.alive() and sm.alive()):
                problems.append("dataplane or simminer exited after kill %d"
                                % kills)
                break
        sampler.stop()
        dropped = len(dp.log_events("miner_disconnected")) - before
        sm.stop(timeout=15)
        m = read_json(sm.stats, timeout=5)
        for p in (pa_proc, pb_proc):
            p.stop()
            pools.append(read_json(p.stats, timeout=5))
    finally:
        if sampler:
            sampler.stop()
        elapsed = time.monotonic() - t0
        env.cleanup(keep=a.keep)

    pool_rej = sum(sum(p.get("rejected", {}).values()) for p in pools)
    result = {"elapsed_s": round(elapsed), "miners": a.miners,
              "kills": kills, "restart_failures": restart_fail,
              "restart_s_max": round(max(restart_s), 3) if restart_s else None,
              "restart_s_median": round(sorted(restart_s)[len(restart_s) // 2], 3)
              if restart_s else None,
              "miner_accepted": m.get("accepted"),
              "miner_rejected": m.get("rejected_total"),
              "miner_disconnects": m.get("disconnects"),
              "miner_unanswered": m.get("unanswered"),
              "pool_accepted": sum(p.get("accepted", 0) for p in pools),
              "pool_rejected": pool_rej,
              "dataplane_miner_disconnected": dropped}
    for name in ("dataplane", "controlplane"):
        result[name + "_rss"] = sampler.summary(name) if sampler else {}
    for k in ("miner_rejected", "miner_disconnects", "miner_unanswered",
              "pool_rejected", "dataplane_miner_disconnected"):
        if result[k] != 0:
            problems.append("%s = %s, want 0" % (k, result[k]))
    if not m.get("accepted"):
        problems.append("the miners had no shares accepted")
    sl = result["dataplane_rss"].get("slope_kib_per_min")
    if sl is not None and sl > a.max_slope:
        problems.append("dataplane RSS grows %.1f KiB/min (limit %g)"
                        % (sl, a.max_slope))
    return soaklib.report("soak_cpkill", a.minutes, result, not problems,
                          problems)


if __name__ == "__main__":
    sys.exit(main())
