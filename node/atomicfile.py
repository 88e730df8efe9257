"""Crash-safe file replacement: write a temporary file, fsync it, then rename it over the target.

A reader (or a process restarted after a crash) sees either the old contents or the new,
never a half-written file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: Path, doc: Any, mode: int = 0o644, indent: int | None = 2) -> None:
    write_atomic(path, (json.dumps(doc, indent=indent) + "\n").encode(), mode)
