#!/bin/sh
# Validate everything in deploy/ with the tools that are installed:
#   deploy/check.sh [BIN_DIR]       (BIN_DIR: built binaries, default build/bin)
# Debian packages for full coverage: prometheus (promtool), haproxy,
# systemd, python3-yaml.  Missing tools are reported and skipped.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${1:-$root/build/bin}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok()   { printf 'ok    %s\n' "$1"; }
bad()  { printf 'FAIL  %s\n' "$1"; sed 's/^/      /' "$tmp/out"; fail=1; }
skip() { printf 'skip  %s (%s)\n' "$1" "$2"; }
run()  { # name cmd...
	name=$1; shift
	if "$@" >"$tmp/out" 2>&1; then ok "$name"; else bad "$name"; fi
}
have() { command -v "$1" >/dev/null 2>&1; }

# example configs
for cfg in "$here/dpmp.example.json" "$here/docker/dpmp.json"; do
	if [ -x "$bin/dpmp-dataplane" ]; then
		run "dpmp-dataplane --check ${cfg#"$root"/}" \
		    "$bin/dpmp-dataplane" -c "$cfg" --check
		run "dpmp-controlplane --check ${cfg#"$root"/}" \
		    "$bin/dpmp-controlplane" -c "$cfg" --check
	else
		skip "dpmp-dataplane --check ${cfg#"$root"/}" "no $bin/dpmp-dataplane"
	fi
done

# Prometheus
if have promtool; then
	run "promtool check config prometheus/prometheus.yml" \
	    promtool check config "$here/prometheus/prometheus.yml"
	run "promtool check rules prometheus/dpmp.rules.yml" \
	    promtool check rules "$here/prometheus/dpmp.rules.yml"
	run "promtool test rules prometheus/dpmp.rules.test.yml" \
	    sh -c "cd '$here/prometheus' && promtool test rules dpmp.rules.test.yml"
	# the compose Prometheus loads the rules from its own directory
	cp "$here/docker/prometheus.yml" "$here/prometheus/dpmp.rules.yml" "$tmp/"
	run "promtool check config docker/prometheus.yml" \
	    promtool check config "$tmp/prometheus.yml"
else
	skip "promtool checks" "promtool not installed (Debian: prometheus)"
fi

# Grafana dashboard: JSON, metric names, PromQL syntax
if have python3; then
	if have promtool; then p=--promtool; else p=; fi
	run "grafana/dpmp-dashboard.json" \
	    python3 "$here/grafana/check_dashboard.py" $p \
	    "$here/grafana/dpmp-dashboard.json" "$root/common/metrics.h"
	if python3 -c 'import yaml' 2>/dev/null; then
		for y in loki/promtail.yml docker/docker-compose.yml \
		    grafana/provisioning/datasources/prometheus.yml \
		    grafana/provisioning/dashboards/dpmp.yml; do
			run "YAML $y" python3 -c \
			    'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' \
			    "$here/$y"
		done
	else
		skip "YAML syntax" "python3-yaml not installed"
	fi
else
	skip "dashboard and YAML checks" "python3 not installed"
fi

# systemd units: verify a copy whose ExecStart points at BIN_DIR
if have systemd-analyze && [ -x "$bin/dpmp-dataplane" ]; then
	for u in dpmp-dataplane dpmp-controlplane; do
		sed "s|/usr/local/bin/|$bin/|g" "$here/systemd/$u.service" \
		    >"$tmp/$u.service"
	done
	run "systemd-analyze verify systemd/*.service" \
	    systemd-analyze verify "$tmp/dpmp-dataplane.service" \
	    "$tmp/dpmp-controlplane.service"
	run "systemd-sysusers --dry-run systemd/dpmp.sysusers.conf" \
	    systemd-sysusers --dry-run "$here/systemd/dpmp.sysusers.conf"
else
	skip "systemd units" "systemd-analyze or binaries missing"
fi

# HAProxy (-dr: the shard names only resolve inside Docker)
if have haproxy; then
	run "haproxy -c docker/haproxy.cfg" \
	    haproxy -c -dr -f "$here/docker/haproxy.cfg"
else
	skip "haproxy -c" "haproxy not installed"
fi

exit $fail
