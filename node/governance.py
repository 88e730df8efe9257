"""Governance: chain changes approved by validators holding more than 2/3 of the voting power.

A governance transaction approves a proposal identified by (action, params). The first
approval opens the proposal; once approvals reach the quorum, the action is applied in that
same transaction and the proposal is removed. With a single authority, one approval applies
at once. Only validators may approve.

Actions:
- ``set_param {name, value}``: change a chain parameter (node/params.py);
- ``add_validator {name, public_key, power, role}``, ``remove_validator {address}``,
  ``set_power {address, power}``: change the validator set, effective two blocks after
  approval (node/validators.py);
- ``allow_account {address}``, ``disallow_account {address}``: add to or remove from the allow
  list of accounts admitted to send transactions; ``allow_deployer {address}``,
  ``disallow_deployer {address}``: the same for the list of accounts that may deploy
  contracts (node/admission.py). Effective in the block that applies them. Adding a member
  twice or removing a non-member fails with ``bad_governance_params``;
- ``report_evidence {evidence}``: not a vote; any validator submits proof that a validator
  signed two conflicting votes (consensus DuplicateVoteEvidence bytes). It is verified and
  recorded. To remove a recorded offender, the quorum is counted without the offender's
  own power, so a double-signer cannot block its own removal.
"""
from __future__ import annotations

from typing import Callable

from consensus.messages import DuplicateVoteEvidence
from consensus.types import ROLES, Validator, ValidatorSet
from node import statekeys, validators as vsets
from node.admission import ALLOWED_ACCOUNTS, DEPLOYERS, AccountList
from node.encoding import decode, encode, sha256
from node.keys import is_address
from node.params import ChainParams
from node.state import Overlay


class GovernanceError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _bad(message: str) -> GovernanceError:
    return GovernanceError("bad_governance_params", message)


def _set_param(overlay: Overlay, params: dict, height: int) -> dict:
    current = ChainParams.from_bytes(overlay.get(statekeys.PARAMS))
    try:
        updated = current.with_value(params.get("name"), params.get("value"))
    except ValueError as exc:
        raise _bad(str(exc)) from None
    overlay.set(statekeys.PARAMS, updated.to_bytes())
    return {}


def _change_set(overlay: Overlay, height: int, change: Callable[[list[Validator]], list[Validator]]) -> dict:
    try:
        new_set = ValidatorSet(tuple(change(list(vsets.latest(overlay).validators))))
    except ValueError as exc:
        raise _bad(f"invalid validator set: {exc}") from None
    return {"effective_height": vsets.schedule(overlay, new_set, height)}


def _power(params: dict) -> int:
    power = params.get("power")
    if not isinstance(power, int) or isinstance(power, bool) or power <= 0:
        raise _bad("power must be a positive integer")
    return power


def _target(overlay: Overlay, params: dict) -> str:
    address = params.get("address")
    if not is_address(address) or vsets.latest(overlay).by_address(address) is None:
        raise _bad(f"{address!r} is not a validator")
    return address


def _add_validator(overlay: Overlay, params: dict, height: int) -> dict:
    try:
        key = bytes.fromhex(params["public_key"])
        name, role = params["name"], params.get("role", "aggregator")
    except (KeyError, TypeError, ValueError):
        raise _bad("add_validator needs name, public_key (hex), power and role") from None
    if len(key) != 32 or role not in ROLES or not isinstance(name, str):
        raise _bad(f"public_key must be 32 bytes and role one of {ROLES}")
    return _change_set(overlay, height, lambda vs: vs + [Validator(name, key, _power(params), role)])


def _remove_validator(overlay: Overlay, params: dict, height: int) -> dict:
    address = _target(overlay, params)
    return _change_set(overlay, height, lambda vs: [v for v in vs if v.address != address])


def _set_power(overlay: Overlay, params: dict, height: int) -> dict:
    address, power = _target(overlay, params), _power(params)
    return _change_set(overlay, height, lambda vs: [Validator(v.name, v.public_key, power, v.role)
                                                    if v.address == address else v for v in vs])


