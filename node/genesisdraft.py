"""A genesis draft: the file a consortium fills in, step by step, before the genesis exists.

The coordinator starts a draft (``flexledger genesis new``), adds each validator from the
public key and p2p address its operator printed (``node show-id``), the token issuer, the
grid oracle and the participants, sets parameters, and finalizes it into ``genesis.json``.
The draft is plain JSON, so it can travel by e-mail and be reviewed line by line::

    {"draft": "flexledger-genesis-draft/1", "chain_id": "...", "genesis_time_ms": 1767225600000,
     "validators": [{"name", "public_key", "power", "role", "p2p"}],
     "issuer": {"address", "supply"} | null,
     "oracle": {"name", "address", "public_key", "balance"} | null,
     "participants": [{"address", "name", "roles", "public_key" | null, "balance"}],
     "params": {<ChainParams overrides>}, "market": {<MarketConfig overrides>}}

Balances and supply are micro-units. Every change is a pure function from a draft to a new
draft that refuses a bad value with a ``DraftError`` naming the field; a draft read from a
file is checked by replaying its entries through the same functions. What the market
contracts make of the issuer, oracle, participants and market settings is not known here
(``market/ceremony.py`` finalizes a draft into a ``Genesis``).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from consensus.types import ROLES
from node.atomicfile import write_json_atomic
from node.genesis import Genesis, GenesisCall, GenesisContract
from node.keys import address_of, is_address
from node.netaddr import parse_host_port
from node.params import ChainParams

DRAFT_FORMAT = "flexledger-genesis-draft/1"


class DraftError(ValueError):
    """A value the draft refuses; ``field`` names it (``public_key``, ``validators[1].p2p``; ``draft``:
    the file as a whole)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def new_draft(chain_id: str, genesis_time_ms: int) -> dict:
    if not isinstance(chain_id, str) or not chain_id or len(chain_id) > 64 or not chain_id.isprintable():
        raise DraftError("chain_id", f"must be 1 to 64 printable characters, not {chain_id!r}")
    if type(genesis_time_ms) is not int or genesis_time_ms < 0:
        raise DraftError("genesis_time_ms", f"must be milliseconds since 1970, not {genesis_time_ms!r}")
    return {"draft": DRAFT_FORMAT, "chain_id": chain_id, "genesis_time_ms": genesis_time_ms, "validators": [],
            "issuer": None, "oracle": None, "participants": [], "params": {}, "market": {}}


# -- validators -------------------------------------------------------------------------------
def add_validator(draft: dict, name: str, public_key: str, power: int, role: str, p2p: str) -> dict:
    _check_name(name, [v["name"] for v in draft["validators"]], "validator")
    public_key = _public_key(public_key)
    for other in draft["validators"]:
        if other["public_key"] == public_key:
            raise DraftError("public_key", f"already the key of validator {other['name']!r}")
    if type(power) is not int or power <= 0:
        raise DraftError("power", f"must be a positive whole number, not {power!r}")
    if role not in ROLES:
        raise DraftError("role", f"must be one of {', '.join(ROLES)}, not {role!r}")
    _check_dialable(p2p)
    _check_unused_address(draft, address_of(bytes.fromhex(public_key)), "public_key")
    entry = {"name": name, "public_key": public_key, "power": power, "role": role,
             "p2p": str(parse_host_port(p2p))}
    return _with(draft, validators=[*draft["validators"], entry])


# -- accounts: the issuer, the grid oracle, participants -----------------------------------------
def set_issuer(draft: dict, address: str, supply: int) -> dict:
    """The token issuer (registry authority unless ``market.authority`` says otherwise): admitted
    to send transactions and deploy contracts, and minted ``supply`` micro-units."""
    _check_address(address)
    _check_unused_address(_with(draft, issuer=None), address, "address")
    _check_amount(supply, "supply")
    return _with(draft, issuer={"address": address, "supply": supply})


def set_oracle(draft: dict, name: str, public_key: str, balance: int, address: str | None = None) -> dict:
    """The DSO's grid oracle key: admitted with the ``dso`` role and funded with ``balance``."""
    public_key = _public_key(public_key)
    derived = _matching_address(public_key, address)
    _check_unused_address(_with(draft, oracle=None), derived, "address")
    _check_name(name, [p["name"] for p in draft["participants"]], "participant")
    _check_amount(balance, "balance")
    return _with(draft, oracle={"name": name, "address": derived, "public_key": public_key, "balance": balance})


