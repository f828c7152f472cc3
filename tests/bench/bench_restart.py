#!/usr/bin/env python3
"""Controlplane restart with N miners connected, and the GetState IPC
round trip at that size.  Measures: GetState time (dpmp-ipctool, median of
5, including process start; an empty-dataplane call in the same run is the
baseline), time from a kill -9 of the controlplane to its restarted copy
reporting the dataplane connected with all N miners, and miners dropped
(dataplane miner_disconnected events during the restart: must be 0).

    python3 tests/bench/bench_restart.py --bin build/bin [--miners 10000]
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--miners", type=int, default=10000)
    a = ap.parse_args()
    os.environ["DPMP_BIN"] = os.path.abspath(a.bin)
    from dpmptest import Env, binary, wait_for, _stop_all
    from dpenv import Controlplane, Dataplane

    env = Env("bench-restart")
    try:
        _, pa = env.simpool("--name", "A", "--difficulty", "1", "--stats",
                            env.path("a.json"), stats=False)
        _, pb = env.simpool("--name", "B", "--difficulty", "1", "--stats",
                            env.path("b.json"), stats=False)
        dp = Dataplane(env, {"A": pa, "B": pb}, mode="aggregate",
                       extra={"limits": {"max_miners": a.miners + 100}})

        def getstate_ms(n=5):
            ts = []
            for _ in range(n):
                t = time.monotonic()
                subprocess.run([binary("dpmp-ipctool"), "-t", "10000", "-e",
                                dp.url, "state"], capture_output=True,
                               check=True)
                ts.append((time.monotonic() - t) * 1000)
            return statistics.median(ts)

        base_ms = getstate_ms()
        cp = Controlplane(env, dp)
        lg = env.start("dpmp-loadgen", "--port", dp.port, "--conns",
                       a.miners, "--idle", "--duration", "600")
        wait_for(lambda: len(dp.state()["miners"]) >= a.miners,
                 timeout=120, interval=1, what="%d miners" % a.miners)
        full_ms = getstate_ms()

        def status():
            with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/status"
                                        % cp.http, timeout=5) as r:
                return json.loads(r.read())

        wait_for(lambda: status().get("dataplane_connected"), timeout=30)
        before = len(dp.log_events("miner_disconnected"))
        cp.proc.signal(signal.SIGKILL)
        cp.proc.popen.wait(timeout=5)
        t0 = time.monotonic()
        cp.start("controlplane-again")
        wait_for(lambda: (lambda s: s.get("dataplane_connected") and
                          len(s.get("miners", [])) >= a.miners)(status()),
                 timeout=60, interval=0.05, what="controlplane back")
        restart_s = time.monotonic() - t0
        time.sleep(3)
        dropped = len(dp.log_events("miner_disconnected")) - before
        lg.stop()
    finally:
        env.stop()
        _stop_all()
    print("| miners | GetState empty ms | GetState N miners ms | ratio | "
          "controlplane restart s | miners dropped |")
    print("|---:|---:|---:|---:|---:|---:|")
    print("| %d | %.1f | %.1f | %.1f | %.2f | %d |" % (
        a.miners, base_ms, full_ms, full_ms / base_ms, restart_s, dropped))


if __name__ == "__main__":
    main()
