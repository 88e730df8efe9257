"""`flexledger genesis new|add-validator|set-issuer|set-oracle|add-participant|set|show|finalize`:
the genesis ceremony of a consortium, run by one coordinator on a draft file.

Each validator's operator runs ``flexledger node init`` on its own machine and sends the public
key and p2p address that ``node show-id`` prints; the coordinator adds them to the draft with
the token issuer, the DSO's grid oracle key and the participants, and finalizes it into
``genesis.json``, whose hash every party compares after ``node install-genesis``. The draft
logic is in ``node/genesisdraft.py`` and ``market/ceremony.py``; this module parses flags and
prints. Errors name the flag (``--public-key: ...``) or, for a damaged draft, the field.
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path

from cli.common import CliError, Context, format_amount, parse_amount, print_json
from cli.participant_cmd import ROLES as PARTICIPANT_ROLES
from consensus.types import ROLES as VALIDATOR_ROLES
from gridoracle.setup import ORACLE_FUNDS, ORACLE_NAME
from market.ceremony import check_market_setting, finalize, set_setting, setting_names
from node.genesisdraft import (DraftError, add_participant, add_validator, load_draft, new_draft, save_draft,
                               set_issuer, set_oracle)
from node.homesetup import genesis_hash

DEFAULT_POWER = 10
FLAGS = {"genesis_time_ms": "--genesis-time"}  # draft fields whose flag has another name


def register(sub) -> None:
    group = sub.add_parser("genesis", help="assemble a consortium's genesis from the parties' public keys").add_subparsers(
        dest="action", required=True)
    new = _command(group, "new", "start a draft", start_draft)
    new.add_argument("--chain-id", required=True, help="the chain's name, e.g. flexledger-westgrid")
    new.add_argument("--genesis-time", help="when the chain starts: ISO 8601 (2027-01-01T00:00:00Z) or milliseconds "
                                            "since 1970 (default: now)")
    validator = _command(group, "add-validator", "add a validator from its operator's 'node show-id'", add_validator_cmd)
    validator.add_argument("--name", required=True, help="the organisation, e.g. dso or aggregator-north")
    validator.add_argument("--id", type=Path, metavar="FILE", help="what its operator's 'node show-id --json' "
                                                                 "printed: gives --public-key and --p2p")
    validator.add_argument("--public-key", help="64 hex digits ('node show-id')")
    validator.add_argument("--power", type=int, default=DEFAULT_POWER, help=f"voting power (default {DEFAULT_POWER})")
    validator.add_argument("--role", required=True, choices=VALIDATOR_ROLES)
    validator.add_argument("--p2p", metavar="HOST:PORT", help="where its node takes peer links")
    issuer = _command(group, "set-issuer", "name the token issuer (also the registry authority by default)",
                      set_issuer_cmd)
    issuer.add_argument("--address", required=True, help="the issuer's wallet address")
    issuer.add_argument("--supply", required=True, metavar="TOKENS", help="tokens minted to the issuer")
    oracle = _command(group, "set-oracle", "name the DSO's grid oracle key (admitted with the dso role, funded)",
                      set_oracle_cmd)
    oracle.add_argument("--key-file", type=Path, metavar="FILE", help="the oracle's key file "
                                                                      "(<oracle-home>/keys/oracle.json): gives "
                                                                      "--public-key and --address, not the secret")
    oracle.add_argument("--public-key", help="the oracle key's public key (64 hex digits)")
    oracle.add_argument("--address", help="its address, checked against the public key")
    oracle.add_argument("--name", default=ORACLE_NAME, help=f"registry name (default: {ORACLE_NAME!r})")
    oracle.add_argument("--balance", metavar="TOKENS", default=format_amount(ORACLE_FUNDS),
                        help="tokens for its flexibility escrows (default: %(default)s)")
    participant = _command(group, "add-participant", "admit a participant and/or give an account tokens",
                           add_participant_cmd)
    participant.add_argument("--address", required=True)
    participant.add_argument("--name", required=True)
    participant.add_argument("--roles", default="", help=f"comma-separated, of {', '.join(PARTICIPANT_ROLES)} "
                                                         "(none: the account only receives --balance)")
    participant.add_argument("--public-key", help="64 hex digits; needed with --roles")
    participant.add_argument("--balance", metavar="TOKENS", help="tokens minted to it at genesis")
    setting = _command(group, "set", "set chain (params.*) and market (market.*) parameters", set_cmd)
    setting.add_argument("settings", nargs="+", metavar="KEY=VALUE", help="e.g. market.commit=1800 "
                                                                          "params.block_gas_limit=300000000")
    show = _command(group, "show", "print the draft", show_draft)
    show.add_argument("--json", action="store_true", help="the draft file itself")
    final = _command(group, "finalize", "check the draft and write genesis.json; prints its hash", finalize_cmd)
    final.add_argument("--out", type=Path, required=True, help="the genesis file to write")


def _command(group, name: str, help_text: str, run):
    parser = group.add_parser(name, help=help_text)
    parser.add_argument("--draft", type=Path, required=True, help="the draft file (JSON)")
    parser.set_defaults(run=run)
    return parser


def start_draft(ctx: Context, args) -> None:
    if args.draft.exists():
        raise CliError(f"--draft: {args.draft} exists already; remove it or choose another file")
    draft = _flag_errors(lambda: new_draft(args.chain_id, _genesis_time_ms(args.genesis_time)))
    save_draft(args.draft, draft)
    print(f"started the genesis draft {args.draft} for chain {args.chain_id!r}")
    print("next: genesis add-validator (one per organisation), set-issuer, set-oracle, then finalize")


def add_validator_cmd(ctx: Context, args) -> None:
    given = _public_fields("--id", args.id, ("public_key", "p2p_address"), "the output of 'flexledger node show-id "
                                                                          "--json'")
    public_key = _required("--public-key", args.public_key or given.get("public_key"), "--id")
    p2p = _required("--p2p", args.p2p or given.get("p2p_address"), "--id")
    _change(args, lambda draft: add_validator(draft, args.name, public_key, args.power, args.role, p2p),
            f"added validator {args.name!r}")


def set_issuer_cmd(ctx: Context, args) -> None:
    supply = _amount("--supply", args.supply)
    _change(args, lambda draft: set_issuer(draft, args.address, supply), f"the token issuer is {args.address}")


def set_oracle_cmd(ctx: Context, args) -> None:
    given = _public_fields("--key-file", args.key_file, ("public_key", "address"), "a key file")
    public_key = _required("--public-key", args.public_key or given.get("public_key"), "--key-file")
    balance = _amount("--balance", args.balance)
    address = args.address or given.get("address")
    _change(args, lambda draft: set_oracle(draft, args.name, public_key, balance, address),
            "set the grid oracle key")


def add_participant_cmd(ctx: Context, args) -> None:
    roles = [role.strip() for role in args.roles.split(",") if role.strip()]
    unknown = [role for role in roles if role not in PARTICIPANT_ROLES]
    if unknown:
        raise CliError(f"--roles: unknown role {unknown[0]!r} (roles: {', '.join(PARTICIPANT_ROLES)})")
    balance = 0 if args.balance is None else _amount("--balance", args.balance)
    _change(args, lambda draft: add_participant(draft, args.address, args.name, roles, args.public_key, balance),
            f"added participant {args.name!r}")


def set_cmd(ctx: Context, args) -> None:
    def set_all(draft: dict) -> dict:
        for setting in args.settings:
            key, sign, value = setting.partition("=")
            if not sign:
                raise CliError(f"{setting!r} is not KEY=VALUE (keys: {', '.join(setting_names())})")
            draft = set_setting(draft, key.strip(), value.strip())
        return draft
    _change(args, set_all, f"set {', '.join(args.settings)}")


def show_draft(ctx: Context, args) -> None:
    draft = _load(args.draft)
    if args.json:
        print_json(draft)
        return
    print(f"chain {draft['chain_id']!r}, starting {_iso(draft['genesis_time_ms'])}")
    print(f"validators ({len(draft['validators'])}):")
    for v in draft["validators"]:
        print(f"  {v['name']:<20} {v['role']:<10} power {v['power']:<4} {v['p2p']:<28} {v['public_key']}")
    issuer, oracle = draft["issuer"], draft["oracle"]
    print(f"issuer: {issuer['address'] + ', supply ' + format_amount(issuer['supply']) if issuer else 'not set'}")
    print(f"grid oracle: {oracle['address'] + ', balance ' + format_amount(oracle['balance']) if oracle else 'not set'}")
    print(f"participants ({len(draft['participants'])}):")
    for p in draft["participants"]:
        print(f"  {p['name']:<20} {p['address']} roles {','.join(p['roles']) or '-'} "
              f"balance {format_amount(p['balance'])}")
    settings = {**{f"params.{k}": v for k, v in draft["params"].items()},
                **{f"market.{k}": v for k, v in draft["market"].items()}}
    print(f"settings: {json.dumps(settings) if settings else 'defaults'}")


def finalize_cmd(ctx: Context, args) -> None:
    draft = _load(args.draft)
    try:
        genesis = finalize(draft)
    except DraftError as exc:
        raise CliError(f"cannot finalize {args.draft}: {exc}") from None
    genesis.save(args.out)
    print(f"wrote {args.out}: chain {genesis.chain_id!r}, {len(genesis.validators.validators)} validators")
    print(f"genesis sha256: {genesis_hash(args.out.read_bytes())}")
    print("send the file to every party; each installs it with 'flexledger node install-genesis --genesis FILE' "
          "and compares the hash it prints with this one")


def _change(args, change, done: str) -> None:
    draft = _flag_errors(lambda: change(_load(args.draft)))
    save_draft(args.draft, draft)
    print(f"{done} ({args.draft})")


def _load(path: Path) -> dict:
    try:
        return load_draft(path, check_market_setting)
    except DraftError as exc:
        raise CliError(f"{path}: {exc.message}" if exc.field == "draft" else f"{path}: {exc}") from None


def _flag_errors(build):
    """``build()``; a DraftError about one field becomes an error naming its flag (``--public-key``)."""
    try:
        return build()
    except DraftError as exc:
        flag = exc.field if "." in exc.field else FLAGS.get(exc.field, "--" + exc.field.replace("_", "-"))
        raise CliError(f"{flag}: {exc.message}") from None


def _public_fields(flag: str, path: Path | None, names: tuple[str, ...], expected: str) -> dict:
    """``names`` from the JSON file ``path`` (none without it), read as given by another party."""
    if path is None:
        return {}
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise CliError(f"{flag}: cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise CliError(f"{flag}: {path} is not JSON (expected {expected})") from None
    missing = [name for name in names if not isinstance(doc, dict) or not isinstance(doc.get(name), str)]
    if missing:
        raise CliError(f"{flag}: {path} has no {missing[0]!r} (expected {expected})")
    return {name: doc[name] for name in names}


def _required(flag: str, value: str | None, source_flag: str) -> str:
    if value is None:
        raise CliError(f"{flag} is missing: give it, or {source_flag} FILE")
    return value


def _amount(flag: str, text: str) -> int:
    try:
        return parse_amount(text)
    except CliError as exc:
        raise CliError(f"{flag}: {exc}") from None


def _genesis_time_ms(text: str | None) -> int:
    if text is None:
        return int(datetime.datetime.now(datetime.timezone.utc).timestamp()) * 1000
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--genesis-time: {text!r} is neither ISO 8601 (2027-01-01T00:00:00Z) nor milliseconds "
                       f"since 1970") from None
    if moment.tzinfo is None:
        raise CliError(f"--genesis-time: {text!r} has no time zone; add Z for UTC or an offset like +01:00")
    return int(moment.timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).isoformat().replace("+00:00", "Z")
