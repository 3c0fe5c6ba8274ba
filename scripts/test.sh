#!/usr/bin/env bash
# Sets up, makes sure PostgreSQL answers (the store tests run on it too), then runs lint and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
.venv/bin/ruff check cctv streams web tests bench
.venv/bin/python -m pytest -q -ra "$@"
