#!/usr/bin/env python3
"""Hostile miners against dpmp-dataplane (issue 13): sockets that never
speak, one address opening hundreds of connections, descriptor
exhaustion, guessed resume ids, garbage.  Numbers are small and bounded;
no check depends on tight timing."""

import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpmptest import (HOST, Proc, Runner, StratumClient, binary,  # noqa: E402
                      wait_for, wait_port)
from dpenv import Dataplane, write_config  # noqa: E402

DA = "0.00002"

t = Runner("hostile")


def is_closed(s, timeout=0.2):
    """True when the peer closed (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        return s.recv(4096) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def wait_closed(s, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_closed(s, 0.5):
            return True
    return False


def connect_many(port, n):
    out = []
    for _ in range(n):
        out.append(socket.create_connection((HOST, port), timeout=5))
    return out


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def limit_hits(dp, kind):
    return dp.counter_sum("dpmp_limit_hits_total", limit=kind)


def miner_ids(dp):
    return {m["id"]: m for m in dp.state().get("miners", [])}


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def limit_hits_log(dp, kind):
    return len([e for e in dp.log_events("limit_hit")
                if e.get("limit") == kind])



class LimitedDataplane(Dataplane):
    """A dataplane started under `ulimit -n nofile` (hard and soft)."""

    def __init__(self, env, pools, nofile, extra=None):
        self.nofile = nofile
        Dataplane.__init__(self, env, pools, extra=extra)

    def start(self, name="dataplane"):
        argv = ["/bin/sh", "-c", 'ulimit -n %d && exec "$0" "$@"'
                % self.nofile, binary("dpmp-dataplane"), "-c", self.path]
        self.proc = Proc(name, argv, self.env.dir)
        self.env.procs.append(self.proc)
        wait_port(self.port, proc=self.proc)


@t.check("garbage and an over-long line: every error answered, then closed")
def _(env):
    a, pa = env.simpool("--name", "A", "--difficulty", DA)
    dp = Dataplane(env, {"A": pa}, extra={"limits": {"max_line": 1024}})
    # eleven bad lines in one write: ten answers (the tenth is the reset),
    # all of them before the close
    c = StratumClient(dp.port)
    c.send_raw(b"\x01garbage\n" * 11)
    answers = []
    while True:
        line = c.read_line(timeout=10)
        if line is None:
            break
        answers.append(line)
    assert len(answers) == 10, "%d answers before the close" % len(answers)
    for line in answers:
        assert b'"error":[20,' in line, line
    # a line over max_line: one error line that says so, then the close
    h = StratumClient(dp.port)
    h.send_raw(b'{"id":1,"method":"' + b"x" * 4000)
    line = h.read_line(timeout=10)
    assert line is not None and b"Line too long" in line, line
    assert h.read_line(timeout=10) is None, "over-long line must close"
    assert limit_hits(dp, "line_length") == 1
    assert limit_hits(dp, "garbage") == 1


@t.check("limits.handshake_timeout_seconds closes silent connections")
def _(env):
    a, pa = env.simpool("--name", "A", "--difficulty", DA)
    dp = Dataplane(env, {"A": pa},
                   extra={"limits": {"handshake_timeout_seconds": 2}})
    silent = socket.create_connection((HOST, dp.port), timeout=5)
    half = StratumClient(dp.port)
    half.call("mining.subscribe", ["hostile/1"])
    good = StratumClient(dp.port)
    good.call("mining.subscribe", ["good/1"])
    assert good.call("mining.authorize", ["w.good", "x"])["result"] is True
    assert wait_closed(silent), "silent connection never closed"
    assert wait_closed(half.sock), "subscribed-only connection never closed"
    assert not is_closed(good.sock, 0.5), "an authorized miner was closed"
    assert limit_hits(dp, "handshake_timeout") == 2
    ev = [e for e in dp.log_events("miner_disconnected")
          if "in time" in e.get("reason", "")]
    assert len(ev) == 2, ev


@t.check("limits.max_per_address refuses the connections past the cap")
def _(env):
    a, pa = env.simpool("--name", "A", "--difficulty", DA)
    dp = Dataplane(env, {"A": pa}, extra={"limits": {"max_per_address": 20}})
    first = [e["address"] for e in dp.log_events("miner_disconnected")]
    first = first[0] if first else ""   # wait_port's probe
    socks = connect_many(dp.port, 25)
    try:
        # the dataplane takes them in order: the last five are refused
        wait_for(lambda: limit_hits(dp, "per_address") == 5, timeout=10,
                 what="5 refused")
        closed = [i for i, s in enumerate(socks) if is_closed(s, 0.1)]
        assert closed == [20, 21, 22, 23, 24], closed
        # a place freed is a place to take
        socks[0].close()
        wait_for(lambda: [e for e in dp.log_events("miner_disconnected")
                          if e.get("reason") == "closed by miner"
                          and e["address"] != first], timeout=5,
                 what="the freed place")
        again = socket.create_connection((HOST, dp.port), timeout=5)
        socks.append(again)
        assert not is_closed(again, 1.0), "refused after a place was freed"
        assert limit_hits(dp, "per_address") == 5
    finally:
        close_all(socks)


@t.check("ghosts in the reconnect grace count against limits.max_miners")
def _(env):
    a, pa = env.simpool("--name", "A", "--difficulty", DA)
    dp = Dataplane(env, {"A": pa}, extra={"limits": {"max_miners": 5}})
    for i in range(5):
        c = StratumClient(dp.port)
        c.call("mining.subscribe", ["g/1"])
        assert c.call("mining.authorize",
                      ["w.ghost%d" % i, "x"])["result"] is True
        c.close()
    wait_for(lambda: len([e for e in dp.log_events("miner_disconnected")
                          if e.get("worker", "").startswith("ghost")]) == 5,
             timeout=10, what="5 disconnects")
    extra = socket.create_connection((HOST, dp.port), timeout=5)
    assert wait_closed(extra, 5), "a 6th place while 5 ghosts hold theirs"
    assert limit_hits(dp, "max_miners") >= 1
    # a ghost's own worker still comes back (by name) once a place frees:
    # nothing else changed in the resume rules
    assert len(miner_ids(dp)) == 5


@t.check("descriptor budget: start warning, refusals keep a reserve, "
         "IPC keeps answering")
def _(env):
    a, pa = env.simpool("--name", "A", "--difficulty", DA)
    dp = LimitedDataplane(env, {"A": pa}, 200,
                          extra={"limits": {"max_miners": 1000,
                                            "max_per_address": 0}})
    warn = dp.log_events("nofile_limit")
    assert warn and warn[0]["needed"] > 200 and warn[0]["limit"] == 200, \
        warn
    socks = []
    try:
        socks = connect_many(dp.port, 190)
        wait_for(lambda: limit_hits(dp, "descriptors") > 0, timeout=10,
                 what="descriptor refusals")
        # the IPC listener still has descriptors to answer with
        st = dp.state()
        assert st["pools"][0]["key"] == "A", st
        assert not dp.log_events("accept_failed")
        assert dp.proc.alive()
    finally:
        close_all(socks)
    time.sleep(1.5)
    c = StratumClient(dp.port)
    assert isinstance(c.call("mining.subscribe", ["after/1"])["result"], list)


@t.check("EMFILE on accept: the listener rests instead of spinning")
def _(env):
    a, pa = env.simpool("--name", "A", "--difficulty", DA)
    dp = Dataplane(env, {"A": pa}, extra={"limits": {"max_per_address": 0}})
    pid = dp.proc.popen.pid
    nfd = len(os.listdir("/proc/%d/fd" % pid))
    # descriptors run out under it, where no budget could see it coming
    hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (nfd + 10, hard))
    socks = []
    try:
        socks = connect_many(dp.port, 30)   # the backlog holds the rest
        wait_for(lambda: dp.log_events("accept_paused"), timeout=10,
                 what="accept_paused")
        t0 = time.monotonic()
        cpu0 = proc_cpu(pid)
        time.sleep(3)
        cpu = proc_cpu(pid) - cpu0
        dt = time.monotonic() - t0
        assert not dp.log_events("accept_failed"), "accept_failed logged"
        paused = len(dp.log_events("accept_paused"))
        # about one pause a second, not one log line per failed accept
        assert paused <= dt + 3, paused
        assert limit_hits_log(dp, "descriptors") == paused
        assert cpu < dt * 0.5, "%.2fs CPU in %.2fs" % (cpu, dt)
    finally:
        close_all(socks)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (hard, hard))
    # the listener came back by itself
    time.sleep(1.5)
    c = StratumClient(dp.port)
    assert isinstance(c.call("mining.subscribe", ["after/1"])["result"], list)
    assert dp.log_events("accept_resumed")


@t.check("resume ids cannot be guessed and are bound to the worker")
def _(env):
    a, pa = env.simpool("--name", "A", "--difficulty", DA)
    dp = Dataplane(env, {"A": pa})
    v = StratumClient(dp.port)
    token = v.call("mining.subscribe", ["victim/1"])["result"][0][0][1]
    assert v.call("mining.authorize", ["w.victim", "x"])["result"] is True
    victim = [m for m in miner_ids(dp).values() if m["worker"] == "victim"]
    assert len(victim) == 1, miner_ids(dp)
    vid = victim[0]["id"]
    assert token != "%016x" % vid, "the token is the miner number"
    assert len(token) >= 16 and int(token, 16) >= 0, token
    v.close()
    wait_for(lambda: [e for e in dp.log_events("miner_disconnected")
                      if e.get("worker") == "victim"], timeout=5,
             what="victim gone")

    def attack(sess, user):
        c = StratumClient(dp.port)
        c.call("mining.subscribe", ["thief/1", sess])
        assert c.call("mining.authorize", [user, "x"])["result"] is True
        time.sleep(0.3)
        return c

    # the old miner-number id, then the real token with another worker
    thieves = [attack("%016x" % vid, "w.thief1"),
               attack(token, "w.thief2")]
    ms = miner_ids(dp)
    assert vid in ms and ms[vid]["worker"] == "victim", \
        "the victim's session was taken over: %s" % ms
    assert len(ms) == 3, ms
    assert not dp.log_events("miner_resumed"), dp.log_events("miner_resumed")
    assert dp.log_events("miner_resume_refused")
    for c in thieves:
        c.close()
    # the owner with its token gets its session back
    o = StratumClient(dp.port)
    r = o.call("mining.subscribe", ["victim/1", token])["result"]
    assert r[0][0][1] != token, "a resumed session gets a fresh token"
    assert o.call("mining.authorize", ["w.victim", "x"])["result"] is True
    res = dp.log_events("miner_resumed")
    assert len(res) == 1 and res[0]["miner"] == vid, res
    assert vid in miner_ids(dp)


t.done()
