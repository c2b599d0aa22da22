#!/bin/sh
# One-line install of the Lotus agent, as the dashboard will serve it:
#   curl -fsSL http://DASH:8008/static/install-agent.sh | sudo sh -s -- -s DASH:5555 -p SECRET [--tls]
# All arguments are passed to `lotus-agent service install`, which writes
# /etc/systemd/system/lotus-agent.service and runs `systemctl enable --now`.
#
# Where the binary comes from:
#   LOTUS_AGENT_BIN_URL   a local file path, file://PATH, or http(s):// URL of the
#                         lotus-agent binary (required for now; later the dashboard
#                         will serve it and this default will point there)
#   LOTUS_DASHBOARD_URL   if LOTUS_AGENT_BIN_URL is unset: download
#                         $LOTUS_DASHBOARD_URL/static/lotus-agent-linux-<arch>
#   LOTUS_PREFIX          install prefix (default /usr/local; binary in $LOTUS_PREFIX/bin)
#   LOTUS_SYSTEMD_DIR     unit directory (default /etc/systemd/system; any other value
#                         skips systemctl, for tests)
set -eu

die() { echo "install-agent: $*" >&2; exit 1; }

prefix=${LOTUS_PREFIX:-/usr/local}
bin="$prefix/bin/lotus-agent"

if [ -z "${LOTUS_SYSTEMD_DIR:-}" ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (e.g. pipe into 'sudo sh -s -- ...')"
fi

src=${LOTUS_AGENT_BIN_URL:-}
if [ -z "$src" ]; then
    [ -n "${LOTUS_DASHBOARD_URL:-}" ] || die "set LOTUS_AGENT_BIN_URL (file or URL of the lotus-agent binary)"
    case "$(uname -m)" in
        x86_64|amd64) arch=amd64 ;;
        aarch64|arm64) arch=arm64 ;;
        armv7l|armv7*) arch=arm ;;
        *) die "unsupported architecture $(uname -m)" ;;
    esac
    src="${LOTUS_DASHBOARD_URL%/}/static/lotus-agent-linux-$arch"
fi

tmp=$(mktemp "${TMPDIR:-/tmp}/lotus-agent.XXXXXX")
trap 'rm -f "$tmp"' EXIT INT TERM
case "$src" in
    http://*|https://*)
        if command -v curl >/dev/null 2>&1; then
            curl -fsSL -o "$tmp" "$src" || die "download of $src failed"
        elif command -v wget >/dev/null 2>&1; then
            wget -q -O "$tmp" "$src" || die "download of $src failed"
        else
            die "need curl or wget to download $src"
        fi ;;
    file://*) cp "${src#file://}" "$tmp" || die "cannot read ${src#file://}" ;;
    *) cp "$src" "$tmp" || die "cannot read $src" ;;
esac

chmod 0755 "$tmp"
"$tmp" --version >/dev/null 2>&1 || die "$src is not a working lotus-agent binary for this machine"

mkdir -p "$prefix/bin"
# stop a running agent before replacing its binary
if [ -z "${LOTUS_SYSTEMD_DIR:-}" ] && command -v systemctl >/dev/null 2>&1; then
    systemctl stop lotus-agent.service >/dev/null 2>&1 || true
fi
mv -f "$tmp" "$bin"
trap - EXIT INT TERM
echo "install-agent: installed $bin ($("$bin" --version))"
exec "$bin" service install "$@"
