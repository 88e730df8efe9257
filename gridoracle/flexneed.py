"""The flexibility the oracle asks for when a cleared schedule violates a limit (USEF "validate").

From a violated verdict (``validate.Verdict``) and its curtailment proposal:

- **window**: from the first to the last violated MTU;
- **direction**: ``up`` (less consumption or more generation) when the proposal mostly
  reduces consumption, ``down`` when it mostly reduces generation;
- **power**: the largest total reduction the proposal asks for in one MTU, plus
  ``margin_pct`` percent, rounded up to whole W;
- **buses**: where a change in that direction relieves the violations: every bus of the
  violated feeders whose relief per W is at least ``curtail.CONTRIBUTION_SHARE`` of the
  best bus's, for some violation of a converged MTU (first-order sensitivities at the solved
  point).  Empty (the whole feeder) when an MTU did not converge.

No proposal (nothing the market could give up) means no flexibility need: ``None``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridoracle.curtail import CONTRIBUTION_SHARE, effect
from gridoracle.validate import GridValidator, Verdict


@dataclass(frozen=True)
class FlexNeed:
    direction: str
    power_w: int
    first_mtu: int
    n_mtus: int
    buses: tuple[str, ...]  # model bus keys; empty: the whole feeder


def relief_buses(validator: GridValidator, verdict: Verdict, direction: str) -> tuple[str, ...]:
    model, flows = validator.model, verdict.flows
    feeders = {v.feeder for v in verdict.violations}
    candidates = np.array([b for b, bus in enumerate(model.buses) if bus.feeder in feeders], dtype=np.int64)
    if not len(candidates):
        return ()
    sign = 1.0 if direction == "up" else -1.0
    row_of = {mtu: row for row, mtu in enumerate(verdict.mtus)}
    chosen = np.zeros(len(candidates), dtype=bool)
    for mtu in sorted({v.mtu for v in verdict.violations}):
        row = row_of[mtu]
        if not flows.converged[row]:
            return ()
        sens = validator.powerflow.sensitivities(flows.v[row], candidates)
        for violation in (v for v in verdict.violations if v.mtu == mtu):
            relief = sign * effect(model, sens, flows, row, violation, validator.limits)[0]
            if relief.max() > 0:
                chosen |= relief >= CONTRIBUTION_SHARE * relief.max()
    return tuple(sorted(model.buses[b].key for b in candidates[chosen]))


def flex_need(validator: GridValidator, verdict: Verdict, margin_pct: int) -> FlexNeed | None:
    if verdict.approved or not verdict.curtailment:
        return None
    per_mtu: dict[int, int] = {}
    up = down = 0
    for cut in verdict.curtailment:
        per_mtu[cut.mtu] = per_mtu.get(cut.mtu, 0) + cut.reduce_w
        if cut.injection_w < 0:
            up += cut.reduce_w
        else:
            down += cut.reduce_w
    direction = "up" if up >= down else "down"
    power = -(-max(per_mtu.values()) * (100 + margin_pct) // 100)
    violated = sorted({v.mtu for v in verdict.violations})
    return FlexNeed(direction, power, violated[0], violated[-1] - violated[0] + 1,
                    relief_buses(validator, verdict, direction))
