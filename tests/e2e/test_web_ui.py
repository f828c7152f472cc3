#!/usr/bin/env python3
"""The web UI served by dpmp-controlplane.  Without a browser: the page and
its assets are served embedded, with a Content-Security-Policy, and the
script never builds markup from data.  With chromium and chromium-driver
installed (Debian packages), a headless browser loads the page against a
live run (simpools, the real dataplane, simminers, one of them named
<img src=x onerror=alert(1)>), sees both pools and the miners, shows the
hostile name as text, shows DPMP's own rejects apart from the pools', keeps
table rows and their buttons as the same elements across refreshes, and
changes the weights through the form."""

import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dpmptest import Proc, Runner, free_port, wait_for, wait_port  # noqa: E402

TOKEN = "ui-token"
EVIL = "<img src=x onerror=alert(1)>"
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def config(env, pa=3334, pb=3333):
    return {
        "listen": {"host": "127.0.0.1", "port": free_port()},
        "metrics": {"enabled": False},
        "http": {"host": "127.0.0.1", "port": free_port(), "token": TOKEN},
        "state_dir": env.path("state"),
        "pools": {
            "A": {"name": "poolA", "host": "127.0.0.1", "port": pa, "wallet": "wa",
                  "password": "secret-a", "chain": "BTC"},
            "B": {"name": "poolB", "host": "127.0.0.1", "port": pb, "wallet": "wb",
                  "chain": "BCH"},
        },
        "scheduler": {"poolA_weight": 70, "poolB_weight": 30, "slice_seconds": 5,
                      "min_switch_seconds": 2, "window_seconds": 60},
        "logging": {"level": "info"},
        # a stopped miner leaves the table within seconds, not a minute
        "limits": {"reconnect_grace_seconds": 2},
    }


