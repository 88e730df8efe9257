"""Python stack headroom for the compiler and the interpreter.

The language limits (nesting, frames, call depth, value depth) bound how deep
the Python stack can get while compiling or running a contract.  Before
working we make sure the interpreter's recursion limit leaves that much room
above the caller's current depth, so a RecursionError never happens and the
result never depends on how deep in the node's stack the VM was called.
"""

from __future__ import annotations

import sys

_MARGIN = 1000  # C-level recursion not visible as Python frames
_STEP = 4096    # raise in coarse steps, so the limit settles after the first call


def _current_depth() -> int:
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


def ensure_headroom(frames: int) -> None:
    """Raise (never lower) the recursion limit to leave ``frames`` free frames."""
    needed = _current_depth() + frames + _MARGIN
    if sys.getrecursionlimit() < needed:
        sys.setrecursionlimit(-(-needed // _STEP) * _STEP)
