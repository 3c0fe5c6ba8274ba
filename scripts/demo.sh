#!/usr/bin/env bash
# Sets up, then starts the camera simulator and `cctv run` with the demo city (config.yaml).
# Open the printed URL; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
CONFIG=${CCTV_CONFIG:-config.yaml}
PORT=${CCTV_PORT:-8080}
.venv/bin/cctv check-config "$CONFIG"
.venv/bin/cctv sim --config "$CONFIG" &
SIM=$!
trap 'kill $SIM 2>/dev/null; wait $SIM 2>/dev/null' EXIT INT TERM
# wait for the simulator's control channel before starting ingest
for _ in $(seq 1 240); do
  if .venv/bin/cctv sim ls --config "$CONFIG" >/dev/null 2>&1; then break; fi
  kill -0 $SIM 2>/dev/null || { echo "demo: the simulator exited" >&2; exit 1; }
  sleep 0.5
done
echo "demo: open http://127.0.0.1:$PORT/ in a browser"
.venv/bin/cctv run --config "$CONFIG" --port "$PORT"
