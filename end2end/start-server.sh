#!/usr/bin/env bash
# Starts the release `signet` for the end-to-end suite (playwright.config.ts runs this as its webServer)
# on an empty data directory, so every run begins with a freshly provisioned tenant. The directory's
# path is fixed per checkout: the tests run `signet keys …` against the same one while this serves.
set -euo pipefail
: "${SIGNET_DATA_DIR:?set by playwright.config.ts}"
: "${E2E_SIGNET_BIN:?set by playwright.config.ts}"
: "${SIGNET_TEST_CLOCK_FILE:?set by playwright.config.ts}"

if [ ! -x "$E2E_SIGNET_BIN" ]; then
    echo "start-server.sh: $E2E_SIGNET_BIN not found: build it first (make e2e, or cargo leptos build --release)" >&2
    exit 1
fi

# Empty the directory only if this suite made it (it holds the marker) or it is already empty.
marker="$SIGNET_DATA_DIR/.signet-e2e-data"
if [ -d "$SIGNET_DATA_DIR" ] && [ ! -e "$marker" ] && [ -n "$(ls -A "$SIGNET_DATA_DIR")" ]; then
    echo "start-server.sh: refusing to empty $SIGNET_DATA_DIR: it was not made by the e2e suite" >&2
    exit 1
fi
rm -rf "$SIGNET_DATA_DIR"
mkdir -p "$SIGNET_DATA_DIR"
touch "$marker"

# The test clock (server and CLI run this many seconds ahead of the system clock) starts at 0; the
# stories move it forward by writing into the file (a bare integer, no newline). By default it lives
# in the directory just emptied.
mkdir -p "$(dirname "$SIGNET_TEST_CLOCK_FILE")"
printf '0' >"$SIGNET_TEST_CLOCK_FILE"

exec "$E2E_SIGNET_BIN" serve
