"""The validator set in state, and scheduled changes to it.

A change approved at height H takes effect at height H + 2 (``CHANGE_DELAY``): the set that
signs block h is ``for_height(state, h)``. Execution of block h first promotes a change due
at h, so every node switches at the same height.
"""
from __future__ import annotations

from consensus.types import ValidatorSet
from node import statekeys
from node.encoding import decode, encode

CHANGE_DELAY = 2


def current(state) -> ValidatorSet:
    return ValidatorSet.from_list(decode(state.get(statekeys.VALIDATORS)))


def pending(state) -> tuple[int, ValidatorSet] | None:
    raw = state.get(statekeys.PENDING_VALIDATORS)
    if raw is None:
        return None
    height, validators = decode(raw)
    return height, ValidatorSet.from_list(validators)


def latest(state) -> ValidatorSet:
    """The set after every approved change: what the next change builds on."""
    scheduled = pending(state)
    return scheduled[1] if scheduled else current(state)


def for_height(state, height: int) -> ValidatorSet:
    scheduled = pending(state)
    if scheduled and scheduled[0] <= height:
        return scheduled[1]
    return current(state)


def schedule(overlay, validators: ValidatorSet, approved_at: int) -> int:
    effective = approved_at + CHANGE_DELAY
    overlay.set(statekeys.PENDING_VALIDATORS, encode([effective, validators.to_list()]))
    return effective


def promote_due(overlay, height: int) -> None:
    scheduled = pending(overlay)
    if scheduled and scheduled[0] <= height:
        overlay.set(statekeys.VALIDATORS, encode(scheduled[1].to_list()))
        overlay.delete(statekeys.PENDING_VALIDATORS)
