#!/bin/sh
# Installs the Debian packages moebench needs, only those missing.
# Used by `make test` and `make demo` so that a fresh Debian machine needs
# nothing else. Prints nothing when everything is present.
set -e
PKGS="build-essential pkg-config libcjson-dev libcmocka-dev libinih-dev libpapi-dev papi-tools zlib1g-dev valgrind libcsv-dev libopenblas-dev libdnnl-dev gnuplot-nox libsentencepiece-dev sentencepiece"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo"
    else
        echo "moebench: missing Debian packages; as root, run:" >&2
        echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
        exit 1
    fi
fi
echo "moebench: installing missing Debian packages:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
