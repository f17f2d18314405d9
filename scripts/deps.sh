#!/bin/sh
# Installs the Debian packages moebench needs, only those missing.
# Used by `make test` and `make demo` so that a fresh Debian machine needs
# nothing else. Prints nothing when everything is present.
set -e
PKGS="build-essential pkg-config libcjson-dev libcmocka-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "moebench: installing missing Debian packages:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
