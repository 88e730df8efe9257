"""Curtailment proposals: which cleared positions to reduce, and by how much, per MTU.

A position is *reduced* towards zero: a consumption (negative injection) consumes less, a
generation (positive injection) generates less; ``reduce_w`` is the W taken off, an
integer between 0 and the position's size. MTUs are independent, so every violated MTU
is treated on its own, all of them in the same vectorised power flows.

Method (rounds of sensitivities, confirmed by repeated AC power flows):

1. Solve the power flow and list the violations (``limits.check``).
2. For each violation, the first-order effect per W of reducing each position (from the
   power-flow Jacobian at the solved point: voltage sensitivities, and line/transformer
   loading through the branch currents). A position *contributes* when reducing it
   relieves the violation by at least :data:`CONTRIBUTION_SHARE` of what the most
   effective position does per W; no other position is touched. So an overload from EV
   charging reduces the loads downstream of the line, an over-voltage from PV reduces
   generation near the bus.
3. The gap to a target just inside the limit (:data:`LOADING_MARGIN_PCT`,
   :data:`VOLTAGE_MARGIN_PU`) is shared among the contributors in proportion to their
   remaining size weighted by their relative effectiveness (``s_i / s_max * r_i``), so
   that equally effective positions give up the same share; amounts round up to whole W
   and are capped at the position's remaining size. A position named by several
   violations gives the largest amount any of them asks for.
4. Confirm with the AC power flow (warm start from the previous solution). The
   linearised step can overshoot where the grid is far from linear, so when the whole
   step clears an MTU, a bisection on a common fraction of the step (all such MTUs in the
   same batched power flows, :data:`LINE_SEARCH_STEPS` halvings) applies only the smallest
   fraction that still leaves the MTU within all limits; otherwise the whole step is
   applied. Repeat until no violation is left, no contributor has anything left to give,
   or :data:`MAX_ROUNDS`.

An MTU that does not converge has no Jacobian to linearise: the positions on the feeders
it could not balance that push in the direction of the stress (consumption when the
feeders import, generation when they export) are capped at a common level (W), found by
bisection over whole W (at most :data:`BISECTION_STEPS` power flows): the highest level
that leaves the MTU within all limits or, if no level does, the highest that lets its
power flow converge. The largest positions give way first; small ones keep what they
have unless the cap falls below them. The rounds above go on from there if needed.

Ties: the rule is symmetric (equally effective, equally sized positions are treated
alike), so no ordering decides an amount; positions and the output are ordered by
(mtu, bus, device).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gridoracle.feeder import FeederModel
from gridoracle.limits import Limits, Violation, check, unbalanced_feeders
from gridoracle.powerflow import PowerFlow, PowerFlowResult, Sensitivities

CONTRIBUTION_SHARE = 0.1
LOADING_MARGIN_PCT = 0.05
VOLTAGE_MARGIN_PU = 1e-4
MAX_ROUNDS = 30
BISECTION_STEPS = 32
LINE_SEARCH_STEPS = 8


@dataclass(frozen=True)
class Curtailment:
    mtu: int
    bus: str
    device: str
    injection_w: int
    reduce_w: int

    @property
    def new_injection_w(self) -> int:
        return self.injection_w - self.reduce_w if self.injection_w > 0 else self.injection_w + self.reduce_w

    def to_list(self) -> list:
        return [self.mtu, self.bus, self.device, self.injection_w, self.reduce_w]


@dataclass(frozen=True)
class Proposal:
    curtailments: tuple[Curtailment, ...]
    resolves: bool
    residual: tuple[Violation, ...]  # violations left once the proposal is applied


class _State:
    """Positions of the violated MTUs as arrays, and what has been taken off so far."""

    def __init__(self, model: FeederModel, positions, rows: dict[int, int]) -> None:
        bus_index = {key: n for n, key in enumerate(model.bus_keys())}
        self.positions = positions
        self.row = np.array([rows[p.mtu] for p in positions], dtype=np.int64)
        self.bus = np.array([bus_index[p.bus] for p in positions], dtype=np.int64)
        self.size = np.array([abs(p.injection_w) for p in positions], dtype=np.int64)
        self.sign = np.array([1 if p.injection_w > 0 else -1 for p in positions], dtype=np.int64)
        self.feeder = [model.buses[b].feeder or "" for b in self.bus]
        self.reduced = np.zeros(len(positions), dtype=np.int64)

    def remaining(self) -> np.ndarray:
        return self.size - self.reduced

    def delta_p(self, reduced: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Change of active injection per (row, bus) caused by reductions ``reduced``."""
        delta = np.zeros(shape)
        np.add.at(delta, (self.row, self.bus), -self.sign * reduced)
        return delta


