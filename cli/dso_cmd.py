"""`flexledger dso open-energy|request-flex|capacity|regime|grid`: the DSO opens market sessions,
sets the traffic-light regime of its feeders (``dso regime set|show``) and publishes its grid
(``dso grid``, in cli/dso_grid_cmd.py)."""
from __future__ import annotations

from cli import dso_grid_cmd
from cli.common import CliError, Context, format_amount
from cli.market_common import (add_phase_arguments, add_window_arguments, format_mtu, format_time, guarded,
                               market, parse_mtus, parse_price, window_and_phases)
from market import sources


def register(sub) -> None:
    group = sub.add_parser("dso", help="open energy, flexibility and capacity sessions (DSO)").add_subparsers(
        dest="action", required=True)

    energy = group.add_parser("open-energy", help="open a local energy market session (P2P double auction)")
    _common(energy)
    energy.add_argument("--min-price", default="0", help="lowest price, tokens per kWh (default 0)")
    energy.add_argument("--max-price", required=True, help="highest price, tokens per kWh")
    energy.add_argument("--min-qty", type=int, default=1, help="smallest order, Wh per MTU (default 1)")
    energy.add_argument("--max-qty", type=int, required=True, help="largest order, Wh per MTU")
    energy.add_argument("--rule", choices=("uniform", "pay_as_bid"), default="uniform",
                        help="uniform price (midpoint of the marginal pair) or pay-as-bid")
    energy.add_argument("--imbalance-price", help="tokens per kWh of imbalance (default: the max price)")
    energy.set_defaults(run=guarded(open_energy))

    flex = group.add_parser("request-flex", help="request flexibility from aggregators")
    _common(flex)
    flex.add_argument("--bus", action="append", default=[], help="only devices on this bus (repeat; "
                                                                  "default: the whole feeder)")
    flex.add_argument("--direction", choices=("up", "down"), required=True,
                      help="up: less consumption / more generation; down: the opposite")
    flex.add_argument("--power", type=int, required=True, help="W wanted in each MTU")
    flex.add_argument("--max-price", required=True, help="price cap, tokens per kWh delivered")
    flex.add_argument("--min-qty", type=int, default=1, help="smallest offer in W (default 1)")
    flex.add_argument("--penalty-price", help="tokens per kWh outside the tolerance (default: the cap)")
    flex.add_argument("--tolerance-pct", type=int, default=10, help="delivery tolerance in percent (default 10)")
    flex.add_argument("--baseline-days", type=int, default=5, help="days of meter history for baselines (default 5)")
    flex.set_defaults(run=guarded(request_flex))

    capacity = group.add_parser("capacity", help="publish feeder capacity for a capacity market")
    _common(capacity)
    capacity.add_argument("--capacity", required=True, help="W available: one value for every MTU, or a "
                                                            "comma-separated value per MTU")
    capacity.add_argument("--rule", choices=("premium", "pro_rata", "fcfs"), default="premium",
                          help="premium capacity (highest price first, pay-as-bid) or social equity "
                               "(free: pro rata, or first come first served)")
    capacity.add_argument("--max-price", default="0", help="premium only: highest price, tokens per kWh")
    capacity.add_argument("--min-qty", type=int, default=1, help="smallest bid in W (default 1)")
    capacity.add_argument("--max-qty", type=int, required=True, help="largest bid in W")
    capacity.set_defaults(run=guarded(publish_capacity))

    regime = group.add_parser("regime", help="traffic-light regime of a feeder (GREEN, YELLOW, RED, BLACK)"
                              ).add_subparsers(dest="regime_action", required=True)
    set_ = regime.add_parser("set", help="change a feeder's regime (signed by the DSO or the grid oracle key)")
    set_.add_argument("feeder", help="feeder id")
    set_.add_argument("state", type=str.upper, choices=("GREEN", "YELLOW", "RED", "BLACK"), help="the new regime")
    set_.add_argument("--key", required=True, help="the DSO's key (or the grid oracle key)")
    set_.add_argument("--reason", required=True, help="why (1 to 200 characters; kept in the history)")
    set_.add_argument("--mtus", help="YELLOW only: the affected MTU numbers (unix time // 900), e.g. "
                                     "1964000-1964003,1964010")
    set_.add_argument("--attestation", default="", help="the attestation it rests on: its input hash "
                                                        "(64 hex digits; default none, a manual change)")
    set_.set_defaults(run=guarded(set_regime))
    show = regime.add_parser("show", help="a feeder's current regime and its history")
    show.add_argument("feeder", help="feeder id")
    show.set_defaults(run=guarded(show_regime))
    dso_grid_cmd.register(group)


