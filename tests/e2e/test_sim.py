#!/usr/bin/env python3
"""The simulators checked against each other and against a raw client:
dpmp-simminer sessions mining on dpmp-simpool must agree share for share,
and every deliberately bad share must get the Stratum code a pool gives."""

import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpmptest import Runner, StratumClient, read_json, wait_for  # noqa: E402

# About 43k hashes per share: 3 miners at 4 shares/s need ~0.5 Mh/s, a
# small part of one core even with sanitizers and a busy machine.
DIFF = "0.00001"
RATE = "4"

t = Runner("sim")


def finish(env, pool, miners, timeout=30.0):
    """Wait for the miners to exit on their own, then stop the pool (it
    writes its stats at exit).  Both must exit cleanly."""
    mstats = []
    for m in miners:
        rc = m.wait(timeout)
        assert rc == 0, "%s exited %s" % (m.name, rc)
        mstats.append(read_json(m.stats))
    rc = pool.stop()
    assert rc == 0, "%s exited %s" % (pool.name, rc)
    return read_json(pool.stats), mstats


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)


def assert_agree(p, m):
    """Pool and miner agree on every accepted share and its difficulty."""
    assert m["accepted"] > 0, "no shares accepted"
    assert m["rejected"] == {}, "miner saw rejects %s" % m["rejected"]
    assert p["rejected"] == {}, "pool rejected %s" % p["rejected_by_reason"]
    assert m["unanswered"] == 0, "%d shares unanswered" % m["unanswered"]
    assert m["verify_failed"] == 0
    assert m["submitted"] == m["accepted"], (m["submitted"], m["accepted"])
    assert p["accepted"] == m["accepted"], \
        "pool accepted %d, miners %d" % (p["accepted"], m["accepted"])
    assert close(p["accepted_difficulty"], m["accepted_difficulty"]), \
        (p["accepted_difficulty"], m["accepted_difficulty"])
    for w in m["miners"]:
        pw = p["workers"].get(w["worker"])
        assert pw is not None, "pool never credited %s" % w["worker"]
        assert w["accepted"] > 0, "%s found no share" % w["worker"]
        assert pw["accepted"] == w["accepted"], (w["worker"], pw, w)
        assert close(pw["difficulty"], w["accepted_difficulty"]), (pw, w)


def figures(label, p, m):
    lat = m["latency_ms"]
    print("     %s: %d shares, difficulty sum %.6g, %.2f Mh/s, latency "
          "p50 %.2f ms p99 %.2f ms max %.2f ms" % (
              label, m["accepted"], m["accepted_difficulty"],
              m["hashrate"] / 1e6, lat["p50"], lat["p99"], lat["max"]),
          flush=True)


@t.check("3 miners x 10 s: zero rejects, pool == miners")
def _(env):
    pool, port = env.simpool("--difficulty", DIFF, "--job-interval", "2")
    m = env.simminer(port, "--miners", "3", "--rate", RATE,
                     "--duration", "10", "--quiet")
    p, (ms,) = finish(env, pool, [m])
    assert_agree(p, ms)
    # Paced, not flat out: at most 3 miners x 4/s x 10 s (plus the first
    # share each).  No lower bound beyond "every miner found shares":
    # a loaded machine may hash slower than the rate needs.
    assert ms["accepted"] <= 3 * 4 * 10 + 3, ms["accepted"]
    assert p["connections"] == 3
    figures("plain", p, ms)


@t.check("version rolling: rolled shares accepted, pool == miners")
def _(env):
    pool, port = env.simpool("--difficulty", DIFF, "--version-mask", "1fffe000")
    m = env.simminer(port, "--miners", "3", "--rate", RATE, "--duration", "5",
                     "--version-rolling", "--en2-endian", "--quiet")
    p, (ms,) = finish(env, pool, [m])
    assert_agree(p, ms)
    assert p["version_rolled"] > 0, "no share carried version bits"
    figures("rolling", p, ms)


