"""The market's part of a genesis file: which contracts to deploy and which calls to make.

Today this is the settlement token with its issuer and opening balances (micro-units).
Tools that write genesis files (``flexledger node init``, testnets, tests) call
``market_genesis`` and put its result into ``node.genesis.Genesis``.
"""
from __future__ import annotations

from market.token import TOKEN_NAME, TOKEN_SOURCE
from node.genesis import GenesisCall, GenesisContract


def market_genesis(issuer: str, allocations: dict[str, int]) -> tuple[tuple[GenesisContract, ...],
                                                                        tuple[GenesisCall, ...]]:
    contracts = (GenesisContract(TOKEN_NAME, TOKEN_SOURCE, issuer, [issuer]),)
    calls = tuple(GenesisCall(TOKEN_NAME, "mint", issuer, [address, amount])
                  for address, amount in sorted(allocations.items()))
    return contracts, calls
