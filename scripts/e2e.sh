#!/usr/bin/env bash
# End-to-end browser test of `faststyle serve`: installs Debian's chromium if it is missing and
# the npm packages of tests/e2e (from the lock file), builds the binary, and runs the test.
# The screenshots go to $E2E_SCREENSHOT_DIR (default: a fresh temporary directory), never into
# the repository.
#
# Environment: PROFILE=release|debug (default debug: shares the build of `cargo test`),
# FASTSTYLE_BIN to test a binary built elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    echo "e2e: installing chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi

if [ -z "${FASTSTYLE_BIN:-}" ]; then
    profile="${PROFILE:-debug}"
    if [ "$profile" = release ]; then
        cargo build --release -p faststyle
    else
        cargo build -p faststyle
    fi
    export FASTSTYLE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/$profile/faststyle"
fi

(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)

export E2E_SCREENSHOT_DIR="${E2E_SCREENSHOT_DIR:-$(mktemp -d -t faststyle-e2e-shots.XXXXXX)}"
cd tests/e2e
# node's test runner sends its own report to stdout; the "# pass N" / "# fail N" lines close it.
node --test --test-reporter=tap serve.test.mjs
