"""Governance actions, approved by validators holding more than 2/3 of the voting power.

A governance transaction is an approval of a proposal identified by (action, params). The
first approval opens the proposal; once approvals reach the quorum of the validator set in
force, the action is applied in that same transaction and the proposal is removed. With a
single authority, one approval applies at once. Only validators may approve.

Actions:
- ``set_param {name, value}``: change a chain parameter (node/params.py).
"""
from __future__ import annotations

from typing import Callable

from consensus.types import ValidatorSet
from node import statekeys
from node.encoding import decode, encode, sha256
from node.params import ChainParams
from node.state import Overlay


class GovernanceError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _set_param(overlay: Overlay, params: dict) -> None:
    current = ChainParams.from_bytes(overlay.get(statekeys.PARAMS))
    try:
        updated = current.with_value(params.get("name"), params.get("value"))
    except ValueError as exc:
        raise GovernanceError("bad_governance_params", str(exc)) from None
    overlay.set(statekeys.PARAMS, updated.to_bytes())


ACTIONS: dict[str, Callable[[Overlay, dict], None]] = {"set_param": _set_param}


def proposal_id(action: str, params: dict) -> str:
    return sha256(encode([action, params])).hex()


def approve(overlay: Overlay, sender: str, action: str, params: dict) -> dict:
    """Record ``sender``'s approval; apply the action when the quorum is reached."""
    if action not in ACTIONS:
        raise GovernanceError("unknown_governance_action",
                              f"unknown governance action {action!r} (known: {', '.join(sorted(ACTIONS))})")
    validators = ValidatorSet.from_list(decode(overlay.get(statekeys.VALIDATORS)))
    if validators.by_address(sender) is None:
        raise GovernanceError("not_a_validator", "only validators may approve governance actions")
    key = statekeys.governance(proposal_id(action, params))
    raw = overlay.get(key)
    approvals = decode(raw) if raw is not None else []
    if sender in approvals:
        raise GovernanceError("already_approved", "this validator already approved the proposal")
    approvals.append(sender)
    power = sum(validators.by_address(a).power for a in approvals if validators.by_address(a))
    if power >= validators.quorum():
        ACTIONS[action](overlay, params)
        overlay.delete(key)
        return {"applied": True, "approvals": approvals}
    overlay.set(key, encode(approvals))
    return {"applied": False, "approvals": approvals, "power": power, "quorum": validators.quorum()}