def effect(model: FeederModel, sens: Sensitivities, flows: PowerFlowResult, row: int, violation: Violation,
            limits: Limits) -> tuple[np.ndarray, float]:
    """Relief of the violation per W of *added* injection at each bus, and the gap to close."""
    kind, key = violation.kind, violation.element.split(":", 1)[1]
    if kind == "line_loading":
        j = [line.key for line in model.lines].index(key)
        return -sens.line_loading_pct[j], flows.line_loading_pct[row, j] - (limits.line_loading_bp / 100 - LOADING_MARGIN_PCT)
    if kind == "trafo_loading":
        j = [trafo.key for trafo in model.trafos].index(key)
        return -sens.trafo_loading_pct[j], flows.trafo_loading_pct[row, j] - (limits.trafo_loading_bp / 100 - LOADING_MARGIN_PCT)
    j = model.bus_keys().index(key)
    if kind == "undervoltage":
        return sens.vm_pu[j], (limits.vm_min_upu / 1e6 + VOLTAGE_MARGIN_PU) - flows.vm_pu[row, j]
    return -sens.vm_pu[j], flows.vm_pu[row, j] - (limits.vm_max_upu / 1e6 - VOLTAGE_MARGIN_PU)


def _sensitivity_round(model, pf, flows, row, violations, limits, state: _State, members: np.ndarray) -> np.ndarray:
    """Reductions asked by the violations of one converged MTU (for the positions ``members``)."""
    want = np.zeros(len(state.positions), dtype=np.int64)
    remaining = state.remaining()
    members = members[remaining[members] > 0]
    if not len(members):
        return want
    buses, where = np.unique(state.bus[members], return_inverse=True)
    sens = pf.sensitivities(flows.v[row], buses)
    for violation in violations:
        relief_per_w, gap = effect(model, sens, flows, row, violation, limits)
        # Reducing a position moves its injection by -sign W per W: relief = -sign * relief_per_w.
        s = -state.sign[members] * relief_per_w[where]
        s_max = s.max()
        if s_max <= 0:
            continue
        take = s >= CONTRIBUTION_SHARE * s_max
        weights = s[take] / s_max * remaining[members[take]]
        phi = gap / float(np.sum(s[take] * weights))
        amounts = np.minimum(remaining[members[take]], np.ceil(phi * weights).astype(np.int64))
        want[members[take]] = np.maximum(want[members[take]], amounts)
    return want


def _capped(model, pf, limits, mtu: int, p_row, q_row, state: _State, members: np.ndarray) -> np.ndarray:
    """Reductions capping ``members`` at the highest common level (W) that restores the MTU.

    The level is the highest that leaves the MTU within all limits, or, when no level does,
    the highest that lets its power flow converge (the sensitivity rounds go on from there).
    """
    remaining = state.remaining()[members]
    bus, sign = state.bus[members], state.sign[members]

    def cut(cap: int) -> np.ndarray:
        return np.maximum(remaining - cap, 0)

    def solved(cap: int) -> PowerFlowResult:
        p = p_row.copy()
        np.add.at(p, bus, -sign * cut(cap))
        return pf.solve(p[None, :], q_row[None, :])

    def within(cap: int) -> bool:
        flows = solved(cap)
        return bool(flows.converged[0]) and not check(model, flows, [mtu], limits)

    def converges(cap: int) -> bool:
        return bool(solved(cap).converged[0])

    want = np.zeros(len(state.positions), dtype=np.int64)
    for good in (within, converges):
        if good(0):
            low, high = 0, int(remaining.max(initial=0))  # good at `low`, not at `high`
            for _ in range(BISECTION_STEPS):
                if high - low <= 1:
                    break
                middle = (low + high) // 2
                low, high = (middle, high) if good(middle) else (low, middle)
            want[members] = cut(low)
            break
    return want


def _stress_members(model, state: _State, members: np.ndarray, flows: PowerFlowResult, row: int,
                    p_row: np.ndarray) -> np.ndarray:
    """Positions on the unbalanced feeders pushing in the direction of their net flow."""
    feeders = set(unbalanced_feeders(model, flows.mismatch_w[row]))
    on = np.array([state.feeder[i] in feeders or "" in feeders for i in members], dtype=bool)
    buses = [n for n, bus in enumerate(model.buses) if (bus.feeder or "") in feeders or "" in feeders]
    direction = 1 if p_row[buses].sum() > 0 else -1
    chosen = members[on]
    return chosen[(state.sign[chosen] == direction) & (state.remaining()[chosen] > 0)]