@t.check("vardiff: each job keeps its difficulty, pool == miners")
def _(env):
    pool, port = env.simpool("--difficulty", "0.00002",
                             "--vardiff", "1.5:0.000006,3:0.000012")
    m = env.simminer(port, "--miners", "3", "--rate", RATE, "--duration", "5",
                     "--quiet")
    p, (ms,) = finish(env, pool, [m])
    assert_agree(p, ms)
    for w in ms["miners"]:
        assert close(w["difficulty"], 0.000012), w
    # A mix of difficulties was credited, not one of them throughout
    # (counted per job difficulty: sums alone can cancel out)
    by = {float(k): v for k, v in p["accepted_by_difficulty"].items()}
    assert len(by) >= 2, by
    assert set(by) <= {0.00002, 0.000006, 0.000012}, by
    assert sum(by.values()) == p["accepted"], by
    assert close(sum(k * v for k, v in by.items()),
                 p["accepted_difficulty"]), by
    figures("vardiff", p, ms)


def shares_by_job(m):
    """The shares a simminer found (--log-level debug), job id -> list of
    (en2, ntime, nonce, vbits) in the order found."""
    out = {}
    for v in m.json_lines("stderr"):
        if v.get("event") == "share_found":
            out.setdefault(v["job"], []).append(
                (v["en2"], v["ntime"], v["nonce"], v["vbits"]))
    return out


@t.check("firmware restart: same work under a new job id, same shares")
def _(env):
    # Vardiff steps to the same difficulty re-send the work in hand under
    # new job ids (clean=false), as a proxy does on a switch back.
    pool, port = env.simpool("--difficulty", DIFF, "--job-interval", "30",
                             "--vardiff", "1:%s,2:%s" % (DIFF, DIFF))
    common = ("--rate", RATE, "--duration", "3", "--version-rolling",
              "--log-level", "debug")
    restart = env.simminer(port, "--firmware", "restart", "--user", "r",
                           *common, name="restart")
    counter = env.simminer(port, "--user", "c", *common, name="counter")
    cgminer = env.simminer(port, "--firmware", "cgminer", "--user", "g",
                           *common, name="cgminer")
    p, (rs, cs, gs) = finish(env, pool, [restart, counter, cgminer])
    out = []
    for m, s, name in ((restart, rs, "restart"), (counter, cs, "counter"),
                       (cgminer, gs, "cgminer")):
        # simpool keeps duplicates per job id (docs/PROTOCOL.md 6.9), so
        # nothing is rejected here; a pool behind a proxy would say 22.
        assert s["firmware"] == name, s["firmware"]
        assert s["rejected"] == {} and s["unanswered"] == 0, s
        jobs = shares_by_job(m)
        assert len(jobs) == 3, (name, sorted(jobs))
        first = [v[0] for v in jobs.values()]
        again = sum(1 for v in list(jobs.values())[1:] if v[0] == first[0])
        out.append("%s: %d of 2 re-sent jobs repeated share 1 (%s %s)" % (
            name, again, first[0][0], first[0][2]))
        if name == "restart":
            # Every job starts over: extranonce2 0, nonce and version
            # roll from the start, so the same shares in the same order.
            assert s["work_restarts"] == 3, s["work_restarts"]
            assert again == 2, jobs
            assert set(v[0] for v in first) == {"0" * 16}, first
        elif name == "counter":
            assert s["work_restarts"] == 0, s["work_restarts"]
            assert len(set(v[0] for v in first)) == 3, first
        else:
            # Only the first, clean notify resets cgminer's counter.
            assert s["work_restarts"] == 1, s["work_restarts"]
            assert [v[0] for v in first] == [
                "0000000000000000", "0100000000000000",
                "0200000000000000"], first
    print("     " + "; ".join(out), flush=True)


