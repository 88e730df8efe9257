"""Operating limits and the violations a power-flow result breaks, in integer units.

Violation kinds: ``line_loading``, ``trafo_loading``, ``undervoltage``, ``overvoltage``,
``nonconvergence``; each names its element (``line:``, ``trafo:``, ``bus:`` ids, or
``feeder:<name>``/``grid``) and the feeder it belongs to ("" upstream of every feeder).

Units (integers, as they go on chain): loading in basis points of the element's rating
(1 bp = 0.01 %, so 10000 = 100 %), voltage magnitude in micro-p.u. (1000000 = 1 p.u.).

**Safety margin** (``curtail_to_bp``, basis points of the limit, 10000 by default): a
violation is still any value beyond the limit, but a curtailment must bring every line and
transformer down to ``curtail_to_bp`` of its loading limit (``curtailment_target``, rounded
down: 9800 curtails to 98 % of the rating). The voltage band is the same for both.

A value is rounded *outward* before it is compared, so that the integer in a violation is
always beyond its limit: loading and over-voltage round up (ceil), under-voltage rounds
down (floor). A violation is declared exactly when the rounded value is beyond the limit:
``value > limit`` for loading and over-voltage, ``value < limit`` for under-voltage.

An MTU whose power flow does not converge gets one ``nonconvergence`` violation per feeder
whose buses the last iterate could not balance (element ``feeder:<name>``; ``grid`` when
the unbalanced buses belong to no feeder), with value and limit 0; no other check runs for
that MTU.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # type hints only: the CLI reads Limits without loading pandapower
    from gridoracle.feeder import FeederModel
    from gridoracle.powerflow import PowerFlowResult

#: A bus whose power mismatch (W) stays above this at the last iterate is unbalanced.
UNBALANCED_W = 1.0


@dataclass(frozen=True)
class Limits:
    line_loading_bp: int = 10_000
    trafo_loading_bp: int = 10_000
    vm_min_upu: int = 900_000
    vm_max_upu: int = 1_100_000
    curtail_to_bp: int = 10_000

    def __post_init__(self) -> None:
        for name in ("line_loading_bp", "trafo_loading_bp", "vm_min_upu", "vm_max_upu", "curtail_to_bp"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.vm_min_upu >= self.vm_max_upu:
            raise ValueError("vm_min_upu must be below vm_max_upu")
        if self.curtail_to_bp > 10_000:
            raise ValueError(f"curtail_to_bp must be at most 10000 (the limit itself), got {self.curtail_to_bp}")

    def to_list(self) -> list[int]:
        return [self.line_loading_bp, self.trafo_loading_bp, self.vm_min_upu, self.vm_max_upu, self.curtail_to_bp]

    def curtailment_target(self) -> Limits:
        """The limits a curtailment must reach: loading limits times ``curtail_to_bp``, rounded down."""
        return Limits(self.line_loading_bp * self.curtail_to_bp // 10_000,
                      self.trafo_loading_bp * self.curtail_to_bp // 10_000, self.vm_min_upu, self.vm_max_upu)


@dataclass(frozen=True, order=True)
class Violation:
    mtu: int
    element: str
    kind: str
    value: int
    limit: int
    feeder: str  # "" for an element upstream of every feeder

    def to_list(self) -> list:
        return [self.mtu, self.element, self.kind, self.value, self.limit, self.feeder]


def loading_bp(loading_pct: np.ndarray) -> np.ndarray:
    return np.ceil(loading_pct * 100.0)


def over_upu(vm_pu: np.ndarray) -> np.ndarray:
    return np.ceil(vm_pu * 1e6)


def under_upu(vm_pu: np.ndarray) -> np.ndarray:
    return np.floor(vm_pu * 1e6)


def unbalanced_feeders(model: FeederModel, mismatch_w: np.ndarray) -> list[str]:
    """Feeders (sorted; "" for buses upstream of every feeder) a non-converged MTU could not balance."""
    bad = ~(mismatch_w <= UNBALANCED_W)  # NaN counts as unbalanced
    return sorted({bus.feeder or "" for bus, flag in zip(model.buses, bad) if flag}) or [""]


def check(model: FeederModel, flows: PowerFlowResult, mtus: Sequence[int], limits: Limits) -> list[Violation]:
    """Every violation in ``flows`` (rows are ``mtus``), sorted by (mtu, element, kind)."""
    found: list[Violation] = []
    for row in np.flatnonzero(~flows.converged):
        found += [Violation(int(mtus[row]), f"feeder:{feeder}" if feeder else "grid", "nonconvergence", 0, 0, feeder)
                  for feeder in unbalanced_feeders(model, flows.mismatch_w[row])]
    checks = (  # rows that did not converge are NaN and never compare true
        (model.lines, loading_bp(flows.line_loading_pct), limits.line_loading_bp, "line_loading", 1),
        (model.trafos, loading_bp(flows.trafo_loading_pct), limits.trafo_loading_bp, "trafo_loading", 1),
        (model.buses, under_upu(flows.vm_pu), limits.vm_min_upu, "undervoltage", -1),
        (model.buses, over_upu(flows.vm_pu), limits.vm_max_upu, "overvoltage", 1),
    )
    for elements, values, limit, kind, direction in checks:
        for row, j in zip(*np.nonzero(values * direction > limit * direction)):
            found.append(Violation(int(mtus[row]), elements[j].id, kind, int(values[row, j]), limit,
                                   elements[j].feeder or ""))
    return sorted(found)
