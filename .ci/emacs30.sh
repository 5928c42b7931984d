#!/usr/bin/env bash
# Emacs 30 (built-in Eglot 1.17) beside Debian 12's Emacs 28 (+ elpa-eglot 1.9): the two
# emacs-nox packages cannot both be installed, so this unpacks bookworm-backports' Emacs 30
# into $ROOT with dpkg -x and writes `emacs-30`, a launcher that points it at its own Lisp.
# Needs the bookworm-backports suite in apt's sources and `apt-get update` done.
set -euo pipefail
ROOT=${1:-/opt/emacs-30}
BIN=${2:-/usr/local/bin/emacs-30}
if [ -x "$BIN" ] && "$BIN" --batch --eval '(kill-emacs (if (>= emacs-major-version 30) 0 1))'; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 777 "$work" # apt downloads as the _apt user
(cd "$work" && apt-get download -qq -t bookworm-backports emacs-nox emacs-bin-common emacs-common)
# Its libraries; the rest of what it links is what Emacs 28 already brought.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  libtree-sitter0 libsqlite3-0 libgccjit0 >/dev/null
rm -rf "$ROOT"
mkdir -p "$ROOT"
for deb in "$work"/*.deb; do dpkg -x "$deb" "$ROOT"; done
missing=$(ldd "$ROOT/usr/bin/emacs-nox" | grep 'not found' || true)
[ -z "$missing" ] || { echo "emacs-30 lacks libraries: $missing" >&2; exit 1; }
version=$(basename "$(ls -d "$ROOT"/usr/share/emacs/30.*)")
share=$ROOT/usr/share/emacs/$version
libexec=$(dirname "$(ls "$ROOT"/usr/libexec/emacs/"$version"/*/*.pdmp)")
dump=$(ls "$libexec"/*.pdmp)
# Its own Lisp only: not /usr/share/emacs/site-lisp, where Debian's elpa-eglot 1.9 lives.
lisp=$(find "$share/lisp" -type d | sort | paste -sd:)
cat > "$BIN" <<LAUNCHER
#!/bin/sh
# Emacs $version unpacked into $ROOT by .ci/emacs30.sh.
EMACSLOADPATH='$lisp' EMACSDATA='$share/etc' EMACSDOC='$share/etc' EMACSPATH='$libexec' \\
  exec '$ROOT/usr/bin/emacs-nox' --dump-file='$dump' "\$@"
LAUNCHER
chmod +x "$BIN"
"$BIN" --batch --eval '(message "emacs-30: Emacs %s, eglot %s" emacs-version (cdr (assq (quote eglot) package--builtin-versions)))'
