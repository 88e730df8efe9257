"""The oracle's latest power-flow results, kept for ``flexledger grid show`` and the demo report.

``<home>/latest.json`` holds the most recent validations (at most :data:`KEEP`), newest
last, each::

    {"session": 3, "kind": "energy", "feeder": "r", "stage": "cleared" | "with flexibility",
     "input_hash": "...", "verdict": "approved" | "violated", "mtus": [...],
     "lines":  {"line:Line R1-R2": [loading % per MTU], ...},
     "trafos": {"trafo:Trafo R0-R1": [...], ...},
     "buses":  {"bus:Bus R1": [vm p.u. per MTU], ...},
     "violations": [[mtu, element, kind, value, limit, feeder], ...]}

Loadings are rounded to 0.01 %, voltages to 1e-5 p.u.; an MTU whose power flow did not
converge has null values.  The file is advisory (the attestations on chain are the record)
and is replaced atomically.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from node.atomicfile import write_json_atomic

if TYPE_CHECKING:  # type hints only: `flexledger grid show` reads snapshots without loading pandapower
    import numpy as np

    from gridoracle.validate import GridValidator, Verdict

KEEP = 20


def _series(values: np.ndarray, converged: np.ndarray, digits: int) -> list:
    return [round(float(v), digits) if ok else None for v, ok in zip(values, converged)]


def snapshot(validator: GridValidator, verdict: Verdict, session: dict, stage: str) -> dict:
    model, flows = validator.model, verdict.flows
    ok = flows.converged
    return {"session": session["id"], "kind": session["kind"], "feeder": session["feeder"], "stage": stage,
            "input_hash": verdict.input_hash, "verdict": "approved" if verdict.approved else "violated",
            "mtus": list(verdict.mtus),
            "lines": {line.id: _series(flows.line_loading_pct[:, j], ok, 2) for j, line in enumerate(model.lines)},
            "trafos": {t.id: _series(flows.trafo_loading_pct[:, j], ok, 2) for j, t in enumerate(model.trafos)},
            "buses": {bus.id: _series(flows.vm_pu[:, j], ok, 5) for j, bus in enumerate(model.buses)},
            "violations": [v.to_list() for v in verdict.violations]}


def load_snapshots(path: Path) -> list[dict]:
    try:
        return json.loads(Path(path).read_text())["validations"]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def save_snapshot(path: Path, validator: GridValidator, verdict: Verdict, session: dict, stage: str) -> None:
    entry = snapshot(validator, verdict, session, stage)
    kept = [s for s in load_snapshots(path) if (s.get("session"), s.get("stage")) != (session["id"], stage)]
    write_json_atomic(path, {"validations": (kept + [entry])[-KEEP:]}, indent=None)
