"""Counts the inputs every hypothesis test in tests/fuzz tries, and prints them per second after the run."""
from __future__ import annotations

from collections import Counter

from tests.fuzz import TRIED, counting

_SECONDS: Counter[str] = Counter()  # target name -> seconds spent in its test calls


def _target(nodeid: str) -> str | None:
    return nodeid.split("::")[-1].split("[")[0] if "tests/fuzz/" in nodeid else None


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        hypothesis = getattr(getattr(item, "obj", None), "hypothesis", None)
        name = _target(item.nodeid)
        if hypothesis is not None and name and not getattr(hypothesis.inner_test, "counted", False):
            hypothesis.inner_test = counting(hypothesis.inner_test, name)  # once per function, not per parameter
            hypothesis.inner_test.counted = True


def pytest_runtest_logreport(report) -> None:
    name = _target(report.nodeid)
    if report.when == "call" and name in TRIED:
        _SECONDS[name] += report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    if not TRIED:
        return
    terminalreporter.section("fuzz targets: inputs tried")
    for name in sorted(TRIED):
        seconds = _SECONDS[name]
        rate = f"{TRIED[name] / seconds:10.0f}/s" if seconds else "          -"
        terminalreporter.write_line(f"{name:<60} {TRIED[name]:>8} inputs {seconds:8.2f} s {rate}")
