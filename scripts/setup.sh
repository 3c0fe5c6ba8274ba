#!/usr/bin/env bash
# Installs everything Kota Tangguh CCTV needs on a fresh Debian/Ubuntu machine:
#   system packages: Debian's GStreamer RTSP server for the camera simulator (run by the system python3),
#                    python3-venv; Debian's chromium for the browser tests (Playwright drives it: never
#                    `playwright install`, which downloads a browser of its own); ffmpeg for the
#                    Frigate-style baseline of bench/ingest.py; redis-server for the bus between nodes
#                    (tests start private instances of it);
#   Python packages: the project and its dev extras into ./.venv;
#   the UI text catalogues: web/locale/*/LC_MESSAGES/messages.po compiled to .mo (not committed; docs/i18n.md).
# Idempotent: a second run only checks. Run as root, or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  ffmpeg
  chromium
  redis-server
  nginx-light
)

sudo_() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  sudo_ apt-get update -qq
  sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

/usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0"); from gi.repository import GstRtspServer' \
  || { echo "setup: the system python3 cannot load GstRtspServer" >&2; exit 1; }

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  $PY -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev]"
.venv/bin/pybabel -q compile -d web/locale -D messages
echo "setup: ready ($(.venv/bin/python --version), .venv)"