def add_participant(draft: dict, address: str, name: str, roles: list[str], public_key: str | None,
                    balance: int) -> dict:
    """A participant admitted to the registry with ``roles`` (needs its ``public_key``), or, with
    no roles, an account that only receives ``balance`` micro-units."""
    _check_address(address)
    _check_unused_address(draft, address, "address")
    oracle_name = [draft["oracle"]["name"]] if draft["oracle"] else []
    _check_name(name, [p["name"] for p in draft["participants"]] + oracle_name, "participant")
    if not isinstance(roles, list) or not all(isinstance(role, str) and role for role in roles):
        raise DraftError("roles", f"must be a list of role names, not {roles!r}")
    if len(set(roles)) != len(roles):
        raise DraftError("roles", f"lists a role twice: {', '.join(roles)}")
    if public_key is not None:
        public_key = _public_key(public_key)
        _matching_address(public_key, address)
    elif roles:
        raise DraftError("public_key", "a participant with roles needs its public key: the registry keeps it")
    if balance != 0:
        _check_amount(balance, "balance")
    entry = {"address": address, "name": name, "roles": sorted(roles), "public_key": public_key, "balance": balance}
    return _with(draft, participants=[*draft["participants"], entry])


# -- parameters ---------------------------------------------------------------------------------
def set_param(draft: dict, name: str, value: int) -> dict:
    """A chain parameter (node/params.py ChainParams) other than its default."""
    try:
        ChainParams().with_value(name, value)
    except ValueError as exc:
        raise DraftError(f"params.{name}", str(exc)) from None
    return _with(draft, params={**draft["params"], name: value})


def set_market(draft: dict, name: str, value: object) -> dict:
    """A market setting, already checked by the market (``market/ceremony.py``)."""
    return _with(draft, market={**draft["market"], name: value})


# -- finalizing ---------------------------------------------------------------------------------
def check_complete(draft: dict) -> None:
    """DraftError for what a genesis cannot do without (the entries themselves are already checked)."""
    if not draft["validators"]:
        raise DraftError("validators", "none yet: add each validator with 'flexledger genesis add-validator'")
    if not any(v["role"] == "dso" for v in draft["validators"]):
        raise DraftError("validators", "none has the role dso: the DSO runs a validator "
                                       "('flexledger genesis add-validator ... --role dso')")
    if draft["issuer"] is None:
        raise DraftError("issuer", "not set: name the token issuer with 'flexledger genesis set-issuer'")
    if draft["oracle"] is None:
        raise DraftError("oracle", "not set: name the DSO's grid oracle key with 'flexledger genesis set-oracle'")


def to_genesis(draft: dict, contracts: tuple[GenesisContract, ...], calls: tuple[GenesisCall, ...]) -> Genesis:
    """The genesis of a complete draft, with the contracts and calls its market section makes;
    the issuer is admitted and may deploy contracts."""
    check_complete(draft)
    issuer = draft["issuer"]["address"]
    doc = {"chain_id": draft["chain_id"], "genesis_time_ms": draft["genesis_time_ms"],
           "validators": draft["validators"], "params": draft["params"]}
    skeleton = Genesis.from_json(doc)
    return Genesis(skeleton.chain_id, skeleton.genesis_time_ms, skeleton.validators, skeleton.params, contracts,
                   calls, allowed_accounts=(issuer,), deployers=(issuer,), p2p=skeleton.p2p)


# -- the file -----------------------------------------------------------------------------------
def save_draft(path: Path, draft: dict) -> None:
    write_json_atomic(Path(path), draft)


