"""The market's part of a genesis file: which contracts to deploy and which calls to make.

The settlement token comes first, with its issuer and opening balances (micro-units); then
the market contracts of ``market.sources``: registry, grid regimes, meter data, the clearing and
settlement libraries, and the market itself, whose init receives the others' addresses.
Tools that write genesis files (``flexledger node init``, testnets, tests) call
``market_genesis`` and put its result into ``node.genesis.Genesis``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from market import sources
from market.token import TOKEN_NAME, TOKEN_SOURCE
from node.genesis import GenesisCall, GenesisContract


@dataclass(frozen=True)
class MarketConfig:
    """Who runs the registry, and the default session phase lengths in seconds.

    ``authority`` admits participants (default: the token issuer); ``council`` members (a
    sorted list of addresses) may replace it when ``threshold`` of them vote for the same
    candidate.  Sessions may set their own phase lengths; these are the defaults.  A session
    takes at most ``max_orders`` commitments and ``max_entries`` revealed order MTUs: the
    bound that keeps its clearing and settlement within one transaction's gas (50 M by
    default) even in the worst case, every order MTU on another device with a 64-character
    id and from another trader (see docs/market.md, "Limits").

    ``oracle`` is the DSO grid oracle key's address: the only signer whose attestations the
    market accepts (sessions may name it as their attestor) and, besides participants with
    the ``dso`` role, the only one that may change feeder regimes (see the ``grid``
    contract).  None: no oracle, sessions cannot ask for grid validation.

    ``meter_lead``: meter readings are accepted only once their MTU is delivered; a chain
    that plays a day in minutes (a testnet running the demo) accepts them up to this many
    seconds before the MTU ends.  Keep 0 on a real chain.
    """

    authority: str | None = None
    council: tuple[str, ...] = ()
    threshold: int = 0
    commit: int = 3600
    gate: int = 600
    reveal: int = 1800
    settle: int = 2 * 86400
    max_orders: int = 20_000
    max_entries: int = 8_000
    oracle: str | None = None
    meter_lead: int = 0

    def phases(self) -> dict[str, int]:
        return {name: value for name, value in asdict(self).items() if name in ("commit", "gate", "reveal", "settle")}


@dataclass(frozen=True)
class Admission:
    """A participant the registry authority admits at genesis (e.g. the grid oracle key with
    the ``dso`` role, so that it may open flexibility requests)."""

    address: str
    name: str
    roles: tuple[str, ...]
    public_key: str  # 64 hex digits

    def args(self) -> list:
        return [self.address, self.name, sorted(self.roles), self.public_key]


def market_genesis(issuer: str, allocations: dict[str, int], config: MarketConfig | None = None,
                   admitted: tuple[Admission, ...] = ()) -> tuple[tuple[GenesisContract, ...], tuple[GenesisCall, ...]]:
    config = config or MarketConfig()
    market_config = {name: sources.address(name) for name in (TOKEN_NAME, *sources.LIBRARIES)}
    market_config.update(phases=config.phases(), max_orders=config.max_orders, max_entries=config.max_entries)
    init_args = {
        sources.REGISTRY: [config.authority or issuer, sorted(config.council), config.threshold,
                           sources.address(sources.GRID)],
        sources.GRID: [sources.address(sources.REGISTRY), config.oracle],
        sources.METER: [sources.address(sources.REGISTRY), config.meter_lead],
        sources.MARKET: [market_config],
    }
    contracts = (GenesisContract(TOKEN_NAME, TOKEN_SOURCE, issuer, [issuer]),
                 *(GenesisContract(name, sources.source(name), issuer, init_args.get(name, []))
                   for name in sources.CONTRACTS))
    calls = tuple(GenesisCall(TOKEN_NAME, "mint", issuer, [address, amount])
                  for address, amount in sorted(allocations.items()))
    admissions = tuple(GenesisCall(sources.REGISTRY, "admit", config.authority or issuer, admission.args())
                       for admission in admitted)
    return contracts, calls + admissions
