#!/usr/bin/env python3
"""Check deploy/grafana/dpmp-dashboard.json.

- well-formed JSON with the fields Grafana needs (schemaVersion, uid,
  unique panel ids, a Prometheus datasource variable);
- every dpmp_* name in every expr is a family in common/metrics.h
  (histograms also as _bucket/_sum/_count);
- with --promtool, every expr (Grafana variables substituted) parses as
  PromQL: they are written into a temporary rule file for
  `promtool check rules`.

usage: check_dashboard.py [--promtool] [DASHBOARD] [METRICS_H]
"""
import json
import os
import re
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
args = [a for a in sys.argv[1:] if not a.startswith("--")]
use_promtool = "--promtool" in sys.argv
dash_path = args[0] if args else os.path.join(here, "dpmp-dashboard.json")
metrics_h = args[1] if len(args) > 1 else os.path.join(root, "common",
                                                         "metrics.h")

with open(metrics_h) as f:
    families = set(re.findall(r'#define\s+M_\w+\s+"(dpmp_\w+)"', f.read()))
known = set(families)
for fam in families:
    known.update({fam + "_bucket", fam + "_sum", fam + "_count"})

with open(dash_path) as f:
    dash = json.load(f)

errors = []
for key in ("schemaVersion", "uid", "title", "panels", "templating"):
    if key not in dash:
        errors.append(f"missing top-level key {key}")
if not 36 <= dash.get("schemaVersion", 0) <= 39:
    errors.append(f"schemaVersion {dash.get('schemaVersion')} not ~38")
variables = {v["name"]: v for v in dash["templating"]["list"]}
ds = variables.get("datasource")
if ds is None or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
    errors.append("no Prometheus datasource variable named 'datasource'")

exprs = []
ids = set()
def walk(panels):
    for p in panels:
        if p["id"] in ids:
            errors.append(f"duplicate panel id {p['id']}")
        ids.add(p["id"])
        if "gridPos" not in p:
            errors.append(f"panel {p['id']} has no gridPos")
        for t in p.get("targets", []):
            exprs.append((p["title"], t["expr"]))
        walk(p.get("panels", []))
walk(dash["panels"])
for v in variables.values():
    q = v.get("definition")
    if q:
        exprs.append((f"variable {v['name']}", q))

for title, expr in exprs:
    for name in re.findall(r"\b(dpmp_[a-z0-9_]+)", expr):
        if name not in known:
            errors.append(f"{title}: unknown metric {name}")

if use_promtool:
    subst = {"$__rate_interval": "1m", "$__range": "1h",
             "$__interval": "1m", "$window": "15m"}
    rules = []
    for i, (title, expr) in enumerate(exprs):
        if expr.startswith("label_values("):
            m = re.match(r"label_values\((.*),\s*\w+\)$", expr)
            expr = m.group(1) if m else expr
        for k, v in subst.items():
            expr = expr.replace(k, v)
        expr = re.sub(r"\$(job|instance|pool)\b", ".*", expr)
        rules.append({"record": f"dashboard:expr:{i}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as tf:
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, tf)
    try:
        r = subprocess.run(["promtool", "check", "rules", tf.name],
                           capture_output=True, text=True)
        if r.returncode != 0:
            errors.append("promtool: " + r.stdout + r.stderr)
    finally:
        os.unlink(tf.name)

if errors:
    for e in errors:
        print(f"{dash_path}: {e}", file=sys.stderr)
    sys.exit(1)
print(f"{dash_path}: ok ({len(ids)} panels, {len(exprs)} queries, "
      f"{len(families)} metric families known)")
