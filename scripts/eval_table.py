#!/usr/bin/env python3
"""Turns saved `faststyle eval --json` results into the tables of checkpoints/README.md.

    scripts/eval_table.py checkpoints/eval/*.jsonl            # one summary row per style
    scripts/eval_table.py --photos checkpoints/eval/NAME.jsonl  # per photo, one style
    scripts/eval_table.py --merge checkpoints/eval/NAME.jsonl NEW.jsonl  # update rows in place

Each file is named after its style (`checkpoints/eval/great-wave.jsonl`) and holds what
`faststyle eval --style NAME --content ../shared/data/test/ --iterations 10,50,100 --json`
printed. The steps a network was trained come from its checkpoint's metadata
(`checkpoints/NAME.safetensors`). The slow method's scores depend on the painting, the photos
and the loss weights, not on the network, so after more training only the fast network's
rows need measuring again (`--iterations 0`); `--merge` puts them into the saved file,
replacing the rows of the same photo and method and keeping the rest.
"""
import argparse
import json
import os
import struct
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLOW = ("L-BFGS 10", "L-BFGS 50", "L-BFGS 100", "L-BFGS 300")


def read(path):
    rows = {}
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                rows.setdefault(r["photo"], {})[r["method"]] = r
    return rows


def merge(target, updates):
    """Rewrites `target` with the rows of `updates` in place of its rows of the same photo and
    method, keeping its own order; rows it lacks go at the end. Written to a temporary file
    first, so an error never leaves half a file."""
    order, rows = [], {}
    for path in [target] + updates:
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    key = (r["photo"], r["method"])
                    if key not in rows:
                        order.append(key)
                    rows[key] = r
    folder = os.path.dirname(os.path.abspath(target))
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as f:
        for key in order:
            f.write(json.dumps(rows[key], sort_keys=True, separators=(",", ":")) + "\n")
    os.replace(f.name, target)


def steps_trained(name):
    path = os.path.join(ROOT, "checkpoints", f"{name}.safetensors")
    try:
        with open(path, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            meta = json.loads(f.read(size))["__metadata__"]
        return json.loads(meta["faststyle"])["training"].get("steps_done")
    except (OSError, KeyError, ValueError):
        return None


def k(v):
    return f"{v / 1000:.0f}k"


def summary(paths):
    head = "| style | steps | fast network | L-BFGS 10 | L-BFGS 50 | L-BFGS 100 | fast vs 10 | photos where fast <= 10 |"
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        rows = read(path)
        mean = rows.pop("mean")
        steps = steps_trained(name)
        cells = [name, f"{steps:,}" if steps else "?", k(mean["fast network"]["total"])]
        for method in SLOW[:3]:
            cells.append(k(mean[method]["total"]) if method in mean else "not run")
        if "L-BFGS 10" in mean:
            ratio = mean["fast network"]["total"] / mean["L-BFGS 10"]["total"]
            wins = sum(r["fast network"]["total"] <= r["L-BFGS 10"]["total"] for r in rows.values())
            cells += [f"{ratio:.2f}x", f"{wins} of {len(rows)}"]
        else:
            cells += ["-", "-"]
        print("| " + " | ".join(cells) + " |")


def per_photo(path):
    rows = read(path)
    methods = [m for m in ("fast network",) + SLOW if m in rows["mean"]]
    print("| photo | " + " | ".join(methods) + " |")
    print("|---|" + "---|" * len(methods))
    for photo in sorted(rows, key=lambda p: (p == "mean", p)):
        cells = []
        for m in methods:
            r = rows[photo][m]
            cells.append(f"{k(r['content'])} + {k(r['style'])} = {k(r['total'])}")
        label = "**mean**" if photo == "mean" else photo
        print(f"| {label} | " + " | ".join(cells) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--photos", action="store_true", help="per-photo table of one style")
    parser.add_argument(
        "--merge", action="store_true", help="update the first file with the rows of the others"
    )
    args = parser.parse_args()
    if args.merge:
        if len(args.files) < 2:
            sys.exit("eval_table: --merge takes the file to update and at least one file of new rows")
        try:
            merge(args.files[0], args.files[1:])
        except (OSError, ValueError, KeyError) as e:
            print(f"eval_table: cannot merge: {e}", file=sys.stderr)
            sys.exit(2)
    elif args.photos:
        if len(args.files) != 1:
            sys.exit("eval_table: --photos takes one file")
        per_photo(args.files[0])
    else:
        summary(args.files)


if __name__ == "__main__":
    main()