@t.check("firmware --job-delay: old job's shares go out under its id")
def _(env):
    # A new block every second (clean_jobs=true): what a slow firmware
    # mines on the old job then is stale (21); one that takes a clean
    # notify at once (cpuminer, ESP-Miner) loses nothing.
    pool, port = env.simpool("--difficulty", DIFF, "--job-interval", "30",
                             "--block-interval", "1")
    common = ("--rate", "8", "--duration", "4", "--job-delay", "0.4",
              "--quiet")
    slow = env.simminer(port, "--user", "slow", *common, name="slow")
    quick = env.simminer(port, "--user", "quick", "--clean-immediate",
                         *common, name="quick")
    p, (ss, qs) = finish(env, pool, [slow, quick])
    assert ss["delayed_shares"] >= 1, ss
    assert set(ss["rejected"]) <= {"21"}, ss["rejected"]
    assert ss["rejected"].get("21", 0) >= ss["delayed_shares"], ss
    assert qs["delayed_shares"] == 0, qs
    assert set(qs["rejected"]) <= {"21"}, qs["rejected"]
    # Only shares already in flight when the block changed can be stale.
    assert qs["rejected"].get("21", 0) < ss["delayed_shares"], (qs, ss)
    print("     slow: %d delayed, %d stale; clean-immediate: %d stale" % (
        ss["delayed_shares"], ss["rejected"].get("21", 0),
        qs["rejected"].get("21", 0)), flush=True)


BAD_KINDS = [("stale", 21), ("duplicate", 22), ("lowdiff", 23),
             ("unauth", 24), ("unsubscribed", 25), ("badhex", 20),
             ("ntime", 20)]


@t.check("bad shares get codes 20..25")
def _(env):
    pool, port = env.simpool("--difficulty", DIFF)
    # ckpool words its rejects instead of numbering them; the codes must
    # come out the same where its texts say (docs/PROTOCOL.md 5).
    ckpool, ckport = env.simpool("--difficulty", DIFF, "--ckpool-style",
                                 name="ckpool")
    runs = []
    for kind, code in BAD_KINDS:
        runs.append((kind, code, env.simminer(
            port, "--rate", RATE, "--duration", "3", "--quiet",
            "--bad-shares", kind, "--user", kind, name="bad-" + kind)))
    for kind, code in [("stale", 21), ("duplicate", 22), ("lowdiff", 23),
                       ("unsubscribed", 25)]:
        runs.append(("ckpool " + kind, code, env.simminer(
            ckport, "--rate", RATE, "--duration", "3", "--quiet",
            "--bad-shares", kind, name="ck-" + kind)))
    p, ms = finish(env, pool, [r[2] for r in runs[:len(BAD_KINDS)]])
    ckp, ckms = finish(env, ckpool, [r[2] for r in runs[len(BAD_KINDS):]])
    seen = []
    for (kind, code, _), m in zip(runs, ms + ckms):
        bad = m["bad"]
        assert bad["submitted"] >= 1, "%s: no bad share sent" % kind
        assert bad["accepted"] == 0, "%s: bad share accepted" % kind
        assert m["rejected"] == {str(code): bad["submitted"]}, \
            "%s: expected %d x%d, got %s" % (kind, code, bad["submitted"],
                                             m["rejected"])
        assert m["good_rejected"] == 0, kind
        # Code 22 answers are counted on their own for firmware tests.
        assert m["duplicates"] == m["rejected"].get("22", 0), (kind, m)
        assert m["good_duplicates"] == 0, kind
        assert m["accepted"] >= 1, "%s: no good share accepted" % kind
        assert m["unanswered"] == 0, kind
        seen.append("%s->%d x%d" % (kind, code, bad["submitted"]))
    # The pool counted the same rejects the miners saw.
    for code in ("20", "21", "22", "23", "24", "25"):
        want = sum(m["rejected"].get(code, 0) for m in ms)
        assert p["rejected"].get(code, 0) == want, (code, p["rejected"], want)
    assert p["accepted"] == sum(m["accepted"] for m in ms)
    print("     " + ", ".join(seen), flush=True)


