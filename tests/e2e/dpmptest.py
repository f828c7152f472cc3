"""dpmptest: the small harness every DPMP black-box test uses (stdlib only).

It starts the real binaries from $DPMP_BIN (default ./build/bin under the
working directory) with their output in a per-test temporary directory,
waits for their ports, stops every process it started when the test ends
(even on failure or a signal), reads the JSON stats files they write, and
speaks raw Stratum for black-box checks.

    from dpmptest import Runner, Env, StratumClient

    t = Runner("sim")
    @t.check("pool answers")
    def _(env):
        pool, port = env.simpool("--difficulty", "0.001")
        c = StratumClient(port)
        ...
    t.done()          # prints "N passed, N failed", exits non-zero on failure

Each check gets a fresh Env; its processes are stopped when the check ends.
Set DPMP_KEEP=1 to keep the temporary directories (they are always kept,
and named, when a check fails).
"""

import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HOST = "127.0.0.1"

_live = []          # every Proc not yet stopped, for the exit handler


def bin_dir():
    """Directory holding the dpmp-* binaries."""
    return os.path.abspath(os.environ.get("DPMP_BIN",
                                          os.path.join(os.getcwd(), "build", "bin")))


def binary(name):
    path = os.path.join(bin_dir(), name)
    if not os.access(path, os.X_OK):
        raise FileNotFoundError("%s not built (DPMP_BIN=%s)" % (name, bin_dir()))
    return path


def free_port(host=HOST):
    """A TCP port that was free a moment ago (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port, host=HOST, timeout=10.0, proc=None):
    """Wait until host:port accepts a connection; fail early if proc died."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and not proc.alive():
            raise RuntimeError("%s exited (rc %s) before port %d opened\n%s"
                               % (proc.name, proc.returncode(), port, proc.tail()))
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError("port %d not accepting after %.1fs" % (port, timeout))
            time.sleep(0.02)


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    """Poll pred() until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def read_json(path, timeout=0.0):
    """Load a JSON file; with a timeout, wait for it to appear.  Writers
    replace the file atomically (tmp + rename), so a read never sees half."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                return json.load(f)
        except (FileNotFoundError, json.JSONDecodeError):
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def _die_with_parent():
    # If the test runner is killed (ctest timeout), children go too.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except Exception:
        pass


