"""The release artefacts: `python -m build` makes an sdist and a wheel that carry the contract
sources and data files, and the wheel, installed in a clean venv, runs `flexledger` (a dev node
home and a small demo day) from outside the repository."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# dot-directories (.git, .venv and other venvs, .testnet, caches) and build leftovers stay behind
NOT_SHIPPED = shutil.ignore_patterns(".*", "__pycache__", "*.egg-info", "build", "dist", "demo-report.*")
RUNTIME_FILES = sorted(
    [p.relative_to(REPO).as_posix() for p in (REPO / "market" / "contracts").glob("*.py")]
    + [p.relative_to(REPO).as_posix() for p in (REPO / "gridoracle" / "data").iterdir()]
    + [p.relative_to(REPO).as_posix() for p in (REPO / "testnet" / "scenarios").glob("*.toml")])

# One aggregator, one 4-MTU session on feeder c: every demo step, in well under a minute.
SMALL_DAY = """
name = "release check"
day = 1
block_hours = 1
seed = 3
[chain]
validators = 2
restart = ""
[meter]
noise_pct = 5
[profiles]
pv = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.6, 0.6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
office = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
[[aggregators]]
name = "agg1"
flex_price = 0.30
[[groups]]
name = "c-office"
count = 2
feeder = "c"
buses = ["bus-c12", "bus-c13"]
aggregator = "agg1"
devices = [{ type = "generation", max_power = 10000, profile = "pv", price = 0.05 },
           { type = "load", max_power = 8000, profile = "office", price = 0.27 }]
[[sessions]]
name = "noon C"
feeder = "c"
start = "11:00"
mtus = 4
max_price = 0.50
"""


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> dict[str, Path]:
    """``python -m build`` on a copy of the working tree: the sdist, and the wheel built from it."""
    source = tmp_path_factory.mktemp("source") / "flexledger"
    shutil.copytree(REPO, source, ignore=NOT_SHIPPED)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
                   check=True, capture_output=True, timeout=300)
    return {"sdist": next(out.glob("flexledger-*.tar.gz")), "wheel": next(out.glob("flexledger-*.whl"))}


def test_the_sdist_carries_the_contract_sources_and_data(artefacts):
    with tarfile.open(artefacts["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert set(RUNTIME_FILES) <= names, sorted(set(RUNTIME_FILES) - names)
    assert {"pyproject.toml", "README.md", "cli/main.py"} <= names


def test_the_wheel_carries_the_contract_sources_and_data(artefacts):
    names = set(zipfile.ZipFile(artefacts["wheel"]).namelist())
    assert set(RUNTIME_FILES) <= names, sorted(set(RUNTIME_FILES) - names)
    assert not any(name.startswith(("tests/", "bench/", "tools/")) for name in names)


def test_the_installed_wheel_runs_flexledger_outside_the_repository(artefacts, tmp_path):
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    subprocess.run([environment / "bin" / "python", "-m", "pip", "install", "--quiet", artefacts["wheel"]],
                   check=True, capture_output=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(FLEXLEDGER_HOME=str(tmp_path / "wallet"), FLEXLEDGER_PASSWORD="release-check")
    flexledger = str(environment / "bin" / "flexledger")

    def run(*args: str, timeout: float = 60) -> str:
        done = subprocess.run([flexledger, *args], cwd=elsewhere, env=env, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    where = subprocess.run([environment / "bin" / "python", "-c", "import market; print(market.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(environment)), where
    assert "demo" in run("--help")
    run("node", "init", "--dev", "--node-home", str(tmp_path / "node"))
    assert "issuer" in run("keys", "list")
    (elsewhere / "small_day.toml").write_text(SMALL_DAY)
    output = run("demo", "--scenario", "small_day.toml", "--report", "day.html", timeout=300)
    assert "settled 1 sessions against the meter data" in output, output
    assert (elsewhere / "day.html").is_file() and (elsewhere / "day.json").is_file()
