"""Validation of a session's cleared positions against the grid: the oracle's verdict.

A **position** is a device's cleared net injection in one MTU: ``injection_w`` W into the
grid (positive: the device exports/generates; negative: it consumes), at unity power
factor, at the device's bus. A market position of ``q`` Wh bought (``bought - sold``) in a
15-minute MTU is ``injection_w = -4 * q``. Each (device, MTU) pair appears at most once.

For each MTU of the session the net injection per bus is the forecast (generation minus
load, and the load's reactive power) plus the positions at that bus; one vectorised AC
power flow covers all MTUs, and every line, transformer and bus is checked against the
limits (``limits.py``). A violated verdict carries a curtailment proposal (``curtail.py``).

**Background**: positions already accepted in other sessions for the same MTUs (another
session's trades, awarded flexibility) are part of the grid the session must fit in. They
are added to the injections like the forecast, but never curtailed: the proposal reduces
only the session's own positions.

Input hash: SHA-256 (hex) of the canonical encoding (``node.encoding``: msgpack, fixed
field order) of::

    ["flexledger-grid-input-v3", model_id, forecast_id, mtus, positions, limits, background]

``model_id`` is ``PowerFlow.model_id``, ``forecast_id`` is ``Forecast.id``, ``mtus`` the
session's MTUs ascending, ``positions`` and ``background`` the rows ``[mtu, bus, device,
injection_w]`` sorted ascending (background only in the session's MTUs), ``limits``
``[line_loading_bp, trafo_loading_bp, vm_min_upu, vm_max_upu, curtail_to_bp]``.

Verdict record (``Verdict.to_list``, what the oracle signs)::

    ["flexledger-grid-verdict-v1", input_hash, "approved" | "violated", mtus,
     violations:   [[mtu, element, kind, value, limit, feeder], ...],
     curtailment:  [[mtu, bus, device, injection_w, reduce_w], ...],
     resolves]

A violation is any value beyond ``limits``; the curtailment proposal brings the session
within ``limits.curtailment_target()`` (the safety margin). ``resolves`` is true when the
proposal, applied in W, leaves nothing beyond that target (always true for an approved
verdict, whose curtailment is empty). What the market will apply, rounded to Wh and with
the counterparties of the curtailed trades, is confirmed separately (``applied.py``).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gridoracle.curtail import Curtailment, Proposal, propose
from gridoracle.feeder import FeederModel
from gridoracle.forecast import Forecast
from gridoracle.limits import Limits, Violation, check
from gridoracle.powerflow import PowerFlow, PowerFlowResult
from node.encoding import encode, sha256


class PositionError(ValueError):
    """Positions or MTUs the oracle cannot validate."""


@dataclass(frozen=True, order=True)
class Position:
    mtu: int
    bus: str
    device: str
    injection_w: int

    def to_list(self) -> list:
        return [self.mtu, self.bus, self.device, self.injection_w]


def energy_positions(traded: Mapping[tuple[int, str], int], buses: Mapping[str, str]) -> list[Position]:
    """Positions of an energy session's {(mtu, device): Wh bought - sold}: ``-4`` W per Wh (a
    quarter hour), at the device's bus ``buses[device]``; zero positions left out."""
    return sorted(Position(mtu, buses[device], device, -4 * wh) for (mtu, device), wh in traded.items() if wh)


