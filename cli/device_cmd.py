"""`flexledger device register|list`: devices in the market registry and who trades them."""
from __future__ import annotations

from cli.common import Context
from cli.market_common import guarded, market
from market import sources

TYPES = ("load", "generation", "storage", "ev_charger", "heat_pump")


def register(sub) -> None:
    group = sub.add_parser("device", help="register and list devices").add_subparsers(dest="action", required=True)
    new = group.add_parser("register", help="register a device (signed by its owner or the registry authority)")
    new.add_argument("id", help="device id: 1 to 64 characters from a-z 0-9 . _ -")
    new.add_argument("--type", required=True, choices=TYPES)
    new.add_argument("--max-power", type=int, required=True, help="W")
    new.add_argument("--min-power", type=int, default=0, help="W (default 0)")
    new.add_argument("--capacity", type=int, default=0, help="storage capacity in Wh (storage, EV chargers)")
    new.add_argument("--bus", required=True, help="connection bus id")
    new.add_argument("--feeder", required=True, help="feeder id")
    new.add_argument("--aggregator", help="key name or address of the managing aggregator")
    new.add_argument("--owner", help="owner (default: the signing key; another owner needs the authority's key)")
    new.add_argument("--key", required=True, help="signing key")
    new.set_defaults(run=guarded(register_device))
    listing = group.add_parser("list", help="registered devices")
    listing.add_argument("--owner", help="only this owner's devices (key name or address)")
    listing.add_argument("--trader", help="only devices this key or address may trade (its portfolio)")
    listing.add_argument("--feeder", help="only devices on this feeder")
    listing.set_defaults(run=guarded(list_devices))


def register_device(ctx: Context, args) -> None:
    key = ctx.unlock(args.key)
    spec = {"id": args.id, "type": args.type, "max_power": args.max_power, "min_power": args.min_power,
            "capacity": args.capacity, "bus": args.bus, "feeder": args.feeder,
            "owner": ctx.resolve_address(args.owner) if args.owner else key.address,
            "aggregator": ctx.resolve_address(args.aggregator) if args.aggregator else None}
    receipt = market(ctx).send(key, sources.REGISTRY, "register_device", spec)
    print(f"registered {args.type} {args.id} on feeder {args.feeder} bus {args.bus} in block {receipt['height']}")


def trader(device: dict) -> str:
    """Who may place orders for the device: its aggregator, or else its owner."""
    return device["aggregator"] or device["owner"]


def list_devices(ctx: Context, args) -> None:
    found = market(ctx).pages(sources.REGISTRY, "devices", cursor="id", start=None)
    owner = ctx.resolve_address(args.owner) if args.owner else None
    portfolio = ctx.resolve_address(args.trader) if args.trader else None
    shown = [d for d in found if (owner is None or d["owner"] == owner) and (portfolio is None or trader(d) == portfolio)
             and (args.feeder is None or d["feeder"] == args.feeder)]
    if not shown:
        print("no devices")
    for d in shown:
        print(f"{d['id']:20s} {d['type']:11s} {d['max_power']:>8} W  {d['capacity']:>8} Wh  feeder {d['feeder']} "
              f"bus {d['bus']}  owner {d['owner']}  traded by {trader(d)}")
