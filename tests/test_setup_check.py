"""The setup scripts the Makefile runs before pip: tools/find_python.sh picks a supported
interpreter or says why there is none, and tools/check_build_deps.py names the system packages a
dependency built from source needs (and installs them as root on Debian/Ubuntu), each run in a
fake environment: a PATH of fake interpreters or without a compiler, a file-system root without
LevelDB's or Python's headers, and a pip that finds no wheel."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "tools"
PY = "%d.%d" % sys.version_info[:2]
NEEDS = "FlexLedger needs Python 3.11, 3.12 or 3.13"


def fake_program(directory: Path, name: str, script: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return path


def fake_python(directory: Path, name: str, version: str) -> Path:
    """Answers the version probe like a Python of ``version`` would (3 = unsupported)."""
    supported = (3, 11) <= tuple(int(part) for part in version.split(".")[:2]) <= (3, 13)
    return fake_program(directory, name, f"echo {version}; exit {0 if supported else 3}")


def find_python(*args: str, path: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", str(TOOLS / "find_python.sh"), *args], env={"PATH": path},
                          capture_output=True, text=True)


def test_the_newest_supported_python_on_path_is_picked_and_a_shim_that_does_not_run_is_passed_over(tmp_path):
    bin_dir = tmp_path / "bin"
    fake_program(bin_dir, "python3.13", "exit 127")  # a pyenv shim of a version not selected
    fake_python(bin_dir, "python3.12", "3.12.1")
    fake_python(bin_dir, "python3.11", "3.11.7")
    done = find_python(path=str(bin_dir))
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{bin_dir}/python3.12\n", "")


def test_no_supported_python_on_path_names_what_was_found(tmp_path):
    bin_dir = tmp_path / "bin"
    fake_program(bin_dir, "python3.13", "exit 127")
    fake_python(bin_dir, "python3", "3.10.12")
    done = find_python(path=str(bin_dir))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"no supported Python found: {NEEDS}; on PATH: python3.13 (does not run) python3 (3.10.12)\n"
                           "install one, or name it: make test PYTHON=/path/to/python3.13\n")


def test_an_empty_path_says_which_names_were_looked_for(tmp_path):
    done = find_python(path=str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (f"no supported Python found: {NEEDS}; "
                                           "on PATH: none of python3.13, python3.12, python3.11, python3")


def test_python_chosen_by_name_is_used_when_supported(tmp_path):
    chosen = fake_python(tmp_path / "bin", "python3.13", "3.13.0")
    done = find_python(str(chosen), path=str(tmp_path))
    assert (done.returncode, done.stdout) == (0, f"{chosen}\n")


@pytest.mark.parametrize("version", ["3.10.13", "3.14.0"])
def test_an_unsupported_python_chosen_by_name_is_refused(tmp_path, version):
    chosen = fake_python(tmp_path / "bin", "python3", version)
    done = find_python(str(chosen), path=str(tmp_path))
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"PYTHON={chosen} is Python {version}; {NEEDS}\n")


def test_a_chosen_python_that_does_not_run_or_does_not_exist_is_refused(tmp_path):
    broken = fake_program(tmp_path / "bin", "python3.13", "exit 127")
    assert find_python(str(broken), path=str(tmp_path)).stderr == f"PYTHON={broken} does not run; {NEEDS}\n"
    assert find_python("python9", path=str(tmp_path)).stderr == (
        f"PYTHON=python9 is not an interpreter on this machine; {NEEDS}\n")


def fake_root(tmp_path: Path, os_release: str | None) -> Path:
    """A file-system root with no headers at all, and an etc/os-release when given."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    if os_release is not None:
        (root / "etc" / "os-release").write_text(os_release)
    return root


def python_headers(root: Path) -> Path:
    include = Path(sysconfig.get_paths()["include"])
    return root / include.relative_to(include.anchor) / "Python.h"


def check_build_deps(root: Path, bin_dir: Path, *args: str, extra_env: dict | None = None):
    """tools/check_build_deps.py with a pip that finds no wheel, no compiler unless in ``bin_dir``."""
    bin_dir.mkdir(exist_ok=True)
    empty_index = root.parent / "no-wheels"
    empty_index.mkdir(exist_ok=True)
    env = {"PATH": str(bin_dir), "HOME": os.environ.get("HOME", "/"), "PIP_CONFIG_FILE": os.devnull,
           "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(empty_index), "PIP_DISABLE_PIP_VERSION_CHECK": "1",
           **(extra_env or {})}
    return subprocess.run([sys.executable, str(TOOLS / "check_build_deps.py"), "--root", str(root), *args],
                          env=env, capture_output=True, text=True, timeout=120)


NO_WHEEL = f"plyvel>=1.5.1,<2 has no wheel for Python {PY} on this platform, so pip builds it from source; "


