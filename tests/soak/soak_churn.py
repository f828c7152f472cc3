#!/usr/bin/env python3
"""Connect/disconnect churn: does memory come back when miners leave?

Two simpools, the dataplane and the controlplane.  For --minutes, waves of
short-lived miners come and go: a dpmp-loadgen run (--conns connections
that subscribe, authorize, submit for --life seconds and disconnect) beside
a short dpmp-simminer run, with worker names drawn from a rotating set so
some sessions are new and some resume within the reconnect grace.  The
controlplane's status API is read between waves.  The RSS of both daemons
is sampled every --sample seconds; the summary gives start, end, maximum
and the least-squares slope over the second half of the run (KiB/min).

    python3 tests/soak/soak_churn.py [--minutes 10] [--conns 200]
"""

import json
import subprocess
import sys
import time
import urllib.request

import soaklib


def add(ap):
    ap.add_argument("--conns", type=int, default=200,
                    help="loadgen connections per wave (200)")
    ap.add_argument("--life", type=float, default=2.0,
                    help="seconds a wave's miners submit before leaving (2)")
    ap.add_argument("--sample", type=float, default=2.0,
                    help="RSS sample period in seconds (2)")
    ap.add_argument("--mode", default="per_miner",
                    choices=("per_miner", "aggregate"),
                    help="upstream.mode of the dataplane (per_miner)")
    ap.add_argument("--grace", type=int, default=None,
                    help="limits.reconnect_grace_seconds (the default, 60)")
    ap.add_argument("--jobs-kept", type=int, default=8,
                    help="limits.jobs_kept (8): see soaklib.WARMUP")
    ap.add_argument("--max-slope", type=float, default=256.0,
                    help="fail above this second-half RSS slope, KiB/min (256)")


def main():
    a = soaklib.parse(__doc__, add)
    from dpmptest import Env, binary
    from dpenv import Controlplane, Dataplane

    env = Env("soak-churn")
    problems = []
    waves = conns_ok = lg_fail = sm_fail = status_fail = 0
    accepted = rejected = 0
    sampler = None
    held = {}
    t0 = time.monotonic()
    try:
        _, pa = env.simpool("--name", "A", "--difficulty", "1e-10",
                            "--job-interval", "2", "--log-level", "warn", stats=False)
        _, pb = env.simpool("--name", "B", "--difficulty", "1e-10",
                            "--job-interval", "2", "--log-level", "warn", stats=False)
        limits = {"max_miners": a.conns * 4 + 200, "jobs_kept": a.jobs_kept}
        if a.grace is not None:
            limits["reconnect_grace_seconds"] = a.grace
        dp = Dataplane(env, {"A": pa, "B": pb}, mode=a.mode, extra={
            "limits": limits, "logging": {"json": True, "level": "warn"}})
        cp = Controlplane(env, dp)
        sampler = soaklib.RssSampler({"dataplane": lambda: dp.proc.popen.pid,
                                      "controlplane": lambda: cp.proc.popen.pid},
                                     a.sample).start()
        end = t0 + a.minutes * 60
        max_waves = int(a.minutes * 60 / max(a.life, 0.5)) + 1
        while time.monotonic() < end and waves < max_waves:
            if not (dp.proc.alive() and cp.proc.alive()):
                problems.append("a daemon exited during wave %d" % waves)
                break
            tag = "c%d" % (waves % 20)
            lg = subprocess.Popen(
                [binary("dpmp-loadgen"), "--port", str(dp.port),
                 "--conns", str(a.conns), "--rate", str(a.conns),
                 "--duration", str(a.life), "--warmup", "0",
                 "--connect-timeout", "10", "--user", tag],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            sm = env.simminer(dp.port, "--miners", "10", "--rate", "2",
                              "--duration", str(a.life), "--drain", "1",
                              "--user", "s" + tag, "--quiet", stats=False)
            try:
                out, _ = lg.communicate(timeout=a.life + 60)
                s = json.loads(out.strip().splitlines()[-1])
                conns_ok += int(s.get("ready", 0))
                accepted += int(s.get("accepted", 0))
                rejected += int(s.get("rejected", 0))
                if lg.returncode != 0:
                    lg_fail += 1
            except (subprocess.TimeoutExpired, ValueError, IndexError):
                lg.kill()
                lg.wait()
                lg_fail += 1
            try:
                if sm.wait(timeout=a.life + 30) != 0:
                    sm_fail += 1
            except TimeoutError:
                sm.stop()
                sm_fail += 1
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/status"
                                            % cp.http, timeout=10) as r:
                    json.loads(r.read())
            except Exception:
                status_fail += 1
            waves += 1
        # let the last wave's sessions go before the end sample
        time.sleep(min(5.0, a.sample * 2))
        # what the dataplane still holds: sessions in their reconnect grace
        # are listed with connected false
        listed = dp.state().get("miners", [])
        held = {"listed": len(listed),
                "connected": sum(1 for x in listed if x.get("connected"))}
    finally:
        if sampler:
            sampler.stop()
        elapsed = time.monotonic() - t0
        env.cleanup(keep=a.keep)

    result = {"elapsed_s": round(elapsed), "waves": waves,
              "miner_sessions": waves * (a.conns + 10),
              "loadgen_ready": conns_ok, "loadgen_accepted": accepted,
              "loadgen_rejected": rejected,
              "loadgen_failed_runs": lg_fail, "simminer_failed_runs": sm_fail,
              "status_failures": status_fail, "mode": a.mode,
              "dataplane_miners_at_end": held}
    for name in ("dataplane", "controlplane"):
        result[name + "_rss"] = sampler.summary(name) if sampler else {}
    if lg_fail or sm_fail or status_fail:
        problems.append("failed runs: loadgen %d, simminer %d, status %d"
                        % (lg_fail, sm_fail, status_fail))
    for name in ("dataplane", "controlplane"):
        sl = result[name + "_rss"].get("slope_kib_per_min")
        if sl is not None and sl > a.max_slope:
            problems.append("%s RSS grows %.1f KiB/min (limit %g)"
                            % (name, sl, a.max_slope))
    return soaklib.report("soak_churn", a.minutes, result, not problems,
                          problems)


if __name__ == "__main__":
    sys.exit(main())
