#!/usr/bin/env bash
# Downloads COCO 2014 train images (about 13 GB, 82,783 photos) into DIR/train2014, the training
# set of Johnson et al. 2016. Usage: scripts/download_coco.sh DIR
# The download resumes if interrupted (curl -C -); the zip is checked before it is unpacked.
set -euo pipefail
dir=${1:?usage: scripts/download_coco.sh DIR}
url=${COCO_URL:-http://images.cocodataset.org/zips/train2014.zip}
mkdir -p "$dir"
cd "$dir"
curl -L -C - -o train2014.zip.part "$url"
unzip -tq train2014.zip.part >/dev/null
mv train2014.zip.part train2014.zip
unzip -q train2014.zip
echo "photos in $dir/train2014: $(find train2014 -name '*.jpg' | wc -l)"
