#!/bin/sh
# Runs `faststyle bench` and its PyTorch twin (scripts/bench_torch.py) alternately, so that both
# see the same machine load, and prints the median of each side and their ratio per workload.
#
#   scripts/bench.sh [ops|apply|train] [rounds] [runs per round]
#
# Needs `cargo build --release -p faststyle` and Debian's python3-torch. A ratio below 1 means
# faststyle is faster. `train` compares one training step (scripts/train_step_torch.py on the
# PyTorch side) and the peak memory of each process too.
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
    if [ "$workload" = train ]; then
        /usr/bin/python3 "$root/scripts/train_step_torch.py" --runs "$runs" >"$out/torch.$round"
    else
        /usr/bin/python3 "$root/scripts/bench_torch.py" "$workload" --runs "$runs" >"$out/torch.$round"
    fi
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])

def read(side):
    """Median milliseconds per workload name, and of the peak memory lines, over the rounds."""
    times = {}
    for r in range(1, rounds + 1):
        for line in open(f"{out}/{side}.{r}").read().splitlines()[1:]:
            if line.startswith("peak memory:"):
                times.setdefault("peak memory MiB", []).append(float(line.split()[2]))
                continue
            name, ms, *_ = line.split() + [""]
            try:
                times.setdefault(name, []).append(float(ms))
            except ValueError:
                pass  # a note such as "images per second: 0.83"
    return {k: statistics.median(v) for k, v in times.items() if v}

ours, torch = read("ours"), read("torch")
print(f"{'name':<34} {'faststyle ms':>13} {'pytorch ms':>11} {'ratio':>7}")
for name, ms in ours.items():
    theirs = torch.get(name)
    ratio = f"{ms / theirs:7.2f}" if theirs else "      -"
    print(f"{name:<34} {ms:>13.2f} {theirs or float('nan'):>11.2f} {ratio}")
PY
