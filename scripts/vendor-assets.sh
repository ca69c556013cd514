#!/bin/sh
# Re-fetch the dashboard's vendored JavaScript from the npm registry at the pinned versions
# (run by hand when upgrading: change a version below, run, look at the diff, commit).
#
#   scripts/vendor-assets.sh
#
# Each package lands in shoptrack/dashboard/static/vendor/NAME-VERSION/ with its LICENSE;
# shoptrack serves them itself (no CDN). Pages name the folder, so update the version in
# shoptrack/dashboard/assets.py too.
set -eu

UPLOT_VERSION=1.6.32

root=$(cd "$(dirname "$0")/.." && pwd)
vendor="$root/shoptrack/dashboard/static/vendor"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME VERSION: unpack the registry's tarball into $work/NAME
    (cd "$work" && npm pack --silent "$1@$2" >/dev/null)
    mkdir -p "$work/$1"
    tar -xzf "$work/$1-$2.tgz" -C "$work/$1" --strip-components=1
}

fetch uplot "$UPLOT_VERSION"
dest="$vendor/uplot-$UPLOT_VERSION"
rm -rf "$vendor"/uplot-*
mkdir -p "$dest"
cp "$work/uplot/dist/uPlot.iife.min.js" "$work/uplot/dist/uPlot.min.css" "$work/uplot/LICENSE" \
   "$dest/"
echo "uPlot $UPLOT_VERSION -> ${dest#"$root"/}"
