#!/bin/sh
# Runs `faststyle bench` and its PyTorch twin (scripts/bench_torch.py) alternately, so that both
# see the same machine load, and prints the median of each side and their ratio per workload.
#
#   scripts/bench.sh [ops|apply] [rounds] [runs per round]
#
# Needs `cargo build --release -p faststyle` and Debian's python3-torch. A ratio below 1 means
# faststyle is faster.
set -eu
workload=${1:-apply}
rounds=${2:-3}
runs=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for round in $(seq "$rounds"); do
    echo "round $round of $rounds" >&2
    "$root/target/release/faststyle" bench "$workload" --runs "$runs" >"$out/ours.$round"
    /usr/bin/python3 "$root/scripts/bench_torch.py" "$workload" --runs "$runs" >"$out/torch.$round"
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])

def read(side):
    times, rates = {}, {}
    for r in range(1, rounds + 1):
        for line in open(f"{out}/{side}.{r}").read().splitlines()[1:]:
            name, ms, rate, *_ = line.split()
            times.setdefault(name, []).append(float(ms))
            rates[name] = rate
    return {k: statistics.median(v) for k, v in times.items()}

ours, torch = read("ours"), read("torch")
print(f"{'name':<34} {'faststyle ms':>13} {'pytorch ms':>11} {'ratio':>7}")
for name, ms in ours.items():
    theirs = torch.get(name)
    ratio = f"{ms / theirs:7.2f}" if theirs else "      -"
    print(f"{name:<34} {ms:>13.2f} {theirs or float('nan'):>11.2f} {ratio}")
PY