def _list_change(accounts: AccountList, adding: bool) -> Callable[[Overlay, dict, int], dict]:
    """The action that adds ``{address}`` to (or removes it from) ``accounts``."""
    def apply(overlay: Overlay, params: dict, height: int) -> dict:
        address = params.get("address")
        if not is_address(address):
            raise _bad(f"address must be 0x and 40 lowercase hex digits, not {address!r}")
        try:
            if adding:
                accounts.add(overlay, address, height)
            else:
                accounts.remove(overlay, address)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        return {"address": address}
    return apply


ACTIONS: dict[str, Callable[[Overlay, dict, int], dict]] = {
    "set_param": _set_param, "add_validator": _add_validator,
    "remove_validator": _remove_validator, "set_power": _set_power,
    "allow_account": _list_change(ALLOWED_ACCOUNTS, adding=True),
    "disallow_account": _list_change(ALLOWED_ACCOUNTS, adding=False),
    "allow_deployer": _list_change(DEPLOYERS, adding=True),
    "disallow_deployer": _list_change(DEPLOYERS, adding=False),
}


def proposal_id(action: str, params: dict) -> str:
    return sha256(encode([action, params])).hex()


def _offenders(overlay: Overlay, action: str, params: dict) -> set[str]:
    """Validators whose power does not count for this proposal (an offender's own removal)."""
    address = params.get("address")
    if action == "remove_validator" and is_address(address) and overlay.get(statekeys.offender(address)):
        return {address}
    return set()


def report_evidence(overlay: Overlay, chain_id: str, params: dict, height: int) -> dict:
    try:
        evidence = DuplicateVoteEvidence.from_bytes(params["evidence"])
    except (KeyError, TypeError, ValueError):
        raise _bad("report_evidence needs evidence: the bytes of a DuplicateVoteEvidence") from None
    vote_height = evidence.vote_a.height
    problem = evidence.verify(chain_id, vsets.for_height(overlay, vote_height))
    if problem:
        raise GovernanceError("invalid_evidence", f"evidence rejected: {problem}")
    key = statekeys.offender(evidence.vote_a.validator)
    heights = decode(overlay.get(key)) if overlay.get(key) else []
    if vote_height in heights:
        raise GovernanceError("evidence_known", "this double-signing is already recorded")
    overlay.set(key, encode(sorted(heights + [vote_height])))
    return {"offender": evidence.vote_a.validator, "height": vote_height}


def approve(overlay: Overlay, chain_id: str, height: int, sender: str, action: str, params: dict) -> dict:
    """Record ``sender``'s approval; apply the action when the quorum is reached."""
    validators = vsets.for_height(overlay, height)
    if validators.by_address(sender) is None:
        raise GovernanceError("not_a_validator", "only validators may submit governance actions")
    if action == "report_evidence":
        return report_evidence(overlay, chain_id, params, height)
    if action not in ACTIONS:
        known = ", ".join(sorted([*ACTIONS, "report_evidence"]))
        raise GovernanceError("unknown_governance_action", f"unknown governance action {action!r} (known: {known})")
    excluded = _offenders(overlay, action, params)
    if sender in excluded:
        raise GovernanceError("offender_cannot_vote", "a recorded offender cannot approve its own removal")
    voters = ValidatorSet(tuple(v for v in validators.validators if v.address not in excluded))
    key = statekeys.governance(proposal_id(action, params))
    raw = overlay.get(key)
    approvals = decode(raw) if raw is not None else []
    if sender in approvals:
        raise GovernanceError("already_approved", "this validator already approved the proposal")
    approvals.append(sender)
    power = sum(v.power for v in voters.validators if v.address in approvals)
    if power >= voters.quorum():
        outcome = ACTIONS[action](overlay, params, height)
        overlay.delete(key)
        return {"applied": True, "approvals": approvals, **outcome}
    overlay.set(key, encode(approvals))
    return {"applied": False, "approvals": approvals, "power": power, "quorum": voters.quorum()}