def _line_search(model, pf, limits, mtus, p_w, q_var, state: _State, want: np.ndarray,
                 rows: np.ndarray, searched: np.ndarray, flows: PowerFlowResult) -> PowerFlowResult:
    """Apply ``want`` to the MTUs ``rows``: for those in ``searched``, only the smallest
    fraction of it (bisection, all MTUs at once) that leaves the MTU within all limits,
    when the whole of it does. Returns the power flow with what was applied."""
    # Warm start from the previous solution; an MTU that did not converge starts afresh.
    start = np.where(flows.converged[rows, None], flows.v[rows], pf.v_noload)

    def reductions(which: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        scale = np.zeros(len(mtus))
        scale[rows[which]] = alpha
        return state.reduced + np.ceil(scale[state.row] * want).astype(np.int64)

    def solve(which: np.ndarray, alpha: np.ndarray) -> tuple[PowerFlowResult, np.ndarray]:
        """Power flow of the MTUs ``rows[which]`` with fractions ``alpha``; which are clean."""
        p = p_w + state.delta_p(reductions(which, alpha), p_w.shape)
        result = pf.solve(p[rows[which]], q_var[rows[which]], v0=start[which])
        session = [mtus[r] for r in rows[which]]
        bad = {v.mtu for v in check(model, result, session, limits)}
        return result, np.array([m not in bad for m in session], dtype=bool)

    everything = np.arange(len(rows))
    best, clean = solve(everything, np.ones(len(rows)))
    search = np.flatnonzero(clean & searched)
    low, high = np.zeros(len(search)), np.ones(len(search))
    for _ in range(LINE_SEARCH_STEPS if len(search) else 0):
        middle = (low + high) / 2
        trial, ok = solve(search, middle)
        best = _merge(best, search[ok], trial, np.flatnonzero(ok))
        high, low = np.where(ok, middle, high), np.where(ok, low, middle)
    alpha = np.ones(len(rows))
    alpha[search] = high
    state.reduced = reductions(everything, alpha)
    return _merge(flows, rows, best, everything)


def propose(model: FeederModel, pf: PowerFlow, limits: Limits, mtus: Sequence[int], p_w: np.ndarray,
            q_var: np.ndarray, positions: Sequence, flows: PowerFlowResult) -> Proposal:
    """Curtailment proposal for the violations of ``flows``.

    ``p_w``/``q_var``/``flows`` are per MTU (rows, in ``mtus`` order) with the positions
    included; ``positions`` are sorted by (mtu, bus, device) and have distinct
    (device, mtu) pairs.
    """
    rows = {int(m): n for n, m in enumerate(mtus)}
    state = _State(model, positions, rows)
    by_row = {r: np.flatnonzero(state.row == r) for r in range(len(mtus))}
    violations = check(model, flows, mtus, limits)
    for _ in range(MAX_ROUNDS):
        if not violations:
            break
        want = np.zeros(len(positions), dtype=np.int64)
        violated = np.array(sorted({rows[v.mtu] for v in violations}), dtype=np.int64)
        p_now = p_w + state.delta_p(state.reduced, p_w.shape)
        for row in violated:
            members = by_row[row]
            if not flows.converged[row]:
                chosen = _stress_members(model, state, members, flows, row, p_now[row])
                asked = _capped(model, pf, limits, mtus[row], p_now[row], q_var[row], state, chosen)
            else:
                mine = [v for v in violations if v.mtu == mtus[row]]
                asked = _sensitivity_round(model, pf, flows, row, mine, limits, state, members)
            want = np.maximum(want, asked)
        if not want.any():
            break
        searched = flows.converged[violated]
        flows = _line_search(model, pf, limits, mtus, p_w, q_var, state, want, violated, searched, flows)
        violations = check(model, flows, mtus, limits)
    curtailments = tuple(Curtailment(p.mtu, p.bus, p.device, p.injection_w, int(r))
                         for p, r in zip(positions, state.reduced) if r)
    return Proposal(curtailments=curtailments, resolves=not violations, residual=tuple(violations))


def _merge(flows: PowerFlowResult, rows: np.ndarray, part: PowerFlowResult, part_rows: np.ndarray) -> PowerFlowResult:
    """``flows`` with its ``rows`` replaced by the ``part_rows`` of ``part``."""
    fields = {}
    for name in PowerFlowResult.__dataclass_fields__:
        array = getattr(flows, name).copy()
        array[rows] = getattr(part, name)[part_rows]
        fields[name] = array
    return PowerFlowResult(**fields)
