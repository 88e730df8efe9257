"""The second Python interpreter of the mixed-version tests.

``$FLEXLEDGER_SECOND_PYTHON`` names it; otherwise ``.venv-mixed/bin/python`` in the repository
(``make`` creates that venv with the newest other supported Python it finds, FlexLedger
installed with ``pip install -e '.[test]'``). The tests skip, saying what was looked for, when
there is none or when it is the same Python version as the one running the tests.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ENV = "FLEXLEDGER_SECOND_PYTHON"
VENV_PYTHON = Path(__file__).resolve().parent.parent / ".venv-mixed" / "bin" / "python"


def version_of(python: str) -> str:
    """``major.minor.micro`` of ``python``; fails the test when it cannot run FlexLedger."""
    probe = subprocess.run([python, "-c", "import platform, node.chain, contracts; print(platform.python_version())"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.fail(f"the second Python interpreter {python} cannot import FlexLedger: {probe.stderr.strip()}")
    return probe.stdout.strip()


def second_python() -> tuple[str, str]:
    """The second interpreter's path and version, or the test is skipped saying why."""
    python = os.environ.get(ENV) or (str(VENV_PYTHON) if VENV_PYTHON.exists() else None)
    if python is None:
        pytest.skip(f"only one Python interpreter: ${ENV} is not set and {VENV_PYTHON} does not exist")
    version = version_of(python)
    if version.split(".")[:2] == [str(part) for part in sys.version_info[:2]]:
        pytest.skip(f"only one Python version: the second interpreter {python} is Python {version}, "
                    f"like the one running the tests")
    return python, version
