"""`flexledger participant admit|list|show`: the market registry's participants and roles."""
from __future__ import annotations

from cli.common import CliError, Context
from cli.market_common import guarded, market
from market import sources

ROLES = ("dso", "tso", "aggregator", "prosumer", "token_issuer", "meter_data_manager")


def register(sub) -> None:
    group = sub.add_parser("participant", help="market participants and their roles").add_subparsers(
        dest="action", required=True)
    admit = group.add_parser("admit", help="admit a participant (signed by the registry authority)")
    admit.add_argument("who", help="key name or 0x address of the new participant")
    admit.add_argument("--name", required=True, help="display name")
    admit.add_argument("--role", action="append", required=True, choices=ROLES, help="a role (repeat for more)")
    admit.add_argument("--public-key", help="64 hex digits; read from the wallet when WHO is a key name")
    admit.add_argument("--key", required=True, help="the registry authority's key")
    admit.set_defaults(run=guarded(admit_participant))
    group.add_parser("list", help="all participants").set_defaults(run=guarded(list_participants))
    show = group.add_parser("show", help="one participant")
    show.add_argument("who", help="key name or 0x address")
    show.set_defaults(run=guarded(show_participant))


def admit_participant(ctx: Context, args) -> None:
    address = ctx.resolve_address(args.who)
    public_key = args.public_key
    if public_key is None:
        if args.who == address:
            raise CliError("give --public-key when admitting an address that is not a wallet key")
        public_key = ctx.keystore.info(args.who)["public_key"]
    receipt = market(ctx).send(ctx.unlock(args.key), sources.REGISTRY, "admit", address, args.name,
                               sorted(set(args.role)), public_key)
    print(f"admitted {args.name} ({address}) as {', '.join(sorted(set(args.role)))} in block {receipt['height']}")


def _line(p: dict) -> str:
    return f"{p['address']}  {p['name']:16s} {', '.join(p['roles'])}"


def list_participants(ctx: Context, args) -> None:
    found = market(ctx).pages(sources.REGISTRY, "participants", cursor="address", start=None)
    if not found:
        print("no participants yet")
    for participant in found:
        print(_line(participant))


def show_participant(ctx: Context, args) -> None:
    address = ctx.resolve_address(args.who)
    participant = market(ctx).query(sources.REGISTRY, "participant", address)
    if participant is None:
        raise CliError(f"{address} is not a registered participant")
    print(_line(participant))
