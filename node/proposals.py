"""Open governance proposals and the scheduled validator-set change, for the API.

State keeps an open proposal only as its id (a hash of action and params) and the
validators that approved it (node/governance.py). Its action and params are found in the
governance transaction that opened it: among the recent transactions of its first approver
(the per-address history index), newest first, at most ``HISTORY_SCAN`` of them, each
opener's history read once per request (only validators open proposals, so at most one
history per validator).
"""
from __future__ import annotations

from node import validators as validator_sets
from node.chain import Chain
from node.encoding import decode
from node.governance import proposal_id
from node.jsonvalues import to_json_value
from node.tx import GovernancePayload

GOV_PREFIX = b"gov:"
MAX_PROPOSALS = 100
HISTORY_SCAN = 200


def _opened_by(chain: Chain, proposer: str) -> dict[str, GovernancePayload]:
    """Proposal id -> payload of the governance transactions among ``proposer``'s recent ones."""
    opened: dict[str, GovernancePayload] = {}
    for tx_hash in chain.store.history(proposer, HISTORY_SCAN):
        receipt = chain.store.receipt(tx_hash)
        payload = chain.store.block(receipt.height).txs[receipt.index].payload
        if isinstance(payload, GovernancePayload):
            opened.setdefault(proposal_id(payload.action, payload.params), payload)
    return opened


def open_proposals(chain: Chain) -> dict:
    """``{proposals, pending_change, validators, quorum, height}``: the open proposals (id, action,
    params, approvals, power), the approved validator-set change not yet in effect, and the
    validators that vote now with their quorum."""
    voters = chain.validators()  # who approves in the next block (node/governance.py approve)
    opened: dict[str, dict[str, GovernancePayload]] = {}  # by opener: each history is read once
    proposals = []
    for key, raw in chain.store.state_iter(GOV_PREFIX, b"gov;"):
        if len(proposals) == MAX_PROPOSALS:
            break
        ident, approvals = key[len(GOV_PREFIX):].decode(), decode(raw)
        if approvals[0] not in opened:
            opened[approvals[0]] = _opened_by(chain, approvals[0])
        payload = opened[approvals[0]].get(ident)
        proposals.append({"id": ident, "action": payload.action if payload else None,
                          "params": to_json_value(payload.params) if payload else None, "approvals": approvals,
                          "power": sum(v.power for v in voters.validators if v.address in approvals)})
    scheduled = validator_sets.pending(chain.state)
    pending = None if scheduled is None else {
        "effective_height": scheduled[0], "validators": [v.to_json() for v in scheduled[1].validators]}
    return {"height": chain.height, "proposals": proposals, "pending_change": pending,
            "validators": [v.to_json() for v in voters.validators], "quorum": voters.quorum()}
