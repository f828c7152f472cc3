#!/usr/bin/env bash
# DPMP demo: two simulated pools, the dataplane, the controlplane at 70:30
# and a few simulated miners, all on localhost with free ports.  Prints
# where the web UI and metrics are, then a status line every few seconds.
# Ctrl-C stops everything.
#
#   scripts/demo.sh                  simulated pools and miners
#   scripts/demo.sh --config FILE    your own config (real pools); no
#                                    simulated miners: point yours at it
#   scripts/demo.sh --miners N       number of simulated miners (3)
#   scripts/demo.sh --duration S     stop by itself after S seconds
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

config=""
miners=3
duration=0
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$(readlink -f "$2"); shift 2 ;;
    --miners) miners=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "demo: unknown option $1" >&2; exit 2 ;;
  esac
done

DPMP_DEPS_EXTRA=0 scripts/deps.sh
if [ ! -x build/bin/dpmp-controlplane ] || [ ! -x build/bin/dpmp-simminer ] ||
   [ -n "$(find CMakeLists.txt common dataplane controlplane proto cli tests/sim \
           -newer build/bin/dpmp-dataplane -type f 2>/dev/null | head -1)" ]; then
  echo "demo: building..." >&2
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build -j"$(nproc)" >/dev/null
fi
bin=$top/build/bin

run=$(mktemp -d /tmp/dpmp-demo.XXXXXX)
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo: logs kept in $run"
}
trap cleanup INT TERM EXIT

freeport() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

if [ -z "$config" ]; then
  pa=$(freeport); pb=$(freeport)
  # A: difficulty 0.00002, prefixed job ids; B: 0.00004, plain counter ids
  # (so ids collide with any other counter pool), smaller extranonce2
  "$bin/dpmp-simpool" --port "$pa" --name A --difficulty 0.00002 \
      --job-interval 10 --block-interval 60 --stats "$run/poolA.json" \
      >"$run/poolA.out" 2>"$run/poolA.log" & pids+=($!)
  "$bin/dpmp-simpool" --port "$pb" --name B --difficulty 0.00004 \
      --job-ids counter --en2-size 4 --job-interval 7 \
      --stats "$run/poolB.json" >"$run/poolB.out" 2>"$run/poolB.log" & pids+=($!)
  listen=$(freeport); metrics=$(freeport); http=$(freeport)
  config=$run/dpmp.json
  cat >"$config" <<EOF
{
  "listen":  {"host": "127.0.0.1", "port": $listen},
  "metrics": {"enabled": true, "host": "127.0.0.1", "port": $metrics},
  "http":    {"host": "127.0.0.1", "port": $http, "token": "demo"},
  "pools": {
    "A": {"name": "sim-ocean", "host": "127.0.0.1", "port": $pa,
          "wallet": "bc1qdemoaaaa", "chain": "BTC"},
    "B": {"name": "sim-bch", "host": "127.0.0.1", "port": $pb,
          "wallet": "qqdemobbbb", "chain": "BCH"}
  },
  "scheduler": {"mode": "ratio", "poolA_weight": 70, "poolB_weight": 30,
                "slice_seconds": 10, "min_switch_seconds": 5,
                "window_seconds": 120},
  "state_dir": "$run/state",
  "logging": {"json": true, "level": "info"}
}
EOF
  simulate=1
else
  simulate=0
fi

eval "$(python3 - "$config" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
g = lambda d, k, dflt: (c.get(d) or {}).get(k, dflt)
print("listen=%s" % g("listen", "port", 3351))
print("lhost=%s" % g("listen", "host", "0.0.0.0"))
print("metrics=%s" % g("metrics", "port", 9210))
print("mhost=%s" % g("metrics", "host", "127.0.0.1"))
print("http=%s" % g("http", "port", 8855))
print("hhost=%s" % g("http", "host", "127.0.0.1"))
print("token=%s" % g("http", "token", ""))
EOF
)"
mkdir -p "$run/state"
"$bin/dpmp-dataplane" -c "$config" 2>"$run/dataplane.log" & pids+=($!)
"$bin/dpmp-controlplane" -c "$config" 2>"$run/controlplane.log" & pids+=($!)

python3 - "$listen" <<'EOF'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        break
    except OSError:
        time.sleep(0.1)
EOF
if [ "$simulate" = 1 ]; then
  sleep 1
  "$bin/dpmp-simminer" --port "$listen" --miners "$miners" --rate 3 \
      --user bc1qminer --stats "$run/miners.json" --quiet \
      >"$run/miners.out" 2>"$run/miners.log" & pids+=($!)
fi

cat <<EOF

  DPMP demo is running (logs in $run)
    miners connect to   stratum+tcp://$lhost:$listen
    web UI              http://$hhost:$http/
    Prometheus metrics  http://$mhost:$metrics/metrics
    JSON API            http://$hhost:$http/api/v1/status
    try                 $bin/dpmpctl -c $config status
                        $bin/dpmpctl -c $config weights set A=30 B=70
  Ctrl-C stops everything.

EOF

start=$(date +%s)
while :; do
  sleep 5
  python3 - "$hhost" "$http" <<'EOF' || echo "status: controlplane not answering yet"
import json, sys, urllib.request
s = json.load(urllib.request.urlopen("http://%s:%s/api/v1/status" % (sys.argv[1], sys.argv[2]), timeout=2))
parts, tot_acc, tot_rej = [], 0, 0
for p in s.get("pools", []):
    st = p.get("state", {})
    acc, rej = int(p.get("accepted", 0)), int(p.get("rejected", 0))
    tot_acc += acc; tot_rej += rej
    parts.append("%s %s acc=%d split=%.1f%% (target %.0f%%)" % (
        st.get("key", "?"), "up" if st.get("up") else "DOWN", acc,
        100 * p.get("actual_share", 0), 100 * p.get("target_share", 0)))
print("status: %s | switches=%s rejects=%d miners=%d" % (
    " | ".join(parts), s.get("switches", 0), tot_rej, len(s.get("miners", []))))
EOF
  if [ "$duration" != 0 ] && [ $(( $(date +%s) - start )) -ge "$duration" ]; then
    break
  fi
done
