#!/usr/bin/env bash
# Installs the Debian packages DPMP needs to build and test, only those that
# are missing. Safe to run again: does nothing when everything is present.
set -euo pipefail

pkgs=(build-essential cmake pkg-config
      libevent-dev libnng-dev libprotobuf-c-dev protobuf-c-compiler
      libjansson-dev libmicrohttpd-dev check libssl-dev
      python3 curl)
# Optional extras for the full test run (promtool, headless browser).
if [ "${DPMP_DEPS_EXTRA:-1}" = 1 ]; then
  pkgs+=(prometheus chromium chromium-driver)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
