#!/usr/bin/env bash
# Fetches the pinned Chart.js build that the dashboard serves (web/static/vendor/)
# from the npm registry, and checks it: the tarball against npm's published
# sha512 integrity, the extracted files against their sha256 below. Run it to
# re-create or verify the vendored files: bash web/vendor.sh
set -euo pipefail
cd "$(dirname "$0")"

VERSION=4.6.1
TARBALL="https://registry.npmjs.org/chart.js/-/chart.js-$VERSION.tgz"
INTEGRITY="sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g=="
UMD_SHA256=338399fb5bafe598d21cfc471b0590b61ceb321a985fade4f68499b151f67fbf
LICENSE_SHA256=41a84aa2caba645f966a18d9c2056b73e6d3a81d80bc0046bc0011a2634d4cce

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -sSfL -o "$tmp/chart.tgz" "$TARBALL"
got="sha512-$(openssl dgst -sha512 -binary "$tmp/chart.tgz" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
  echo "chart.js $VERSION: integrity $got, want $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tmp/chart.tgz" -C "$tmp" package/dist/chart.umd.js package/LICENSE.md
echo "$UMD_SHA256  $tmp/package/dist/chart.umd.js" | sha256sum -c --quiet
echo "$LICENSE_SHA256  $tmp/package/LICENSE.md" | sha256sum -c --quiet
mkdir -p static/vendor
cp "$tmp/package/dist/chart.umd.js" static/vendor/chart.umd.js
cp "$tmp/package/LICENSE.md" static/vendor/chart.js-LICENSE.md
echo "web/static/vendor: chart.js $VERSION ok"