def test_on_debian_without_compiler_and_headers_it_names_the_three_packages(tmp_path):
    root = fake_root(tmp_path, 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')
    done = check_build_deps(root, tmp_path / "bin")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (NO_WHEEL + "missing: a C++ compiler, LevelDB's headers (leveldb/db.h), "
                           "Python's headers (Python.h).\n"
                           f"  Debian/Ubuntu: apt-get install -y g++ libleveldb-dev python{PY}-dev\n"
                           "Install them and run make again.\n")


def test_on_fedora_with_a_compiler_and_python_headers_only_leveldb_is_named(tmp_path):
    root = fake_root(tmp_path, 'NAME="Fedora Linux"\nID=fedora\n')
    python_headers(root).parent.mkdir(parents=True)
    python_headers(root).touch()
    fake_program(tmp_path / "bin", "g++", "exit 0")
    done = check_build_deps(root, tmp_path / "bin")
    assert done.returncode == 1
    assert done.stderr == (NO_WHEEL + "missing: LevelDB's headers (leveldb/db.h).\n"
                           "  Fedora/RHEL: dnf install -y leveldb-devel\nInstall them and run make again.\n")


def test_ubuntu_counts_as_debian_and_cxx_and_cpath_are_honoured(tmp_path):
    root = fake_root(tmp_path, 'ID=ubuntu\nID_LIKE=debian\n')
    headers = tmp_path / "opt-include"
    (headers / "leveldb").mkdir(parents=True)
    (headers / "leveldb" / "db.h").touch()
    fake_program(tmp_path / "bin", "clang++-18", "exit 0")
    done = check_build_deps(root, tmp_path / "bin", extra_env={"CXX": "clang++-18 -std=c++17", "CPATH": str(headers)})
    assert done.stderr == (NO_WHEEL + "missing: Python's headers (Python.h).\n"
                           f"  Debian/Ubuntu: apt-get install -y python{PY}-dev\nInstall them and run make again.\n")


def test_an_unknown_distribution_gets_every_known_one(tmp_path):
    root = fake_root(tmp_path, None)
    done = check_build_deps(root, tmp_path / "bin")
    assert done.stderr.splitlines()[1:] == [
        f"  Debian/Ubuntu: apt-get install -y g++ libleveldb-dev python{PY}-dev",
        "  Fedora/RHEL: dnf install -y gcc-c++ leveldb-devel python3-devel",
        "  openSUSE: zypper install -y gcc-c++ leveldb-devel python3-devel",
        "  Arch: pacman -S --needed gcc leveldb python",
        "  Alpine: apk add g++ leveldb-dev python3-dev",
        "Install them and run make again.",
    ]


def test_nothing_is_checked_when_the_build_requirements_are_there(tmp_path):
    root = fake_root(tmp_path, "ID=debian\n")
    python_headers(root).parent.mkdir(parents=True)
    python_headers(root).touch()
    (root / "usr/include/leveldb").mkdir(parents=True)
    (root / "usr/include/leveldb/db.h").touch()
    fake_program(tmp_path / "bin", "c++", "exit 0")
    done = check_build_deps(root, tmp_path / "bin")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.skipif(os.geteuid() != 0, reason="installing system packages is done only as root")
def test_as_root_on_debian_it_installs_them_with_apt_get_and_says_so(tmp_path):
    root = fake_root(tmp_path, "ID=debian\n")
    bin_dir = tmp_path / "bin"
    # apt-get that "installs" by creating the compiler and headers, and records its arguments
    fake_program(bin_dir, "apt-get", f"""PATH=/usr/bin:/bin
echo "$@" >> {tmp_path}/apt-calls
touch {bin_dir}/g++ && chmod +x {bin_dir}/g++
mkdir -p {root}/usr/include/leveldb {python_headers(root).parent}
touch {root}/usr/include/leveldb/db.h {python_headers(root)}""")
    done = check_build_deps(root, bin_dir, "--install")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"installing the missing system packages: apt-get install -y g++ libleveldb-dev python{PY}-dev\n"
    assert (tmp_path / "apt-calls").read_text() == f"install -y g++ libleveldb-dev python{PY}-dev\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="installing system packages is done only as root")
def test_when_apt_get_fails_it_updates_tries_again_and_then_names_the_packages(tmp_path):
    root = fake_root(tmp_path, "ID=debian\n")
    fake_program(tmp_path / "bin", "apt-get", f'echo "$@" >> {tmp_path}/apt-calls; [ "$1" = update ]')
    done = check_build_deps(root, tmp_path / "bin", "--install")
    assert done.returncode == 1
    assert done.stdout == (f"installing the missing system packages: apt-get install -y g++ libleveldb-dev python{PY}-dev\n"
                           "apt-get update, then again\n")
    assert (tmp_path / "apt-calls").read_text() == (f"install -y g++ libleveldb-dev python{PY}-dev\nupdate\n"
                                                    f"install -y g++ libleveldb-dev python{PY}-dev\n")
    assert done.stderr.endswith(f"  Debian/Ubuntu: apt-get install -y g++ libleveldb-dev python{PY}-dev\n"
                                "Install them and run make again.\n")


# -- the second Python of the mixed-version tests ------------------------------------------------
def find_second_python(main: Path, path: str, pyenv_root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/sh", str(TOOLS / "find_second_python.sh"), str(main)],
                          env={"PATH": path, "PYENV_ROOT": str(pyenv_root)}, capture_output=True, text=True)


def test_the_second_python_is_the_newest_other_supported_version(tmp_path):
    bin_dir = tmp_path / "bin"
    main = fake_program(bin_dir, "python3.13", "echo 3.13")
    fake_program(bin_dir, "python3.12", "exit 127")  # a pyenv shim of a version not selected
    (tmp_path / "pyenv" / "versions" / "3.12.1").mkdir(parents=True)
    pyenv_python = fake_program(tmp_path / "pyenv" / "versions" / "3.12.1" / "bin", "python3.12", "echo 3.12")
    fake_program(bin_dir, "python3.11", "echo 3.11")
    done = find_second_python(main, str(bin_dir), tmp_path / "pyenv")
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{pyenv_python}\n", "")


def test_without_a_second_python_it_says_the_mixed_version_tests_skip(tmp_path):
    bin_dir = tmp_path / "bin"
    main = fake_program(bin_dir, "python3.11", "echo 3.11")
    done = find_second_python(main, str(bin_dir), tmp_path / "nowhere")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (f"no second supported Python (3.11 to 3.13 besides 3.11, on PATH or in {tmp_path}/nowhere/"
                           f"versions): the mixed-version tests skip\n")
