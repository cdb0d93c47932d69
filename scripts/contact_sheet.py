#!/usr/bin/python3
"""Makes the contact sheet of the shipped styles: test photos across the top, one row per style.

    scripts/contact_sheet.py [--photos DIR] [--styles a,b,...] [--cell 192] [-o docs/contact-sheet.jpg]

Every cell is `faststyle apply --style NAME --max-size SIZE` of one photo, made by the release
binary (`cargo build --release`), then scaled to the cell; the first column shows the painting
(the `<name>.jpg` beside each checkpoint). Needs Debian's python3-pil.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", default=os.path.join(ROOT, "..", "shared", "data", "test"),
                        help="folder of photos [default: ../shared/data/test]")
    parser.add_argument("--styles", help="comma-separated names [default: every shipped style]")
    parser.add_argument("--cell", type=int, default=192, help="cell height in pixels")
    parser.add_argument("--size", type=int, default=512, help="long side the photos are styled at")
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "faststyle"))
    parser.add_argument("-o", "--output", default=os.path.join(ROOT, "docs", "contact-sheet.jpg"))
    args = parser.parse_args()

    listed = json.loads(run([args.binary, "styles", "--json"]))
    styles = [s for s in listed if not args.styles or s["name"] in args.styles.split(",")]
    if not styles:
        sys.exit("contact_sheet: no styles to show (see `faststyle styles`)")
    photos = sorted(
        os.path.join(args.photos, f)
        for f in os.listdir(args.photos)
        if f.lower().endswith(PHOTO_EXTENSIONS)
    )
    if not photos:
        sys.exit(f"contact_sheet: no photos in {args.photos}")

    with tempfile.TemporaryDirectory() as tmp:
        rows = [[None] + [Image.open(p).convert("RGB") for p in photos]]
        for style in styles:
            out = os.path.join(tmp, style["name"])
            os.makedirs(out)
            run([args.binary, "apply", "--style", style["name"], "--max-size", str(args.size),
                 *photos, "-o", out + "/"])
            painting = style.get("preview")
            row = [Image.open(painting).convert("RGB") if painting else None]
            for p in photos:
                stem = os.path.splitext(os.path.basename(p))[0]
                # apply names its outputs <stem>-<style>.<ext>
                made = [f for f in os.listdir(out) if os.path.splitext(f)[0] == f"{stem}-{style['name']}"]
                row.append(Image.open(os.path.join(out, made[0])).convert("RGB"))
            rows.append(row)
        sheet = compose(rows, args.cell)
    tmp_out = args.output + ".tmp.jpg"
    sheet.save(tmp_out, quality=90)
    os.replace(tmp_out, args.output)
    print(f"{args.output}: {len(styles)} styles x {len(photos)} photos, {sheet.width}x{sheet.height}")


def compose(rows, cell):
    """A grid whose column widths follow the images (scaled to the cell height)."""
    def scaled(image):
        return image.resize((max(1, round(image.width * cell / image.height)), cell), Image.LANCZOS)

    widths = [max((scaled(r[c]).width if r[c] else 0) for r in rows) for c in range(len(rows[0]))]
    gap = 4
    sheet = Image.new("RGB", (sum(widths) + gap * (len(widths) + 1), len(rows) * (cell + gap) + gap), "white")
    y = gap
    for row in rows:
        x = gap
        for image, width in zip(row, widths):
            if image is not None:
                s = scaled(image)
                sheet.paste(s, (x + (width - s.width) // 2, y))
            x += width + gap
        y += cell + gap
    return sheet


def run(command):
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"contact_sheet: {' '.join(command[:3])} failed: {done.stderr.strip()}")
    return done.stdout


if __name__ == "__main__":
    main()