@t.check("job ids: counter style collides across pools, prefixed does not")
def _(env):
    ids = []
    pools = [env.simpool("--job-ids", "counter", "--job-interval", "0.7",
                         name="counterA"),
             env.simpool("--job-ids", "counter", "--job-interval", "0.7",
                         name="counterB"),
             env.simpool("--name", "Alpha", "--job-interval", "0.7",
                         name="prefixed")]
    clients = []
    for _, port in pools:
        c = StratumClient(port)
        sub = c.call("mining.subscribe", ["test/1"])
        res = sub["result"]
        assert sub["error"] is None and len(res) == 3, sub
        assert len(res[1]) == 8 and res[2] == 8, res   # en1 4 bytes, en2 8
        assert c.call("mining.authorize", ["w.1", "x"])["result"] is True
        clients.append(c)
    for c in clients:
        notes = []
        first = True
        while len(notes) < 3:
            msg = c.read_until(lambda v: v.get("method") in (
                "mining.notify", "mining.set_difficulty"), timeout=5)
            if msg["method"] == "mining.set_difficulty":
                assert first, "set_difficulty after the first notify"
                continue
            assert msg["params"][8] is first, "clean flag %s" % msg["params"]
            first = False
            notes.append(msg["params"][0])
        ids.append(notes)
        c.close()
    assert ids[0] == ["1", "2", "3"], ids
    assert ids[1] == ids[0], ids
    assert ids[2] == ["A-1", "A-2", "A-3"], ids
    print("     ids: %s" % ids, flush=True)


@t.check("simpool answers a raw client with the right codes")
def _(env):
    pool, port = env.simpool("--difficulty", DIFF, "--en2-size", "4")
    c = StratumClient(port)
    r = c.call("mining.bogus", [])
    assert r["error"][0] == 20 and r["result"] is None, r
    c.send_raw("this is not json\n")
    r = c.read_until(lambda v: "error" in v and v.get("id") is None)
    assert r["error"][0] == 20, r
    submit = ["w.1", "x-1", "00000000", "00000000", "00000000"]
    assert c.call("mining.submit", submit)["error"][0] == 24
    assert c.call("mining.authorize", ["w.1", "x"])["result"] is True
    assert c.call("mining.submit", submit)["error"][0] == 25
    assert c.call("mining.authorize", [""])["error"][0] == 20
    c.call("mining.subscribe", [])
    job = c.read_until(lambda v: v.get("method") == "mining.notify")["params"]
    assert c.call("mining.submit", submit)["error"][0] == 21
    short = ["w.1", job[0], "00", job[7], "00000000"]
    assert c.call("mining.submit", short)["error"][0] == 20
    assert c.call("mining.submit", short[:4])["error"][0] == 20
    rolled = ["w.1", job[0], "00000000", job[7], "00000000", "00002000"]
    assert c.call("mining.submit", rolled)["error"][0] == 20   # no configure
    # Still connected and answering after all of that.
    assert c.call("mining.extranonce.subscribe", [])["result"] is True
    c.close()
    assert pool.stop() == 0
    p = read_json(pool.stats)
    assert p["bad_lines"] == 1, p
    # Share rejects only: the bogus method and authorize are not shares.
    assert p["rejected"] == {"20": 3, "21": 1, "24": 1, "25": 1}, p["rejected"]


@t.check("fault injection: drop, garbage, refuse, silent, reconnect, "
         "set_extranonce, reject-every")
