"""Before pip installs FlexLedger: if a dependency has no wheel for this interpreter, check the
system packages its build from source needs, and name exactly which to install.

    python tools/check_build_deps.py [--install] [--root DIR]

Run with the interpreter the dependencies are for (the Makefile runs the new venv's python).
Only plyvel compiles C++: it needs a C++ compiler, LevelDB's headers and Python's headers.
Whether a wheel exists is pip's answer (``pip download --only-binary=:all:``, pip's own
index settings and cache). When something is missing it prints what to install on this
distribution (from /etc/os-release) and exits 1; with ``--install``, as root on
Debian/Ubuntu, it installs them with apt-get, saying so, and checks again. ``--root`` looks
for headers and os-release under another file-system root (a container image, a test).
Standard library only: it runs before anything is installed.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
SOURCE_BUILT = "plyvel"  # the one dependency with C++ to compile when no wheel fits
COMPILERS = ("c++", "g++", "clang++")
STANDARD_INCLUDE_DIRS = ("usr/local/include", "usr/include")
LEVELDB_HEADER = "leveldb/db.h"
PY_VERSION = "%d.%d" % sys.version_info[:2]

# What each missing requirement is called, per distribution family ({py} is e.g. 3.13).
PACKAGES = {
    "debian": {"compiler": "g++", "leveldb": "libleveldb-dev", "python": "python{py}-dev"},
    "fedora": {"compiler": "gcc-c++", "leveldb": "leveldb-devel", "python": "python3-devel"},
    "suse": {"compiler": "gcc-c++", "leveldb": "leveldb-devel", "python": "python3-devel"},
    "arch": {"compiler": "gcc", "leveldb": "leveldb", "python": "python"},
    "alpine": {"compiler": "g++", "leveldb": "leveldb-dev", "python": "python3-dev"},
}
INSTALL_COMMANDS = {
    "debian": "apt-get install -y",
    "fedora": "dnf install -y",
    "suse": "zypper install -y",
    "arch": "pacman -S --needed",
    "alpine": "apk add",
}
FAMILY_NAMES = {"debian": "Debian/Ubuntu", "fedora": "Fedora/RHEL", "suse": "openSUSE", "arch": "Arch",
                "alpine": "Alpine"}
WHAT = {"compiler": "a C++ compiler", "leveldb": f"LevelDB's headers ({LEVELDB_HEADER})",
        "python": "Python's headers (Python.h)"}


def wanted_requirement(name: str) -> str:
    """The dependency as pyproject.toml asks for it, e.g. ``plyvel>=1.5.1,<2``."""
    with PYPROJECT.open("rb") as file:
        dependencies = tomllib.load(file)["project"]["dependencies"]
    return next(d for d in dependencies if re.match(r"[A-Za-z0-9_.-]+", d).group() == name)


def has_wheel(requirement: str) -> bool:
    """Whether pip finds a wheel of ``requirement`` for this interpreter and platform."""
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--dest", scratch, requirement], capture_output=True)
    return result.returncode == 0


def family(root: Path) -> str | None:
    """The distribution family from ``root``/etc/os-release (ID and ID_LIKE)."""
    try:
        text = (root / "etc/os-release").read_text()
    except OSError:
        return None
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    ids = " ".join(fields.get(key, "").strip('"') for key in ("ID", "ID_LIKE")).split()
    aliases = {"ubuntu": "debian", "rhel": "fedora", "centos": "fedora", "opensuse": "suse"}
    return next((aliases.get(i, i) for i in ids if aliases.get(i, i) in PACKAGES), None)


def include_dirs(root: Path) -> list[Path]:
    """Where the compiler looks for headers: $CPATH and friends, then the standard dirs under ``root``."""
    extra = [d for var in ("CPATH", "CPLUS_INCLUDE_PATH", "C_INCLUDE_PATH")
             for d in os.environ.get(var, "").split(os.pathsep) if d]
    return [Path(d) for d in extra] + [root / d for d in STANDARD_INCLUDE_DIRS]


def missing(root: Path) -> list[str]:
    """The build requirements not present, in a fixed order: compiler, leveldb, python."""
    absent = []
    compiler = os.environ.get("CXX", "").split()
    if not (shutil.which(compiler[0]) if compiler else any(shutil.which(c) for c in COMPILERS)):
        absent.append("compiler")
    if not any((d / LEVELDB_HEADER).is_file() for d in include_dirs(root)):
        absent.append("leveldb")
    python_include = Path(sysconfig.get_paths()["include"])
    if not (root / python_include.relative_to(python_include.anchor) / "Python.h").is_file():
        absent.append("python")
    return absent


def package_names(absent: list[str], distribution: str) -> list[str]:
    return [PACKAGES[distribution][need].format(py=PY_VERSION) for need in absent]


def advice(requirement: str, absent: list[str], distribution: str | None) -> str:
    lines = [f"{requirement} has no wheel for Python {PY_VERSION} on this platform, so pip builds it from source; "
             f"missing: {', '.join(WHAT[need] for need in absent)}."]
    families = [distribution] if distribution else list(PACKAGES)
    lines += [f"  {FAMILY_NAMES[f]}: {INSTALL_COMMANDS[f]} {' '.join(package_names(absent, f))}" for f in families]
    lines.append("Install them and run make again.")
    return "\n".join(lines)


def apt_install(packages: list[str]) -> bool:
    command = ["apt-get", "install", "-y", *packages]
    print(f"installing the missing system packages: {' '.join(command)}", flush=True)
    if subprocess.run(command).returncode == 0:
        return True
    print("apt-get update, then again", flush=True)
    return subprocess.run(["apt-get", "update"]).returncode == 0 and subprocess.run(command).returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true",
                        help="as root on Debian/Ubuntu, install missing system packages with apt-get")
    parser.add_argument("--root", type=Path, default=Path("/"),
                        help="file-system root to look for headers and etc/os-release under (default /)")
    args = parser.parse_args(argv)
    requirement = wanted_requirement(SOURCE_BUILT)
    if has_wheel(requirement):
        return 0
    absent = missing(args.root)
    if not absent:
        return 0
    distribution = family(args.root)
    if args.install and distribution == "debian" and os.geteuid() == 0:
        if apt_install(package_names(absent, distribution)):
            absent = missing(args.root)
            if not absent:
                return 0
    print(advice(requirement, absent, distribution), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
