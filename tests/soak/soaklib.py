"""soaklib: what the soak and flood scripts under tests/soak/ share.

They drive the real binaries through the e2e harness (tests/e2e/dpmptest.py
and dpenv.py) for minutes, not seconds, so they are not part of ctest's
run; docs/BENCHMARKS.md ("Soak and flood") says how to run them.  All
traffic goes to 127.0.0.1, every loop is bounded in count and time, and
every process started is stopped on exit (dpmptest's exit handler, also on
SIGTERM and SIGHUP; Ctrl-C unwinds through the scripts' finally)."""

import argparse
import json
import os
import platform
import sys
import threading
import time

# Every upstream session keeps up to limits.jobs_kept jobs (64 by default)
# and the simpools send one every 30 s by default: with those, a session's
# job table fills for 32 minutes and the RSS of a short run climbs by the
# jobs arriving (about 2 KiB each, estimated from the first runs), which
# says nothing about a leak.
# The scripts run the pools at a job every 2 s and keep 8 jobs, so the
# tables are full after 16 s, well inside the first half of any run.
WARMUP = "jobs_kept 8, a job every 2 s"

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))


def parse(doc, add=None):
    """--minutes and --bin for every script; add(ap) adds its own."""
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0,
                    help="how long to run (10)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"),
                    help="directory of the dpmp binaries (build/bin)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory with the logs")
    if add:
        add(ap)
    a = ap.parse_args()
    if not 0 < a.minutes <= 24 * 60:
        ap.error("--minutes must be in (0, 1440]")
    os.environ["DPMP_BIN"] = os.path.abspath(a.bin)
    return a


def rss_kb(pid):
    """VmRSS of pid in KiB, None once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class RssSampler:
    """Samples the RSS of named processes every interval seconds in a
    thread.  pids maps a name to a function returning the current pid, so
    a process that is restarted is followed."""

    def __init__(self, pids, interval=2.0):
        self.pids = pids
        self.interval = interval
        self.samples = {name: [] for name in pids}   # [(seconds, KiB)]
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            now = time.monotonic() - self._t0
            for name, pidf in self.pids.items():
                try:
                    kb = rss_kb(pidf())
                except Exception:
                    kb = None
                if kb is not None:
                    self.samples[name].append((now, kb))
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def summary(self, name):
        s = self.samples[name]
        if not s:
            return {"samples": 0}
        return {"samples": len(s), "start_kib": s[0][1], "end_kib": s[-1][1],
                "max_kib": max(kb for _, kb in s),
                "slope_kib_per_min": slope_second_half(s)}


def slope_second_half(samples):
    """Least-squares slope of KiB against time over the second half of the
    samples, in KiB per minute: the first half holds the warm-up (pools,
    buffers, allocator arenas reaching their working size)."""
    half = samples[len(samples) // 2:]
    if len(half) < 2:
        return None
    n = len(half)
    mx = sum(t for t, _ in half) / n
    my = sum(kb for _, kb in half) / n
    sxx = sum((t - mx) ** 2 for t, _ in half)
    if sxx == 0:
        return None
    sxy = sum((t - mx) * (kb - my) for t, kb in half)
    return round(sxy / sxx * 60.0, 1)


def machine():
    """One line saying where a result was measured."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%s, %d cores, Linux %s" % (cpu, os.cpu_count() or 0,
                                       platform.release())


def report(name, minutes, result, ok, problems):
    """Human lines, then the whole result as one JSON line; exit code."""
    print()
    print("== %s: %s" % (name, "PASS" if ok else "FAIL"))
    print("date     %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print("machine  %s" % machine())
    print("run      %.1f min (--minutes %g)" % (result.get("elapsed_s", 0) / 60.0,
                                                minutes))
    for k, v in result.items():
        if k != "elapsed_s":
            print("%-24s %s" % (k, json.dumps(v)))
    for p in problems:
        print("problem: %s" % p)
    print(json.dumps({"soak": name, "ok": ok, "minutes": minutes,
                      "result": result, "problems": problems}))
    return 0 if ok else 1
