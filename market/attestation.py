"""Grid attestation reports: build them in Python, and what the market contract does with them.

The DSO grid oracle sends ``market.attest(session, report)`` signed with the genesis oracle
key; ``Report.to_value()`` is the ``report`` argument (see docs/market.md, "Grid regimes
and attestations").  Everything is integers and ids, no floats::

    {"session": int, "mtus": [int, ...],           # every MTU of the session, ascending
     "input_hash": str,                             # 64 hex digits: sha256 of the oracle's inputs
     "verdict": "approved" | "violated",
     "violations": [[element, value, limit, mtu], ...],   # str, int, int, int
     "curtailment": [[mtu, device, wh], ...]}             # int, str, int >= 1; sorted by (mtu, device)

``positions`` gives the oracle the cleared positions of an energy session (Wh bought minus
sold per device and MTU) from the market's rows; ``wh_from_w`` turns a reduction in W into
Wh; ``apply_curtailment`` and ``apply_override`` are plain-Python statements of the
contract's rules, used by tests to check it, and by the oracle (``capped_curtailment``) to
apply its curtailment exactly as the contract will before it attests it
(``gridoracle.applied``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from node.encoding import encode, sha256

VERDICTS = ("approved", "violated")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ID = re.compile(r"[a-z0-9._-]{1,64}")
_ELEMENT = re.compile(r"[ -~]{1,64}")


class ReportError(ValueError):
    """A report the market contract would reject."""


@dataclass(frozen=True, order=True)
class Violation:
    """An element outside its limit in one MTU: ``value`` and ``limit`` in the element's
    integer unit (the oracle's: e.g. loading in basis points, voltage in micro-p.u.)."""
    element: str
    value: int
    limit: int
    mtu: int

    def to_value(self) -> list:
        return [self.element, self.value, self.limit, self.mtu]


@dataclass(frozen=True, order=True)
class Curtailment:
    """Take ``wh`` Wh off ``device``'s traded position in absolute MTU ``mtu``."""
    mtu: int
    device: str
    wh: int

    def to_value(self) -> list:
        return [self.mtu, self.device, self.wh]


@dataclass(frozen=True)
class Report:
    session: int
    mtus: tuple[int, ...]
    input_hash: str
    verdict: str
    violations: tuple[Violation, ...] = field(default=())
    curtailment: tuple[Curtailment, ...] = field(default=())

    def __post_init__(self) -> None:
        if not _HEX64.fullmatch(self.input_hash):
            raise ReportError("input_hash must be 64 hex digits")
        if self.verdict not in VERDICTS:
            raise ReportError("verdict must be approved or violated")
        if list(self.mtus) != sorted(set(self.mtus)) or not self.mtus:
            raise ReportError("mtus must be distinct and ascending")
        if self.verdict == "approved" and (self.violations or self.curtailment):
            raise ReportError("an approved report has no violations and no curtailment")
        if self.verdict == "violated" and not self.violations:
            raise ReportError("a violated report lists its violations")
        for v in self.violations:
            if not _ELEMENT.fullmatch(v.element) or v.mtu not in self.mtus:
                raise ReportError(f"bad violation {v}")
        keys = [(c.mtu, c.device) for c in self.curtailment]
        if keys != sorted(set(keys)):
            raise ReportError("curtailment must be sorted and distinct by (mtu, device)")
        for c in self.curtailment:
            if c.wh < 1 or c.mtu not in self.mtus or not _ID.fullmatch(c.device):
                raise ReportError(f"bad curtailment {c}")

    def to_value(self) -> dict:
        """The ``report`` argument of ``market.attest``."""
        return {"session": self.session, "mtus": list(self.mtus), "input_hash": self.input_hash,
                "verdict": self.verdict, "violations": [v.to_value() for v in self.violations],
                "curtailment": [c.to_value() for c in self.curtailment]}

    @classmethod
    def from_value(cls, value: Mapping) -> "Report":
        """The report of a ``to_value()`` dict (e.g. kept in a file); ReportError if malformed."""
        try:
            return cls(int(value["session"]), tuple(value["mtus"]), value["input_hash"], value["verdict"],
                       tuple(Violation(*row) for row in value["violations"]),
                       tuple(Curtailment(*row) for row in value["curtailment"]))
        except (KeyError, TypeError) as exc:
            raise ReportError(f"not a report: {exc}") from None

    def encode(self) -> bytes:
        """The canonical bytes of the report (msgpack, fixed field order)."""
        return encode(["flexledger-attestation-v1", *self.to_value().values()])

    def hash(self) -> str:
        return sha256(self.encode()).hex()


def build_report(session: Mapping, input_hash: str, violations: Iterable[Sequence] = (),
                 curtailment: Iterable[Sequence] = ()) -> Report:
    """A report for ``session`` (the market's session record): violations as (element,
    value, limit, mtu), curtailment as (mtu, device, wh); the verdict is "violated" when
    there is any violation.  Curtailment rows are sorted; rows for the same (mtu, device)
    are added up."""
    mtus = tuple(range(session["first_mtu"], session["first_mtu"] + session["n_mtus"]))
    found = tuple(sorted(Violation(str(e), int(v), int(lim), int(m)) for e, v, lim, m in violations))
    totals: dict[tuple[int, str], int] = {}
    for mtu, device, wh in curtailment:
        totals[(int(mtu), str(device))] = totals.get((int(mtu), str(device)), 0) + int(wh)
    cuts = tuple(Curtailment(m, d, wh) for (m, d), wh in sorted(totals.items()) if wh > 0)
    return Report(int(session["id"]), mtus, input_hash, "violated" if found else "approved", found, cuts)


def wh_from_w(reduce_w: int) -> int:
    """A power reduction held for one MTU (W) as energy (Wh), rounded up so the cut is never
    smaller than the oracle asked for."""
    return -(-reduce_w // 4)


def positions(rows: Iterable[Sequence[int]], devices: Mapping[int, str], first_mtu: int) -> dict[tuple[int, str], int]:
    """Cleared positions of an energy session: {(absolute mtu, device): Wh bought - sold}
    from its result rows [mtu, bid_seq, offer_seq, qty, pays, gets] and {seq: device}."""
    out: dict[tuple[int, str], int] = {}
    for mtu, bid, offer, qty, _pays, _gets in rows:
        for seq, sign in ((bid, 1), (offer, -1)):
            key = (first_mtu + mtu, devices[seq])
            out[key] = out.get(key, 0) + sign * qty
    return out


def _reduce(row: list[int], qty: int) -> list[int]:
    return [row[0], row[1], row[2], qty, row[4] * qty // row[3], row[5] * qty // row[3]]


def apply_curtailment(rows: Sequence[Sequence[int]], devices: Mapping[int, str], first_mtu: int,
                      curtailment: Iterable[Curtailment]) -> list[list[int]]:
    """The contract's rule: for each curtailment in order, the device's position in the MTU
    (bought - sold over its rows with qty > 0, rows where it is on both sides left out) is
    reduced towards zero by ``wh`` (at most its size): its trades on the position's side are
    reduced from the last row backwards; payments scale to ``pays * new_qty // old_qty``
    (round down, each side).  The counterparty of a reduced trade loses the same Wh."""
    return _curtailed(rows, devices, first_mtu, curtailment, capped=False)[0]


def capped_curtailment(rows: Sequence[Sequence[int]], devices: Mapping[int, str], first_mtu: int,
                       curtailment: Iterable[Curtailment]) -> tuple[list[list[int]], tuple[Curtailment, ...]]:
    """``curtailment`` as the contract can apply it, in order: each ``wh`` capped at the
    position the curtailments before it leave (a device loses Wh as the counterparty of
    another's cut), cuts of nothing (or of a device without trades) left out.  Returns the
    rows after it and the curtailment that the contract accepts as it is."""
    return _curtailed(rows, devices, first_mtu, curtailment, capped=True)


def _curtailed(rows, devices, first_mtu, curtailment, capped: bool) -> tuple[list[list[int]], tuple[Curtailment, ...]]:
    out = [list(row) for row in rows]
    sides: dict[tuple[int, str], list[tuple[int, int]]] = {}
    for k, row in enumerate(out):
        buyer, seller = devices[row[1]], devices[row[2]]
        if buyer != seller:
            sides.setdefault((first_mtu + row[0], buyer), []).append((k, 1))
            sides.setdefault((first_mtu + row[0], seller), []).append((k, -1))
    applied = []
    for cut in curtailment:
        found = [(k, sign) for k, sign in sides.get((cut.mtu, cut.device), []) if out[k][3] > 0]
        position = sum(sign * out[k][3] for k, sign in found)
        wh = min(cut.wh, abs(position)) if capped else cut.wh
        if not found and not capped:
            raise ReportError(f"curtailment {cut} names no trade")
        if wh > abs(position):
            raise ReportError(f"curtailment {cut} exceeds the position of {abs(position)} Wh")
        if wh < 1:
            continue
        applied.append(Curtailment(cut.mtu, cut.device, wh))
        side, left = (1 if position > 0 else -1), wh
        for k, sign in reversed(found):
            if not left:
                break
            if sign == side:
                take = min(left, out[k][3])
                out[k] = _reduce(out[k], out[k][3] - take)
                left -= take
    return out, tuple(applied)


def apply_override(rows: Sequence[Sequence[int]], first_mtu: int,
                   trades: Iterable[Sequence[int]]) -> list[list[int]]:
    """The RED override: each [mtu, bid_seq, offer_seq, qty] sets that trade to qty."""
    out = [list(row) for row in rows]
    for mtu, bid, offer, qty in trades:
        k = next(k for k, row in enumerate(out) if (first_mtu + row[0], row[1], row[2]) == (mtu, bid, offer))
        out[k] = _reduce(out[k], qty)
    return out
