"""Admission control for a fee-less chain: who may send transactions, and who may deploy.

Nothing on this chain is paid for, so what keeps spam out is identity. An account is
*admitted* (may have transactions in the mempool and in blocks) when it is

- on the **allow list**: state ``allowed:<address>``; the genesis ``allowed_accounts`` and
  the governance actions ``allow_account {address}`` / ``disallow_account {address}``;
- a registered **market participant**: a ``"p:<address>"`` entry in the storage of the
  genesis contract named ``registry`` (market/contracts/registry.py);
- the **grid oracle**: the address in the ``"oracle"`` storage entry of the genesis
  contract named ``grid`` (market/contracts/grid.py);
- a **validator**: in the latest validator set (node/validators.py: the current set with
  any approved change already applied, so a validator added by governance may act at once).

A genesis contract's address follows from its name (``genesis_contract_address``) and no
deployed contract can take it, so these reads need no lookup; a chain without those genesis
contracts admits its validators and allow list only.

**Deploying** a contract is a separate right: the **deployer list**, state
``deployer:<address>``; the genesis ``deployers`` and the governance actions
``allow_deployer {address}`` / ``disallow_deployer {address}``.

Every rule reads nothing but state, so the mempool (against the head state) and block
execution (against the state before each transaction) apply the very same rules; what a
block does with a refused transaction is in node/execution.py.
"""
from __future__ import annotations

from dataclasses import dataclass

from node import statekeys, validators
from node.encoding import decode, encode
from node.keys import address_from_bytes, genesis_contract_address
from node.state import Overlay, StateReader

REGISTRY = genesis_contract_address("registry")
GRID = genesis_contract_address("grid")
MAX_LISTED = 1_000  # entries per list that /admission shows


class NotPermitted(Exception):
    """The sender may not do this; ``code`` is ``account_not_permitted`` or ``deploy_not_permitted``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class AccountList:
    """A governance-controlled set of accounts: one state key per member, valued with the
    height at which it joined."""

    title: str
    prefix: bytes

    def contains(self, state: StateReader, address: str) -> bool:
        return state.get(statekeys.listed(self.prefix, address)) is not None

    def add(self, overlay: Overlay, address: str, height: int) -> None:
        if self.contains(overlay, address):
            raise ValueError(f"{address} is already on {self.title}")
        overlay.set(statekeys.listed(self.prefix, address), encode(height))

    def remove(self, overlay: Overlay, address: str) -> None:
        if not self.contains(overlay, address):
            raise ValueError(f"{address} is not on {self.title}")
        overlay.delete(statekeys.listed(self.prefix, address))

    def members(self, state: StateReader, limit: int = MAX_LISTED) -> list[dict]:
        """Up to ``limit`` members in address order, each ``{address, since_height}``."""
        out = []
        for key, raw in state.scan(self.prefix):
            if len(out) >= limit:
                break
            out.append({"address": address_from_bytes(key[len(self.prefix):]), "since_height": decode(raw)})
        return out


ALLOWED_ACCOUNTS = AccountList("the allow list", statekeys.ALLOWED_ACCOUNTS)
DEPLOYERS = AccountList("the deployer list", statekeys.DEPLOYERS)


def is_participant(state: StateReader, address: str) -> bool:
    return state.get(statekeys.storage(REGISTRY, "p:" + address)) is not None


def is_grid_oracle(state: StateReader, address: str) -> bool:
    raw = state.get(statekeys.storage(GRID, "oracle"))
    return raw is not None and decode(raw) == address


def is_validator(state: StateReader, address: str) -> bool:
    return validators.latest(state).by_address(address) is not None


def is_admitted(state: StateReader, address: str) -> bool:
    """Whether ``address`` may send transactions (cheapest reads first)."""
    return (ALLOWED_ACCOUNTS.contains(state, address) or is_participant(state, address)
            or is_grid_oracle(state, address) or is_validator(state, address))


def check_sender(state: StateReader, address: str) -> None:
    if not is_admitted(state, address):
        raise NotPermitted("account_not_permitted", f"account {address} is not admitted to this chain: it must be "
                                                    f"a validator, the grid oracle, a registered participant or "
                                                    f"on the allow list")


def check_deployer(state: StateReader, address: str) -> None:
    if not DEPLOYERS.contains(state, address):
        raise NotPermitted("deploy_not_permitted", f"account {address} may not deploy contracts: it is not on "
                                                   f"the deployer list")


def seed_genesis_lists(overlay: Overlay, allowed_accounts: tuple[str, ...], deployers: tuple[str, ...]) -> None:
    """Write the genesis allow and deployer lists (height 0)."""
    for address in allowed_accounts:
        ALLOWED_ACCOUNTS.add(overlay, address, 0)
    for address in deployers:
        DEPLOYERS.add(overlay, address, 0)


def lists(state: StateReader) -> dict:
    """Both lists for the API: ``{allowed_accounts, deployers, max_listed}``."""
    return {"allowed_accounts": ALLOWED_ACCOUNTS.members(state), "deployers": DEPLOYERS.members(state),
            "max_listed": MAX_LISTED}

