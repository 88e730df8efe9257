#!/bin/sh
# Prints the Python interpreter FlexLedger's virtual environment is made with, or explains on
# stderr why there is none and exits 1.
#
#   tools/find_python.sh [INTERPRETER]
#
# With an argument (the Makefile passes PYTHON=), that interpreter, if it is a supported one.
# Without, the first of python3.13, python3.12, python3.11, python3 on PATH that runs and is
# supported: the newest supported version wins. Supported: CPython 3.11, 3.12 and 3.13.
# A name that is on PATH but does not run (a pyenv shim of a version that is not selected)
# is passed over.
set -u

SUPPORTED="3.11, 3.12 or 3.13"
VERSION_CHECK='import sys; print("%d.%d.%d" % sys.version_info[:3]); sys.exit(0 if (3, 11) <= sys.version_info[:2] <= (3, 13) else 3)'

# Prints the interpreter's version; status 0 if supported, 3 if not, anything else if it does not run.
probe() {
    "$1" -c "$VERSION_CHECK" 2>/dev/null
}

if [ $# -gt 0 ] && [ -n "$1" ]; then
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "PYTHON=$1 is not an interpreter on this machine; FlexLedger needs Python $SUPPORTED" >&2
        exit 1
    fi
    version=$(probe "$1")
    case $? in
        0) command -v "$1"; exit 0 ;;
        3) echo "PYTHON=$1 is Python $version; FlexLedger needs Python $SUPPORTED" >&2 ;;
        *) echo "PYTHON=$1 does not run; FlexLedger needs Python $SUPPORTED" >&2 ;;
    esac
    exit 1
fi

tried=""
for name in python3.13 python3.12 python3.11 python3; do
    command -v "$name" >/dev/null 2>&1 || continue
    version=$(probe "$name")
    case $? in
        0) command -v "$name"; exit 0 ;;
        3) tried="$tried $name ($version)" ;;
        *) tried="$tried $name (does not run)" ;;
    esac
done
echo "no supported Python found: FlexLedger needs Python $SUPPORTED; on PATH:${tried:- none of python3.13, python3.12, python3.11, python3}" >&2
echo "install one, or name it: make test PYTHON=/path/to/python3.13" >&2
exit 1
