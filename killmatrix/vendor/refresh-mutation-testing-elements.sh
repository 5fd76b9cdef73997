#!/usr/bin/env bash
# Refresh the vendored mutation-testing-elements viewer (`make refresh-viewer VIEWER_VERSION=x.y.z`).
#
# `killmatrix report --html` inlines this built bundle so the page opens with no network. The bundle
# comes from the npm registry's tarball (npm pack: nothing is installed, no script of the package runs);
# its license and the version and integrity npm reports are kept beside it. Check the result with
# `.venv/bin/python -m pytest -q -p no:xdist tests/test_html_pages.py` (renders it in Chromium).
set -euo pipefail
version="${1:?usage: $0 VERSION (e.g. 3.9.0)}"
here="$(cd "$(dirname "$0")" && pwd)/mutation-testing-elements"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "mutation-testing-elements@$version" >/dev/null
tar xzf "mutation-testing-elements-$version.tgz"
integrity="$(npm view "mutation-testing-elements@$version" dist.integrity)"
mkdir -p "$here"
cp package/dist/mutation-test-elements.js "$here/mutation-test-elements.js"
cp package/LICENSE "$here/LICENSE"
printf '%s\n%s\n' "$version" "$integrity" >"$here/VERSION"
echo "vendored mutation-testing-elements $version ($(wc -c <"$here/mutation-test-elements.js") bytes) in $here"
