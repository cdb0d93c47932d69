#!/bin/sh
# Prepares a trained style for checkpoints/: the network as f16 with the painting's title,
# artist, year and licence in its metadata, and the painting it was trained on beside it (the
# same file, so its sha256 matches the checkpoint's and `faststyle eval` can find it).
#
#   scripts/ship_style.sh NAME RUN_CHECKPOINT PAINTING
#   e.g. scripts/ship_style.sh starry-night runs/starry-night.safetensors ../shared/data/styles/starry-night.jpg
#
# Needs `cargo build --release`. The details of each painting come from
# ../shared/data/SOURCES.md (all public domain: the painters died before 1954).
set -eu
name=$1 run=$2 painting=$3
root=$(cd "$(dirname "$0")/.." && pwd)
case $name in
starry-night) title="The Starry Night" artist="Vincent van Gogh" year=1889 ;;
great-wave) title="The Great Wave off Kanagawa" artist="Katsushika Hokusai" year="c. 1831" ;;
the-scream) title="The Scream" artist="Edvard Munch" year=1893 ;;
composition-vii) title="Composition VII" artist="Wassily Kandinsky" year=1913 ;;
shipwreck-of-the-minotaur) title="The Shipwreck of the Minotaur" artist="J. M. W. Turner" year="c. 1810" ;;
the-kiss) title="The Kiss" artist="Gustav Klimt" year="1907-1908" ;;
impression-sunrise) title="Impression, Sunrise" artist="Claude Monet" year=1872 ;;
la-grande-jatte) title="A Sunday Afternoon on the Island of La Grande Jatte" artist="Georges Seurat" year="1884-1886" ;;
*) echo "ship_style: no painting details for $name; add them to this script" >&2; exit 2 ;;
esac
"$root/target/release/faststyle" import "$run" "$root/checkpoints/$name.safetensors" --force --f16 \
    --name "$name" --title "$title" --artist "$artist" --year "$year" --licence "public domain"
cp "$painting" "$root/checkpoints/$name.jpg.tmp"
chmod 644 "$root/checkpoints/$name.jpg.tmp"
mv "$root/checkpoints/$name.jpg.tmp" "$root/checkpoints/$name.jpg"
