#!/usr/bin/env bash
# Signet's compatibility proof: the official Auth0 Python SDK and PyJWT against a real release binary.
#
#   bash compat/run.sh [pytest args...]
#
# SIGNET_BIN picks the binary (default: target/release/signet, relative to the repo root).
# COMPAT_KEEP_DATA=1 keeps the temporary data dir (and server.log) for a look afterwards.
# Creates compat/.venv when missing, reinstalls when requirements.txt is newer than its stamp,
# then runs `python -m pytest -q compat/` from the repo root. Needs no standard input (CI=true).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="compat/.venv"
REQUIREMENTS="compat/requirements.txt"
STAMP="$VENV/.requirements-installed"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "compat: creating $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ "$REQUIREMENTS" -nt "$STAMP" ]; then
    echo "compat: installing $REQUIREMENTS"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$REQUIREMENTS" </dev/null
    touch "$STAMP"
fi

SIGNET_BIN="${SIGNET_BIN:-target/release/signet}"
case "$SIGNET_BIN" in
    /*) ;;
    *) SIGNET_BIN="$ROOT/$SIGNET_BIN" ;;
esac
if [ ! -x "$SIGNET_BIN" ]; then
    echo "compat: no signet binary at $SIGNET_BIN (build it with 'make build', or set SIGNET_BIN)" >&2
    exit 1
fi
export SIGNET_BIN

# Keep the work tree clean: no __pycache__ (pytest.ini turns off .pytest_cache).
export PYTHONDONTWRITEBYTECODE=1
# With no arguments, the whole suite; otherwise what the caller names (files, -k …).
if [ $# -eq 0 ]; then set -- compat/; fi
exec "$VENV/bin/python" -m pytest -q "$@" </dev/null