def _common(parser) -> None:
    parser.add_argument("--key", required=True, help="the DSO's key")
    parser.add_argument("--feeder", required=True, help="feeder id")
    add_window_arguments(parser)
    add_phase_arguments(parser)
    parser.add_argument("--min-deposit", default="0", help="least deposit per order, tokens (default 0)")
    parser.add_argument("--attestor", help="address that must attest the grid validation after clearing")


def _open(ctx: Context, args, function: str, spec: dict) -> None:
    spec.update(window_and_phases(args), feeder=args.feeder, min_deposit=parse_price(args.min_deposit),
                attestor=ctx.resolve_address(args.attestor) if args.attestor else None)
    client = market(ctx)
    key = ctx.unlock(args.key)
    if function == "request_flex":
        escrow = client.query(sources.MARKET, "flex_escrow", spec["power"], spec["max_price"], spec["n_mtus"])
        client.ensure_allowance(key, escrow)
    receipt = client.send(key, sources.MARKET, function, spec)
    session = client.session(receipt["result"])
    times = session["times"]
    print(f"opened {session['kind']} session {session['id']} (block {receipt['height']})")
    print(f"commit until {format_time(times['gate'])}, reveal {format_time(times['reveal'])} to "
          f"{format_time(times['reveal_end'])}, settle by {format_time(times['settle_by'])}")
    if session["escrow"]:
        print(f"escrowed {format_amount(session['escrow'])}")


def open_energy(ctx: Context, args) -> None:
    spec = {"min_price": parse_price(args.min_price), "max_price": parse_price(args.max_price),
            "min_qty": args.min_qty, "max_qty": args.max_qty, "rule": args.rule}
    if args.imbalance_price is not None:
        spec["imbalance_price"] = parse_price(args.imbalance_price)
    _open(ctx, args, "open_energy", spec)


def request_flex(ctx: Context, args) -> None:
    spec = {"buses": sorted(set(args.bus)), "direction": args.direction, "power": args.power,
            "max_price": parse_price(args.max_price), "min_qty": args.min_qty,
            "tolerance_pct": args.tolerance_pct, "baseline_days": args.baseline_days}
    if args.penalty_price is not None:
        spec["penalty_price"] = parse_price(args.penalty_price)
    _open(ctx, args, "request_flex", spec)


def publish_capacity(ctx: Context, args) -> None:
    try:
        values = [int(v) for v in args.capacity.split(",")]
    except ValueError:
        raise CliError(f"invalid --capacity {args.capacity!r}: give W as integers") from None
    spec = {"capacity": values * args.mtus if len(values) == 1 else values, "rule": args.rule,
            "min_qty": args.min_qty, "max_qty": args.max_qty}
    if args.rule == "premium":
        spec["max_price"] = parse_price(args.max_price)
    _open(ctx, args, "publish_capacity", spec)


def _format_regime(record: dict) -> str:
    mtus = record["mtus"]
    span = ""
    if mtus:
        span = f" MTUs {format_mtu(mtus[0])}..{format_mtu(mtus[-1])} ({len(mtus)})"
    attestation = f" attestation {record['attestation']}" if record["attestation"] else ""
    when = f"block {record['height']}" if record["seq"] else "never set"
    return f"{record['state']}{span} ({when}) {record['reason']}{attestation}".rstrip()


def set_regime(ctx: Context, args) -> None:
    mtus = list(parse_mtus(args.mtus)) if args.mtus else []
    if args.state == "YELLOW" and not mtus:
        raise CliError("a YELLOW regime needs --mtus: the affected MTU numbers")
    if args.state != "YELLOW" and mtus:
        raise CliError("--mtus is for YELLOW only")
    client = market(ctx)
    key = ctx.unlock(args.key)
    receipt = client.send(key, sources.GRID, "set_regime", args.feeder, args.state, mtus, args.reason,
                          args.attestation.lower())
    record = client.query(sources.GRID, "regime", args.feeder)
    print(f"feeder {args.feeder}: {_format_regime(record)} (change {receipt['result']}, block {receipt['height']})")


def show_regime(ctx: Context, args) -> None:
    client = market(ctx)
    print(f"feeder {args.feeder}: {_format_regime(client.query(sources.GRID, 'regime', args.feeder))}")
    history = client.pages(sources.GRID, "history", args.feeder, cursor="seq", start=0)
    for record in history:
        print(f"  {record['seq']:>4}  {_format_regime(record)}  by {record['by']}")