def _(env):
    common = ["--rate", RATE, "--duration", "5", "--quiet"]
    drop, dport = env.simpool("--difficulty", DIFF, "--drop-after", "2",
                              name="drop")
    garb, gport = env.simpool("--difficulty", DIFF, "--garbage-every", "0.2",
                              name="garbage")
    refuse, rport = env.simpool("--difficulty", DIFF, "--refuse-for", "1.5",
                                name="refuse")
    silent, sport = env.simpool("--difficulty", DIFF, "--silent-after", "1",
                                name="silent")
    recon, cport = env.simpool("--difficulty", DIFF, "--reconnect-after", "1.5",
                               name="reconnect")
    xn, xport = env.simpool("--difficulty", DIFF,
                            "--set-extranonce-interval", "1", name="xn")
    rej, jport = env.simpool("--difficulty", DIFF, "--reject-every", "3",
                             name="rejecter")
    m_drop = env.simminer(dport, "--miners", "2", *common, name="m-drop")
    m_garb = env.simminer(gport, *common, name="m-garbage")
    m_ref = env.simminer(rport, *common, name="m-refuse")
    m_sil = env.simminer(sport, "--timeout", "1.5", "--drain", "1", *common,
                         name="m-silent")
    m_rec = env.simminer(cport, *common, name="m-reconnect")
    m_xn = env.simminer(xport, "--xnsub", *common, name="m-xn")
    m_rej = env.simminer(jport, *common, name="m-reject")

    # The accepted count when the drop hit: shares must follow it.
    def dropped():
        try:
            s = read_json(m_drop.stats)
        except (OSError, ValueError):
            return None
        return s if s["disconnects"] >= 2 else None
    at_drop = wait_for(dropped, timeout=8, what="the injected drop")["accepted"]

    p, (s,) = finish(env, drop, [m_drop])
    assert s["disconnects"] == 2 and s["reconnects"] == 2, s
    assert p["connections"] == 4, p["connections"]
    assert s["accepted"] > at_drop, (at_drop, s["accepted"])
    assert s["good_rejected"] == 0, s["rejected"]
    out = ["drop: %d disconnects, %d -> %d accepted" % (
        s["disconnects"], at_drop, s["accepted"])]

    p, (s,) = finish(env, garb, [m_garb])
    assert s["bad_lines"] >= 5, s["bad_lines"]
    assert s["disconnects"] == 0 and s["accepted"] >= 1, s
    assert s["rejected"] == {} and s["unanswered"] == 0, s
    out.append("garbage: %d bad lines skipped" % s["bad_lines"])

    p, (s,) = finish(env, refuse, [m_ref])
    assert s["connect_failures"] >= 1 and s["accepted"] >= 1, s
    out.append("refuse: %d failed connects" % s["connect_failures"])

    p, (s,) = finish(env, silent, [m_sil])
    assert s["timeouts"] >= 1 and s["disconnects"] >= 1, s
    out.append("silent: %d timeouts" % s["timeouts"])

    p, (s,) = finish(env, recon, [m_rec])
    assert s["reconnects"] >= 1 and s["good_rejected"] == 0, s
    assert p["connections"] == 2, p["connections"]
    out.append("client.reconnect: %d reconnects" % s["reconnects"])

    p, (s,) = finish(env, xn, [m_xn])
    # Shares in flight when the clean notify lands are stale (21); one
    # mined on a stale extranonce1 would be low difficulty (23).
    assert s["accepted"] >= 1, s
    assert set(s["rejected"]) <= {"21"}, s["rejected"]
    assert p["accepted"] == s["accepted"], (p["accepted"], s["accepted"])
    out.append("set_extranonce: %d accepted, rejects %s" % (
        s["accepted"], s["rejected"]))

    p, (s,) = finish(env, rej, [m_rej])
    n = s["submitted"]
    assert s["rejected"] == {"20": n // 3}, (n, s["rejected"])
    assert s["accepted"] == n - n // 3 == p["accepted"], (n, s, p)
    out.append("reject-every 3: %d of %d rejected" % (n // 3, n))
    print("     " + "; ".join(out), flush=True)


t.done()
