"""The market's contracts: their genesis names and sources (contract language, package data).

Each source is a file of ``market/contracts/``, read as text and compiled by the VM when
the chain deploys it at genesis; none of them is imported as Python.
"""
from __future__ import annotations

from importlib.resources import files

from market.token import TOKEN_NAME
from node.keys import genesis_contract_address

REGISTRY = "registry"
GRID = "grid"
METER = "meter"
ENERGY_CLEARING = "energy_clearing"
FLEX_CLEARING = "flex_clearing"
CAPACITY_CLEARING = "capacity_clearing"
SETTLEMENT = "settlement"
MARKET = "market"

# Deployed in this order after the token; the market comes last (its init names the others).
LIBRARIES = (REGISTRY, GRID, METER, ENERGY_CLEARING, FLEX_CLEARING, CAPACITY_CLEARING, SETTLEMENT)
CONTRACTS = (*LIBRARIES, MARKET)


def source(name: str) -> str:
    """The source text of the market contract ``name``."""
    if name not in CONTRACTS:
        raise KeyError(f"no market contract named {name!r}")
    return files("market").joinpath("contracts", f"{name}.py").read_text(encoding="utf-8")


def address(name: str) -> str:
    """The well-known address of a genesis contract (the token or a market contract)."""
    if name != TOKEN_NAME and name not in CONTRACTS:
        raise KeyError(f"no genesis contract named {name!r}")
    return genesis_contract_address(name)