class Proc:
    """A started binary: its Popen, its log files, and a clean stop."""

    def __init__(self, name, argv, logdir, env=None):
        self.name = name
        self.argv = argv
        self.stdout_path = os.path.join(logdir, name + ".out")
        self.stderr_path = os.path.join(logdir, name + ".err")
        self._out = open(self.stdout_path, "wb")
        self._err = open(self.stderr_path, "wb")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                      stdout=self._out, stderr=self._err,
                                      env=full_env, preexec_fn=_die_with_parent)
        _live.append(self)

    def alive(self):
        return self.popen.poll() is None

    def returncode(self):
        return self.popen.poll()

    def wait(self, timeout=30.0):
        """Wait for a normal exit; returns the exit code."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError("%s still running after %.1fs" % (self.name, timeout))
        finally:
            if not self.alive():
                self._close()

    def signal(self, sig):
        if self.alive():
            self.popen.send_signal(sig)

    def stop(self, timeout=5.0):
        """SIGTERM, then SIGKILL after timeout.  Returns the exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._close()
        return self.popen.returncode

    def _close(self):
        for f in (self._out, self._err):
            if not f.closed:
                f.close()
        if self in _live:
            _live.remove(self)

    def stdout(self):
        with open(self.stdout_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def json_lines(self, which="stdout"):
        """Every line of stdout (or stderr) that parses as a JSON object."""
        text = self.stdout() if which == "stdout" else self.stderr()
        out = []
        for line in text.splitlines():
            try:
                v = json.loads(line)
            except ValueError:
                continue
            if isinstance(v, dict):
                out.append(v)
        return out

    def wait_json_line(self, pred, which="stdout", timeout=10.0):
        """First JSON line satisfying pred (a dict -> bool)."""
        def find():
            for v in self.json_lines(which):
                if pred(v):
                    return v
            if not self.alive():
                raise RuntimeError("%s exited (rc %s)\n%s"
                                   % (self.name, self.returncode(), self.tail()))
            return None
        return wait_for(find, timeout, what="%s output" % self.name)

    def tail(self, n=20):
        lines = []
        for path in (self.stdout_path, self.stderr_path):
            try:
                with open(path, "rb") as f:
                    lines += f.read().decode("utf-8", "replace").splitlines()[-n:]
            except OSError:
                pass
        return "\n".join("    " + l for l in lines)


def _stop_all():
    for p in list(_live):
        try:
            p.stop(timeout=3.0)
        except Exception:
            pass


atexit.register(_stop_all)


def _on_signal(sig, frame):
    _stop_all()
    sys.exit(128 + sig)


for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


class Env:
    """One check's world: a temp directory and the processes it started."""

    def __init__(self, name):
        safe = "".join(c if c.isalnum() else "-" for c in name)[:40]
        self.dir = tempfile.mkdtemp(prefix="dpmp-%s-" % safe)
        self.procs = []
        self._n = {}

    def path(self, name):
        return os.path.join(self.dir, name)

    def _unique(self, name):
        k = self._n.get(name, 0)
        self._n[name] = k + 1
        return name if k == 0 else "%s%d" % (name, k)

    def start(self, prog, *args, name=None, env=None):
        """Start bin_dir()/prog with args; logs go to <dir>/<name>.out/.err."""
        name = self._unique(name or prog)
        argv = [binary(prog)] + [str(a) for a in args]
        p = Proc(name, argv, self.dir, env)
        self.procs.append(p)
        return p

    def simpool(self, *args, name="simpool", stats=True):
        """Start dpmp-simpool on a port of its choosing.  Returns (proc,
        port); with stats, proc.stats is the path of its stats file."""
        name = self._unique(name)
        extra = []
        stats_path = None
        if stats:
            stats_path = self.path(name + ".json")
            extra = ["--stats", stats_path]
        p = Proc(name, [binary("dpmp-simpool"), "--port", "0"] + extra
                 + [str(a) for a in args], self.dir)
        self.procs.append(p)
        p.stats = stats_path
        line = p.wait_json_line(lambda v: v.get("event") == "listening")
        return p, int(line["port"])

    def simminer(self, port, *args, name="simminer", stats=True):
        """Start dpmp-simminer against port.  proc.stats is its stats file."""
        name = self._unique(name)
        extra = []
        stats_path = None
        if stats:
            stats_path = self.path(name + ".json")
            extra = ["--stats", stats_path]
        p = Proc(name, [binary("dpmp-simminer"), "--port", str(port)] + extra
                 + [str(a) for a in args], self.dir)
        self.procs.append(p)
        p.stats = stats_path
        return p

    def stop(self):
        for p in self.procs:
            p.stop()

    def cleanup(self, keep=False):
        self.stop()
        if keep or os.environ.get("DPMP_KEEP"):
            return
        shutil.rmtree(self.dir, ignore_errors=True)


class StratumClient:
    """A line-oriented Stratum v1 client for black-box checks."""

    def __init__(self, port, host=HOST, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.next_id = 1
        self.seen = []          # messages read past while waiting for another
        self.eof = False

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send(self, obj):
        self.send_raw(json.dumps(obj, separators=(",", ":")) + "\n")

    def request(self, method, params=None):
        """Send a request; returns its id."""
        rid = self.next_id
        self.next_id += 1
        self.send({"id": rid, "method": method, "params": params or []})
        return rid

    def read_line(self, timeout=5.0):
        """One line (bytes, without the newline); None at EOF."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no line within %.1fs" % timeout)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no line within %.1fs" % timeout)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.eof = True
                if not self.buf:
                    return None
                line, self.buf = self.buf, b""
                return line
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def read_msg(self, timeout=5.0):
        """Next JSON message (dict); None at EOF.  Raises on non-JSON."""
        line = self.read_line(timeout)
        if line is None:
            return None
        return json.loads(line)

    def read_until(self, pred, timeout=5.0):
        """Read until a message satisfies pred; others go to self.seen."""
        deadline = time.monotonic() + timeout
        for i, m in enumerate(self.seen):
            if pred(m):
                return self.seen.pop(i)
        while True:
            m = self.read_msg(max(0.0, deadline - time.monotonic()))
            if m is None:
                raise EOFError("connection closed while waiting")
            if pred(m):
                return m
            self.seen.append(m)

    def response(self, rid, timeout=5.0):
        return self.read_until(lambda m: m.get("id") == rid and "method" not in m,
                               timeout)

    def call(self, method, params=None, timeout=5.0):
        return self.response(self.request(method, params), timeout)

    def notifications(self, method):
        """Notifications of this method seen so far (removed from seen)."""
        out = [m for m in self.seen if m.get("method") == method]
        self.seen = [m for m in self.seen if m.get("method") != method]
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Runner:
    """Runs named checks in order and prints one summary line."""

    def __init__(self, suite):
        self.suite = suite
        self.passed = 0
        self.failed = []
        self.only = os.environ.get("DPMP_ONLY")   # substring filter
        self.t0 = time.monotonic()

    def check(self, name):
        """Decorator: run fn(env) now as the check called name."""
        def deco(fn):
            self.run(name, fn)
            return fn
        return deco

    def run(self, name, fn):
        if self.only and self.only not in name:
            return
        env = Env(self.suite + "-" + name)
        t = time.monotonic()
        ok = False
        try:
            fn(env)
            ok = True
        except Exception:
            tb = traceback.format_exc()
        finally:
            env.stop()
        dt = time.monotonic() - t
        if ok:
            self.passed += 1
            print("ok   %s (%.1fs)" % (name, dt), flush=True)
            env.cleanup()
        else:
            self.failed.append(name)
            print("FAIL %s (%.1fs)\n%s" % (name, dt, tb), flush=True)
            for p in env.procs:
                print("  --- %s: %s\n%s" % (p.name, " ".join(p.argv), p.tail()),
                      flush=True)
            print("  logs kept in %s" % env.dir, flush=True)
            env.cleanup(keep=True)

    def done(self):
        _stop_all()
        print("%s: %d passed, %d failed (%.1fs)%s" % (
            self.suite, self.passed, len(self.failed), time.monotonic() - self.t0,
            "" if not self.failed else ": " + ", ".join(self.failed)))
        print("%d passed, %d failed" % (self.passed, len(self.failed)), flush=True)
        sys.exit(1 if self.failed else 0)