def load_draft(path: Path, market_check=None) -> dict:
    """The draft in ``path``, checked entry by entry; ``market_check(draft, key, value)`` checks the
    market settings (the caller's, since only the market knows them)."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DraftError("draft", "not found: start one with 'flexledger genesis new'") from None
    except ValueError as exc:
        raise DraftError("draft", f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("draft") != DRAFT_FORMAT:
        raise DraftError("draft", f"not a genesis draft (no \"draft\": \"{DRAFT_FORMAT}\")")
    return replay(doc, market_check)


def replay(doc: dict, market_check=None) -> dict:
    """``doc`` rebuilt through the functions above, so a hand-edited draft is held to the same checks."""
    try:
        draft = new_draft(doc["chain_id"], doc["genesis_time_ms"])
        for i, entry in enumerate(doc["validators"]):
            draft = _at(f"validators[{i}]", lambda: add_validator(draft, entry["name"], entry["public_key"],
                                                                  entry["power"], entry["role"], entry["p2p"]))
        if doc["issuer"] is not None:
            draft = _at("issuer", lambda: set_issuer(draft, doc["issuer"]["address"], doc["issuer"]["supply"]))
        if doc["oracle"] is not None:
            oracle = doc["oracle"]
            draft = _at("oracle", lambda: set_oracle(draft, oracle["name"], oracle["public_key"], oracle["balance"],
                                                     oracle["address"]))
        for i, entry in enumerate(doc["participants"]):
            draft = _at(f"participants[{i}]", lambda: add_participant(
                draft, entry["address"], entry["name"], entry["roles"], entry["public_key"], entry["balance"]))
        for name, value in doc["params"].items():
            draft = set_param(draft, name, value)
        for key, value in doc["market"].items():
            if market_check is not None:
                market_check(draft, key, value)
            draft = set_market(draft, key, value)
    except (KeyError, TypeError, AttributeError) as exc:
        raise DraftError("draft", f"damaged entry ({type(exc).__name__}: {exc}); rebuild it with the genesis "
                                  f"commands") from None
    return draft


def _at(where: str, change):
    try:
        return change()
    except DraftError as exc:
        raise DraftError(f"{where}.{exc.field}", exc.message) from None


# -- checks -------------------------------------------------------------------------------------
def _with(draft: dict, **changes) -> dict:
    return {**copy.deepcopy(draft), **changes}


def _check_name(name: object, taken: list[str], what: str) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or not name.isprintable():
        raise DraftError("name", f"must be 1 to 64 printable characters, not {name!r}")
    if name in taken:
        raise DraftError("name", f"there is already a {what} named {name!r}")


def _public_key(text: object) -> str:
    if not isinstance(text, str) or len(text) != 64 or any(c not in "0123456789abcdef" for c in text.lower()):
        raise DraftError("public_key", f"must be 64 hex digits (as 'flexledger node show-id' prints it), "
                                       f"not {text!r}")
    return text.lower()


def _matching_address(public_key: str, address: str | None) -> str:
    derived = address_of(bytes.fromhex(public_key))
    if address is not None and address != derived:
        raise DraftError("address", f"{address} is not the address of public key {public_key} "
                                    f"(that is {derived})")
    return derived


def _check_address(address: object) -> None:
    if not is_address(address):
        raise DraftError("address", f"must be 0x and 40 lowercase hex digits, not {address!r}")


def _check_amount(amount: object, field: str) -> None:
    if type(amount) is not int or amount <= 0:
        raise DraftError(field, f"must be a positive number of micro-units, not {amount!r}")


def _check_dialable(p2p: object) -> None:
    try:
        endpoint = parse_host_port(p2p)
    except ValueError as exc:
        raise DraftError("p2p", str(exc)) from None
    if endpoint.is_wildcard:
        raise DraftError("p2p", f"{p2p} listens everywhere but cannot be dialled: give the host other "
                                f"validators reach this node at ('node init --external-address HOST:PORT')")


def _check_unused_address(draft: dict, address: str, field: str) -> None:
    """Every account of a draft (validator node keys, issuer, oracle, participants) is a different key."""
    owners = [(address_of(bytes.fromhex(v["public_key"])), f"validator {v['name']!r}") for v in draft["validators"]]
    owners += [(draft["issuer"]["address"], "the issuer")] if draft["issuer"] else []
    owners += [(draft["oracle"]["address"], "the grid oracle")] if draft["oracle"] else []
    owners += [(p["address"], f"participant {p['name']!r}") for p in draft["participants"]]
    for owner_address, owner in owners:
        if owner_address == address:
            raise DraftError(field, f"{address} is already {owner} in this draft")