@dataclass(frozen=True)
class Verdict:
    input_hash: str
    approved: bool
    mtus: tuple[int, ...]
    violations: tuple[Violation, ...]
    curtailment: tuple[Curtailment, ...]
    resolves: bool
    residual: tuple[Violation, ...]  # violations the curtailment leaves (not signed)
    flows: PowerFlowResult  # the power flow behind the verdict (not signed)

    def to_list(self) -> list:
        return ["flexledger-grid-verdict-v1", self.input_hash, "approved" if self.approved else "violated",
                list(self.mtus), [v.to_list() for v in self.violations],
                [c.to_list() for c in self.curtailment], self.resolves]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class GridValidator:
    """Validates sessions for one feeder model, forecast and set of limits."""

    def __init__(self, model: FeederModel, forecast: Forecast, limits: Limits | None = None) -> None:
        if forecast.load_w.shape[1] != len(model.buses):
            raise ValueError("the forecast was loaded for another feeder model")
        self.model, self.forecast = model, forecast
        self.limits = limits or Limits()
        self.powerflow = PowerFlow(model)
        self._bus_index = {key: n for n, key in enumerate(model.bus_keys())}

    def _checked(self, positions: Iterable[Position], mtus: Iterable[int]) -> tuple[list[Position], list[int]]:
        mtu_list = list(mtus)
        if not mtu_list:
            raise PositionError("no MTUs to validate")
        for mtu in mtu_list:
            if not _is_int(mtu) or mtu < 0:
                raise PositionError(f"MTU must be a non-negative integer, got {mtu!r}")
        if len(set(mtu_list)) != len(mtu_list):
            raise PositionError("duplicate MTU in the session")
        session = set(mtu_list)
        seen: set[tuple[str, int]] = set()
        out = []
        for position in positions:
            if not isinstance(position.device, str) or not position.device:
                raise PositionError(f"device must be a non-empty string, got {position.device!r}")
            if position.bus not in self._bus_index:
                raise PositionError(f"unknown bus {position.bus!r} for device {position.device!r}")
            if not _is_int(position.injection_w):
                raise PositionError(f"injection_w must be an integer (W), got {position.injection_w!r}")
            if position.mtu not in session:
                raise PositionError(f"MTU {position.mtu!r} of device {position.device!r} is not in the session")
            if (position.device, position.mtu) in seen:
                raise PositionError(f"duplicate position for device {position.device!r} in MTU {position.mtu}")
            seen.add((position.device, position.mtu))
            # Plain built-in types from here on (str subclasses have no canonical encoding).
            out.append(Position(int(position.mtu), str(position.bus), str(position.device), position.injection_w))
        return sorted(out), sorted(mtu_list)

    def _background(self, background: Iterable[Position], mtus: list[int]) -> list[Position]:
        window = set(mtus)
        return self._checked([p for p in background if p.mtu in window], mtus)[0]

    def input_hash(self, positions: Sequence[Position], mtus: Sequence[int], background: Iterable[Position] = ()) -> str:
        positions, mtus = self._checked(positions, mtus)
        return self._hash(positions, mtus, self._background(background, mtus))

    def _hash(self, positions: list[Position], mtus: list[int], background: list[Position]) -> str:
        record = ["flexledger-grid-input-v3", self.powerflow.model_id, self.forecast.id, mtus,
                  [p.to_list() for p in positions], self.limits.to_list(), [p.to_list() for p in background]]
        return sha256(encode(record)).hex()

    def injections(self, positions: Sequence[Position], mtus: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Net injection per MTU (rows, ``mtus`` order) and bus (model order), W and var."""
        p_w, q_var = self.forecast.injections(mtus)
        row = {m: n for n, m in enumerate(mtus)}
        for position in positions:
            p_w[row[position.mtu], self._bus_index[position.bus]] += position.injection_w
        return p_w, q_var

    def _solved(self, positions: Iterable[Position], mtus: Iterable[int], background: Iterable[Position]):
        """Checked positions, MTUs and background, the injections and their power flow."""
        positions, mtus = self._checked(positions, mtus)
        background = self._background(background, mtus)
        p_w, q_var = self.injections(positions + background, mtus)
        return positions, mtus, background, p_w, q_var, self.powerflow.solve(p_w, q_var)

    def validate(self, positions: Iterable[Position], mtus: Iterable[int],
                 background: Iterable[Position] = ()) -> Verdict:
        """The verdict on a session's positions over its MTUs, on top of the ``background``
        (other sessions' accepted positions; one per device and MTU). Raises PositionError on
        bad input."""
        positions, mtus, background, p_w, q_var, flows = self._solved(positions, mtus, background)
        violations = check(self.model, flows, mtus, self.limits)
        proposal = Proposal(curtailments=(), resolves=True, residual=())
        if violations:
            proposal = propose(self.model, self.powerflow, self.limits.curtailment_target(), mtus, p_w, q_var,
                               positions, flows)
        return Verdict(input_hash=self._hash(positions, mtus, background), approved=not violations, mtus=tuple(mtus),
                       violations=tuple(violations), curtailment=proposal.curtailments,
                       resolves=proposal.resolves, residual=proposal.residual, flows=flows)

    def curtail(self, positions: Iterable[Position], mtus: Iterable[int],
                background: Iterable[Position] = ()) -> tuple[Proposal, PowerFlowResult]:
        """The positions against the curtailment target (``Limits.curtailment_target``): an
        empty proposal that resolves when nothing is beyond it, otherwise one that reduces the
        positions further; and the power flow of the positions as given."""
        positions, mtus, _background, p_w, q_var, flows = self._solved(positions, mtus, background)
        target = self.limits.curtailment_target()
        return propose(self.model, self.powerflow, target, mtus, p_w, q_var, positions, flows), flows
