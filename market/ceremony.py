"""The market's part of a genesis ceremony: the market settings of a draft (``node/genesisdraft.py``)
and finalizing a draft into a ``Genesis`` with the market contracts.

``set_setting(draft, "params.block_gas_limit", "300000000")`` or ``"market.commit", "1800"``
takes a value as typed on the command line. ``finalize`` mints the issuer's supply and every
balance, admits the grid oracle with the ``dso`` role and each participant with a public key,
deploys the market with ``MarketConfig`` (its ``oracle`` the draft's oracle), and runs the
genesis once on a scratch chain, so a genesis whose contracts would fail is never written.
"""
from __future__ import annotations

import tempfile
from dataclasses import fields
from pathlib import Path

from market.genesis import Admission, MarketConfig, market_genesis
from node.chain import Chain, ChainError
from node.genesis import Genesis
from node.genesisdraft import DraftError, check_complete, set_market, set_param, to_genesis
from node.keys import is_address
from node.params import ChainParams

ADDRESS_SETTINGS = ("authority",)
ADDRESS_LIST_SETTINGS = ("council",)
COUNT_SETTINGS = ("threshold", "meter_lead")
MARKET_SETTINGS = tuple(f.name for f in fields(MarketConfig) if f.name != "oracle")  # oracle: set-oracle


def setting_names() -> list[str]:
    return [*(f"params.{name}" for name in ChainParams.names()), *(f"market.{name}" for name in MARKET_SETTINGS)]


def set_setting(draft: dict, key: str, text: str) -> dict:
    """``draft`` with setting ``key`` (``params.NAME`` or ``market.NAME``) set from command-line text."""
    section, _, name = key.partition(".")
    if section == "params" and name in ChainParams.names():
        return set_param(draft, name, _whole_number(text))
    if section == "market" and name in MARKET_SETTINGS:
        value = _market_value(name, text)
        check_market_setting(draft, name, value)
        return set_market(draft, name, value)
    raise DraftError(key, f"unknown setting (known: {', '.join(setting_names())}; the oracle is set with "
                          f"'genesis set-oracle', the issuer with 'genesis set-issuer')")


def check_market_setting(draft: dict, name: str, value: object) -> None:
    """DraftError unless ``value`` fits market setting ``name`` (also for drafts read from a file)."""
    key = f"market.{name}"
    if name not in MARKET_SETTINGS:
        raise DraftError(key, f"unknown market setting (known: {', '.join(MARKET_SETTINGS)})")
    if name in ADDRESS_SETTINGS:
        if not is_address(value):
            raise DraftError(key, f"must be an address (0x and 40 lowercase hex digits), not {value!r}")
    elif name in ADDRESS_LIST_SETTINGS:
        if not isinstance(value, list) or not all(is_address(a) for a in value) or len(set(value)) != len(value):
            raise DraftError(key, f"must be distinct addresses separated by commas, not {value!r}")
    elif type(value) is not int or value < (0 if name in COUNT_SETTINGS else 1):
        least = "zero or more" if name in COUNT_SETTINGS else "at least 1"
        raise DraftError(key, f"must be a whole number, {least}, not {value!r}")


def finalize(draft: dict) -> Genesis:
    """The genesis of a complete draft; DraftError naming what is missing or refused."""
    check_complete(draft)
    issuer, oracle = draft["issuer"], draft["oracle"]
    config = MarketConfig(**{**draft["market"], "council": tuple(sorted(draft["market"].get("council", ()))),
                             "oracle": oracle["address"]})
    allocations = {issuer["address"]: issuer["supply"], oracle["address"]: oracle["balance"]}
    allocations.update({p["address"]: p["balance"] for p in draft["participants"] if p["balance"]})
    admitted = (Admission(oracle["address"], oracle["name"], ("dso",), oracle["public_key"]),
                *(Admission(p["address"], p["name"], tuple(p["roles"]), p["public_key"])
                  for p in draft["participants"] if p["roles"]))
    contracts, calls = market_genesis(issuer["address"], allocations, config, admitted)
    genesis = to_genesis(draft, contracts, calls)
    _run_once(genesis)
    return genesis


def _run_once(genesis: Genesis) -> None:
    with tempfile.TemporaryDirectory(prefix="flexledger-genesis-") as scratch:
        try:
            Chain(Path(scratch), genesis).close()
        except ChainError as exc:
            raise DraftError("market", f"the genesis contracts refuse this draft: {exc.message}") from None


def _market_value(name: str, text: str) -> object:
    if name in ADDRESS_SETTINGS:
        return text
    if name in ADDRESS_LIST_SETTINGS:
        return [part.strip() for part in text.split(",") if part.strip()]
    return _whole_number(text)


def _whole_number(text: str) -> int | str:
    """The number in ``text``; the text itself when it is none (refused by the setting's check)."""
    return int(text) if text.strip().lstrip("-").isdigit() else text
