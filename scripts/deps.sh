#!/usr/bin/env bash
# Installs the Debian packages Lotus needs to build and test (the list is in README.md, "Install").
# Idempotent and non-interactive; prints what it installs. Must run as root
# (or with sudo available) when something is missing.
set -euo pipefail

PKGS=(
  build-essential pkg-config clang clang-format libclang-rt-dev
  libuv1-dev libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler
  libssl-dev libsqlite3-dev libjansson-dev libsodium-dev libcmocka-dev
  libhttp-parser-dev libwslay-dev libyaml-dev libmaxminddb-dev zlib1g-dev
  python3-grpcio python3-grpc-tools python3-protobuf
  libmaxmind-db-writer-perl nghttp2-client sqlite3 openssl curl
  chromium fonts-wqy-microhei
  prometheus-node-exporter wrk nginx-light
  libsnappy-dev libcurl4-openssl-dev prometheus
)
# The web UI is built with node + npm (web/package-lock.json). Only ask for Debian's packages
# when the commands are absent: a NodeSource "nodejs" already ships npm and conflicts with
# Debian's "npm" package.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps.sh: installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "deps.sh: need root to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# Refresh package lists when they are absent or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
  $SUDO apt-get update -q
fi
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
