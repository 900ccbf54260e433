#!/usr/bin/env bash
# Install MathJax 3 (the version pinned in package-lock.json) into book/_static/mathjax so the book
# renders its equations without any CDN. Idempotent: does nothing when the pinned version is in place.
#
#   scripts/install_mathjax.sh            # install if absent or out of date
#   scripts/install_mathjax.sh --force    # reinstall
#
# Needs `npm` (Node.js) the first time, to fetch the package into node_modules/ with `npm ci`
# (from the npm registry or the local npm cache). Both node_modules/ and book/_static/mathjax/
# are git-ignored.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/book/_static/mathjax"
SRC="$ROOT/node_modules/mathjax/es5"
cd "$ROOT"

# Pinned version, read from the lock file (no node needed for this).
PINNED="$(python3 - <<'PY'
import json
lock = json.load(open("package-lock.json"))
print(lock["packages"]["node_modules/mathjax"]["version"])
PY
)"

if [[ "${1:-}" != "--force" && -f "$DEST/tex-chtml.js" && -f "$DEST/VERSION" \
      && "$(cat "$DEST/VERSION")" == "$PINNED" ]]; then
    echo "MathJax $PINNED already installed in book/_static/mathjax"
    exit 0
fi

installed_version() {
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' \
        "$ROOT/node_modules/mathjax/package.json" 2>/dev/null || true
}

if [[ ! -f "$SRC/tex-chtml.js" || "$(installed_version)" != "$PINNED" ]]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "error: npm not found; install Node.js (e.g. apt-get install nodejs npm) or copy" >&2
        echo "       MathJax $PINNED's es5/ folder to book/_static/mathjax by hand" >&2
        exit 1
    fi
    echo "Fetching mathjax@$PINNED with npm ci ..."
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi

if [[ "$(installed_version)" != "$PINNED" ]]; then
    echo "error: node_modules/mathjax is $(installed_version), expected $PINNED" >&2
    exit 1
fi

rm -rf "$DEST"
mkdir -p "$DEST"
cp -R "$SRC"/. "$DEST"/
cp "$ROOT/node_modules/mathjax/LICENSE" "$DEST/LICENSE"
echo "$PINNED" > "$DEST/VERSION"
echo "MathJax $PINNED installed in book/_static/mathjax ($(du -sh "$DEST" | cut -f1))"