def start(env, prog, cfg, name):
    path = env.path(name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return env.start(prog, "-c", path, name=name)


def get(port, path):
    with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
        return r.status, r.headers, r.read().decode()


class WebDriver:
    """Just enough of the W3C WebDriver protocol, over urllib."""

    def __init__(self, env):
        self.port = free_port()
        self.proc = Proc("chromedriver", [CHROMEDRIVER, "--port=%d" % self.port], env.dir)
        env.procs.append(self.proc)
        wait_port(self.port, proc=self.proc)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            # keep prompts open so the test answers them
            "unhandledPromptBehavior": "ignore",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1800"]},
        }}}
        self.sid = self._req("POST", "/session", caps)["sessionId"]

    def _req(self, method, path, body=None):
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path),
                                     data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            err = json.loads(e.read())["value"]
            raise RuntimeError("webdriver %s %s: %s: %s" % (method, path, err.get("error"),
                                                            err.get("message", "")[:200]))

    def s(self, method, path, body=None):
        return self._req(method, "/session/%s%s" % (self.sid, path), body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def alert_text(self):
        try:
            return self.s("GET", "/alert/text")
        except RuntimeError as e:
            if "no such alert" in str(e):
                return None
            raise

    def quit(self):
        try:
            self._req("DELETE", "/session/%s" % self.sid)
        except Exception:
            pass


t = Runner("web_ui")


@t.check("page and assets are embedded, with CSP, and never build markup from data")
def _(env):
    cfg = config(env)
    p = start(env, "dpmp-controlplane", cfg, "controlplane")
    wait_port(cfg["http"]["port"], proc=p)
    st, hdrs, html = get(cfg["http"]["port"], "/")
    assert st == 200 and hdrs["Content-Type"].startswith("text/html")
    csp = hdrs["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp, csp
    assert hdrs["X-Content-Type-Options"] == "nosniff"
    assert '/static/app.js' in html and '/static/style.css' in html
    # no inline script or handlers the CSP would have to allow
    assert "<script>" not in html and "onclick" not in html
    st, hdrs, js = get(cfg["http"]["port"], "/static/app.js")
    assert st == 200 and "javascript" in hdrs["Content-Type"]
    for bad in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert bad not in js, bad
    assert "/api/v1/status" in js and "sessionStorage" in js
    st, hdrs, css = get(cfg["http"]["port"], "/static/style.css")
    assert st == 200 and hdrs["Content-Type"].startswith("text/css")
    assert "@media" in css


@t.check("headless chromium: pools, miners, hostile name as text, weights form")
def _(env):
    if CHROMEDRIVER is None or CHROMIUM is None:
        print("  (skipped: chromium and chromium-driver are not installed)")
        return
    pa, port_a = env.simpool("--name", "A", "--difficulty", "0.0001")
    pb, port_b = env.simpool("--name", "B", "--difficulty", "0.0001")
    cfg = config(env, port_a, port_b)
    os.makedirs(cfg["state_dir"])
    dp = start(env, "dpmp-dataplane", cfg, "dataplane")
    wait_port(cfg["listen"]["port"], proc=dp)
    cp = start(env, "dpmp-controlplane", cfg, "controlplane")
    wait_port(cfg["http"]["port"], proc=cp)
    env.simminer(cfg["listen"]["port"], "--miners", "1", "--rate", "5",
                 "--worker-prefix", EVIL)
    # the farm resends an accepted share now and then: DPMP refuses those
    # itself, the pools refuse nothing
    env.simminer(cfg["listen"]["port"], "--miners", "2", "--rate", "5", "--user", "farm",
                 "--bad-shares", "duplicate", "--bad-every", "2")
    base = "http://127.0.0.1:%d" % cfg["http"]["port"]

    def status():
        return json.loads(get(cfg["http"]["port"], "/api/v1/status")[2])
    wait_for(lambda: status()["dataplane_connected"] and len(status()["miners"]) == 3,
             20, what="three miners in the status")

    wd = WebDriver(env)
    try:
        wd.go(base + "/")
        def worker_names():
            return wd.js("return Array.from(document.querySelectorAll('#miners tbody tr'))"
                         ".map(r => r.cells[0].textContent)")

        def refreshes():
            return int(wd.js("return document.body.dataset.refreshes || '0'"))
        rows = wait_for(lambda: (lambda r: r if len(r) == 3 else None)(worker_names()),
                        20, what="three miner rows")
        assert EVIL + "0" in [r.replace(" (reconnecting)", "") for r in rows], rows
        pools = wd.js("return Array.from(document.querySelectorAll('#pools tbody tr'))"
                      ".map(r => r.cells[0].textContent)")
        assert len(pools) == 2 and pools[0].startswith("A") and pools[1].startswith("B"), pools
        # the name is text: no element was made of it, no script ran
        assert wd.js("return document.querySelectorAll('img').length") == 0
        assert wd.alert_text() is None
        assert wd.js("return document.getElementById('conn').textContent") == "dataplane connected"

        # rejects: one column for DPMP's own, one for the pool's
        for table in ("pools", "miners"):
            heads = wd.js("return Array.from(document.querySelectorAll('#%s thead th'))"
                          ".map(h => h.textContent)" % table)
            assert "Rejected local" in heads and "Rejected by pool" in heads, heads

        def column(table, cls):
            return wd.js("return Array.from(document.querySelectorAll('#%s tbody td.%s'))"
                         ".map(c => c.textContent)" % (table, cls))

        def count(cells):
            return sum(int(c.replace(",", "")) for c in cells if c != "–")
        wait_for(lambda: count(column("pools", "rej-local")) > 0 and
                 count(column("miners", "rej-local")) > 0, 30,
                 what="local rejects on the page")
        assert count(column("pools", "rej-pool")) == 0, column("pools", "rej-pool")
        assert count(column("miners", "rej-pool")) == 0, column("miners", "rej-pool")
        tips = wd.js("return Array.from(document.querySelectorAll('#pools tbody td.rej-local'))"
                     ".map(c => c.title)")
        assert any(t.startswith("duplicate ") for t in tips), tips

        # rows are updated in place: the first miner row, its button and a
        # cell are the same DOM elements two polls later, while a new miner's
        # row comes and goes around them
        key = wd.js("const tr = document.querySelector('#miners tbody tr');"
                    "tr.dpmpMark = 'row'; tr.cells[5].dpmpMark = 'cell';"
                    "tr.querySelector('button').dpmpMark = 'button';"
                    "return tr.dataset.key")
        button = wd.find("#miners tbody tr button")
        n = refreshes()
        late = env.simminer(cfg["listen"]["port"], "--miners", "1", "--rate", "5",
                            "--worker-prefix", "late")
        wait_for(lambda: refreshes() >= n + 2 and len(worker_names()) == 4, 20,
                 what="two refreshes and a fourth miner row")
        marks = wd.js("const tr = document.querySelector('#miners tbody tr');"
                      "return [tr.dataset.key, tr.dpmpMark, tr.cells[5].dpmpMark,"
                      " tr.querySelector('button').dpmpMark]")
        assert marks == [key, "row", "cell", "button"], marks
        # the WebDriver reference taken before the refreshes is not stale
        assert wd.s("GET", "/element/%s/name" % button).lower() == "button"
        assert any(w.startswith("late") for w in worker_names()), worker_names()
        late.stop()
        wait_for(lambda: len(worker_names()) == 3, 20, what="the stopped miner's row removed")
        assert wd.js("return document.querySelector('#miners tbody tr button').dpmpMark") \
            == "button"
        assert wd.js("return document.querySelectorAll('#pools tbody tr').length") == 2

        # weights through the form; the page asks for the token
        for key, v in (("A", "40"), ("B", "60")):
            el = wd.find("#weights-fields input[name='%s']" % key)
            wd.s("POST", "/element/%s/clear" % el)
            wd.s("POST", "/element/%s/value" % el, {"text": v})
        wd.s("POST", "/element/%s/click" % wd.find("#weights-form button[type=submit]"))
        wait_for(lambda: wd.alert_text() is not None, 10, what="token prompt")
        wd.s("POST", "/alert/text", {"text": TOKEN})
        wd.s("POST", "/alert/accept")
        wait_for(lambda: json.loads(get(cfg["http"]["port"], "/api/v1/weights")[2])
                 == {"weights": {"A": 40, "B": 60}}, 10, what="weights applied")
        msg = wait_for(lambda: wd.js("return document.getElementById('weights-msg').textContent"),
                       10, what="confirmation")
        assert "A=40" in msg, msg
        # the token is kept for the tab: a pin needs no second prompt
        wd.s("POST", "/element/%s/click" % button)
        wait_for(lambda: status()["pins"], 10, what="pin")
        assert wd.alert_text() is None
        badge = wait_for(lambda: wd.js(
            "const b = document.querySelector('#miners tbody .badge.pin');"
            "return b ? b.textContent : null"), 10, what="pinned badge")
        assert badge.startswith("pinned "), badge
    finally:
        wd.quit()


t.done()
