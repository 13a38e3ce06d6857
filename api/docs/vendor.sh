#!/usr/bin/env bash
# Vendors the two swagger-ui files /docs needs, so the page works offline and
# never loads a CDN at run time. Run it by hand to upgrade: bash api/docs/vendor.sh [version]
set -euo pipefail
version="${1:-5.35.0}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar -xzf swagger-ui-dist-*.tgz)
for f in swagger-ui.css swagger-ui-bundle.js LICENSE; do
	cp "$tmp/package/$f" "$here/$f"
done
# The bundle ends with a sourceMappingURL to a .map we do not ship; browsers would
# ask /docs for it and log a 404, so the comment goes.
sed -i '/^\/\/# sourceMappingURL=/d' "$here/swagger-ui-bundle.js"
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' "$here/swagger-ui.css"
echo "$version" >"$here/VERSION"
