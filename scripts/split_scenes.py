#!/usr/bin/env python3
"""Splits a photo collection into training and validation folders by scene, not by file.

    scripts/split_scenes.py MANIFEST.csv DEST [--every 10]

MANIFEST.csv (the one of ../shared/data) lists each photo with its scene; several photos can
show one scene, so a random split of files would put views of one scene on both sides and
make validation look better than it is. Every `--every`-th scene, in sorted order, goes to
DEST/val, the rest to DEST/train. Photos are copied (they are small), so DEST stands alone.
"""
import argparse
import csv
import os
import shutil
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("dest")
    parser.add_argument("--every", type=int, default=10, help="every N-th scene is held out")
    args = parser.parse_args()
    root = os.path.dirname(os.path.abspath(args.manifest))
    with open(args.manifest, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["file"].startswith("train/")]
    scenes = sorted({r["scene"] for r in rows})
    held_out = set(scenes[:: args.every])
    counts = {"train": 0, "val": 0}
    for r in rows:
        side = "val" if r["scene"] in held_out else "train"
        dest = os.path.join(args.dest, side, os.path.basename(r["file"]))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(os.path.join(root, r["file"]), dest)
        counts[side] += 1
    print(
        f"{len(scenes)} scenes: {len(scenes) - len(held_out)} for training "
        f"({counts['train']} photos), {len(held_out)} held out ({counts['val']} photos)"
    )


if __name__ == "__main__":
    sys.exit(main())
