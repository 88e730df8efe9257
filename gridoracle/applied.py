"""The curtailment as the market will apply it: in Wh, to the trades, confirmed by a power flow.

The proposal (``curtail.py``) reduces positions in W and is checked in W.  The market
contract applies the attested curtailment to the session's trades instead
(``market.attestation.apply_curtailment`` states its rule): each row ``[mtu, device, wh]``
takes ``wh`` Wh off the device's position, from its last trade backwards, and **the
counterparty of every trade it reduces loses the same Wh**.  A proposal that only just
clears a limit is therefore not what is settled: in the demo, the EV depot at R18 bought
from the supply at R1, and cutting the depot's purchases cut the supply's sales too; less
feed-in at R1 lowered the feeder's voltage and left Line R1-R2 at 100.1 % (issue 18).

``applied_curtailment`` (inputs in, result out) therefore attests only what it has checked:

1. each ``reduce_w`` becomes ``ceil(reduce_w / 4)`` Wh (``wh_from_w``: more curtailment,
   never less), added up per (MTU, device);
2. capped as the contract caps it, in report order (``capped_curtailment``);
3. the trades after it become positions (``-4 W`` per Wh bought - sold), and one power flow
   of them on top of the ``background`` (what is not curtailed: the other sessions and the
   session's awarded flexibility, one position per device and MTU) is checked against the
   curtailment target (``Limits.curtailment_target``, the DSO's safety margin);
4. anything left beyond it gets a further proposal on those positions; its Wh are added to
   the cuts and it goes back to 2 (at most :data:`MAX_ROUNDS` power flows), until nothing
   is left, or nothing the contract would apply changes.

``resolves`` is true only when the last power flow, of exactly the trades the contract will
store, has nothing beyond the target.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gridoracle.limits import Violation, check
from gridoracle.powerflow import PowerFlowResult
from gridoracle.validate import GridValidator, Position, energy_positions
from market.attestation import Curtailment, capped_curtailment, positions, wh_from_w

MAX_ROUNDS = 10


@dataclass(frozen=True)
class Trades:
    """An energy session's trades as the contract stores them."""
    first_mtu: int
    rows: Sequence[Sequence[int]]  # [mtu offset, bid_seq, offer_seq, qty, pays, gets]
    devices: Mapping[int, str]  # order seq -> device
    buses: Mapping[str, str]  # device -> model bus key


@dataclass(frozen=True)
class AppliedCurtailment:
    curtailment: tuple[Curtailment, ...]  # the report's rows, as the contract accepts them
    kept_wh: dict[tuple[int, str], int]  # (mtu, device) -> Wh bought - sold left, for each position it changes
    resolves: bool  # the trades after it are within the curtailment target
    residual: tuple[Violation, ...]  # what they still leave beyond it
    flows: PowerFlowResult  # their power flow (rows: the MTUs ascending)


def _in_wh(reductions: Iterable) -> dict[tuple[int, str], int]:
    """W reductions (``curtail.Curtailment``) as Wh per (mtu, device), each rounded up."""
    wanted: dict[tuple[int, str], int] = {}
    for reduction in reductions:
        key = (reduction.mtu, reduction.device)
        wanted[key] = wanted.get(key, 0) + wh_from_w(reduction.reduce_w)
    return wanted


def applied_curtailment(validator: GridValidator, trades: Trades, proposal: Iterable, mtus: Iterable[int],
                        background: Iterable[Position] = ()) -> AppliedCurtailment:
    """The curtailment to attest for ``proposal`` (``curtail.Curtailment`` rows in W) and the
    check of the trades it leaves (see the module docstring)."""
    mtus, background = sorted(mtus), list(background)
    before = positions(trades.rows, trades.devices, trades.first_mtu)
    wanted, cuts = _in_wh(proposal), None
    for _ in range(MAX_ROUNDS):
        rows, applied = capped_curtailment(trades.rows, trades.devices, trades.first_mtu,
                                           [Curtailment(mtu, device, wh) for (mtu, device), wh in sorted(wanted.items())])
        if applied == cuts:
            break  # the further proposal changes nothing the contract would apply
        cuts, after = applied, positions(rows, trades.devices, trades.first_mtu)
        further, flows = validator.curtail(energy_positions(after, trades.buses), mtus, background)
        if not further.curtailments:
            break
        for key, wh in _in_wh(further.curtailments).items():
            wanted[key] = wanted.get(key, 0) + wh
    residual = tuple(check(validator.model, flows, mtus, validator.limits.curtailment_target()))
    kept = {key: after.get(key, 0) for key in before if after.get(key, 0) != before[key]}
    return AppliedCurtailment(curtailment=cuts, kept_wh=kept, resolves=not residual, residual=residual, flows=flows)
