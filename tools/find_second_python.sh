#!/bin/sh
# Prints the newest supported Python whose version differs from the given interpreter's (the
# main venv's), for the second venv of the mixed-version tests (tests/test_mixed_versions.py);
# exits 1 with a line on stderr when there is none (those tests then skip, saying so).
#
#   tools/find_second_python.sh .venv/bin/python
#
# Looks for python3.13, python3.12, python3.11 on PATH and in pyenv's versions
# ($PYENV_ROOT, else ~/.pyenv), newest first. Supported: CPython 3.11, 3.12 and 3.13.
set -u

MINOR='import sys; print("%d.%d" % sys.version_info[:2])'
main=$("$1" -c "$MINOR") || { echo "$1 does not run" >&2; exit 1; }
root=${PYENV_ROOT:-$HOME/.pyenv}
for minor in 13 12 11; do
    [ "3.$minor" = "$main" ] && continue
    for python in "python3.$minor" "$root"/versions/3."$minor".*/bin/python3."$minor"; do
        path=$(command -v "$python" 2>/dev/null) || continue
        version=$("$path" -c "$MINOR" 2>/dev/null) || continue  # a pyenv shim of a version not selected
        if [ "$version" = "3.$minor" ]; then
            echo "$path"
            exit 0
        fi
    done
done
echo "no second supported Python (3.11 to 3.13 besides $main, on PATH or in $root/versions): the mixed-version tests skip" >&2
exit 1
