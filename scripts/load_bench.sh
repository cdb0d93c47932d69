#!/usr/bin/env bash
# Load benchmark of `faststyle serve` (not a test): requests per second and latency percentiles
# at concurrency 1, 2 and 8 for one 1024x768 JPEG, the server's peak memory, and the 503s once
# it is saturated. Loopback only; every run is bounded in time by wrk's -d.
#
# Uses Debian's wrk (installed if missing) with a Lua script that posts a prebuilt multipart
# body. The style is the random-weights test network: the figures measure the server and the
# network's arithmetic, which is the same for any trained style.
#
# Each level gets a fresh server, so one level's queue does not spill into the next and each
# level's peak memory is its own. A repaint of 1024x768 takes about a minute on two busy
# cores, so a level needs minutes to complete a few requests.
#
# Environment: DURATION (seconds per level, default 180), LEVELS (concurrencies, default
# "1 2 8 16"; 16 saturates the default queue), PORT (default 18080).
set -euo pipefail
cd "$(dirname "$0")/.."

duration="${DURATION:-180}"
port="${PORT:-18080}"
url="http://127.0.0.1:$port"

if ! command -v wrk >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
cargo build --release -p faststyle
cargo build --release -p faststyle-serve --example bench_photo

work="$(mktemp -d -t faststyle-bench.XXXXXX)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill -KILL "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cp tests/fixtures/transformer_net.safetensors "$work/mosaic.safetensors"
target/release/examples/bench_photo training-data/0028.jpg "$work/photo.jpg" 1024 768

boundary="faststyle-bench-$$"
{
    printf -- '--%s\r\nContent-Disposition: form-data; name="style"\r\n\r\nmosaic\r\n' "$boundary"
    printf -- '--%s\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\n' "$boundary"
    printf 'Content-Type: image/jpeg\r\n\r\n'
    cat "$work/photo.jpg"
    printf -- '\r\n--%s--\r\n' "$boundary"
} > "$work/body"

cat > "$work/post.lua" <<LUA
local f = assert(io.open("$work/body", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "multipart/form-data; boundary=$boundary"
LUA

# Default limits (one worker per core, a queue of 8), a time limit long enough that only the
# queue bound refuses requests.
start_server() {
    target/release/faststyle serve --bind 127.0.0.1 --port "$port" --checkpoints "$work" \
        --timeout 3600 > "$work/server.log" &
    server=$!
    for _ in $(seq 100); do
        grep -q "serving" "$work/server.log" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server did not start" >&2
    exit 1
}
# SIGKILL: a graceful stop would wait for the repaints still queued by the last level.
stop_server() {
    kill -KILL "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
}

echo "# faststyle serve load benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# photo: 1024x768 JPEG, $(stat -c %s "$work/photo.jpg") bytes; ${duration}s per level"
for c in ${LEVELS:-1 2 8 16}; do
    echo
    echo "## concurrency $c"
    start_server
    wrk -t "$(( c < 2 ? 1 : 2 ))" -c "$c" -d "${duration}s" --timeout 600s --latency \
        -s "$work/post.lua" "$url/api/stylize" |
        grep -E 'Requests/sec|Latency|50%|90%|99%|requests in|Non-2xx|Socket errors' || true
    grep VmHWM "/proc/$server/status"
    stop_server
done
