"""`flexledger market ...`: sessions, sealed bids and offers, reveals, results, settlement.

``bid`` and ``offer`` check the order against the contract (read-only), approve the
deposit, keep the secret salt in the wallet dir, commit, and then wait for the reveal phase
and reveal by themselves (``--no-reveal`` to stop after the commit; ``market reveal`` later).
"""
from __future__ import annotations

from cli.common import CliError, Context, format_amount, print_json
from cli.market_common import format_mtu, format_price, format_time, guarded, market, parse_mtus, parse_price
from market import sources
from market.client import MarketClient, MarketError
from market.orders import Order, new_salt
from market.wallet import SealedOrder, SealedOrderStore

REVEAL_WAIT = 3600.0
SIDES = {("bid", "energy"): "buy", ("offer", "energy"): "sell", ("offer", "flex"): "offer",
         ("bid", "capacity"): "bid"}


def register(sub) -> None:
    group = sub.add_parser("market", help="market sessions, sealed orders, results and settlement").add_subparsers(
        dest="action", required=True)
    group.add_parser("sessions", help="all sessions and their phases").set_defaults(run=guarded(list_sessions))
    for name, helptext, runner in (("show", "one session in detail", show_session),
                                   ("orders", "a session's commitments and revealed orders", show_orders),
                                   ("results", "a session's clearing results", show_results),
                                   ("settlement", "a session's settlement lines and payouts", show_settlement)):
        p = group.add_parser(name, help=helptext)
        p.add_argument("session", type=int)
        p.add_argument("--json", action="store_true", help="print the raw records as JSON")
        p.set_defaults(run=guarded(runner))
    for name, helptext in (("bid", "a sealed bid: buy energy, or bid for capacity"),
                           ("offer", "a sealed offer: sell energy, or offer flexibility")):
        p = group.add_parser(name, help=helptext)
        p.add_argument("session", type=int)
        p.add_argument("--key", required=True, help="the trader's key")
        p.add_argument("--device", required=True, help="a device in the trader's portfolio")
        p.add_argument("--price", required=True, help="tokens per kWh")
        p.add_argument("--qty", type=int, required=True, help="Wh per MTU (energy) or W (flexibility, capacity)")
        p.add_argument("--min-qty", type=int, help="least accepted part (default 1; --indivisible: all)")
        p.add_argument("--indivisible", action="store_true", help="all or nothing")
        p.add_argument("--mtus", help="MTU offsets in the session window, e.g. 0-3,6 (default: all)")
        p.add_argument("--deposit", help="deposit in tokens, if more than the order needs (a deposit shows an "
                                         "upper bound of the order before it is revealed)")
        p.add_argument("--no-reveal", action="store_true", help="commit only; reveal later with 'market reveal'")
        p.add_argument("--wait", type=float, default=REVEAL_WAIT, help="seconds to wait for the reveal phase")
        if name == "offer":
            p.add_argument("--baseline", type=int, help="flexibility: declared baseline in Wh per MTU "
                                                        "(default: the meter history)")
        p.set_defaults(run=guarded(place_order), command_name=name)
    reveal = group.add_parser("reveal", help="reveal this key's sealed orders whose reveal phase is open")
    reveal.add_argument("session", type=int, nargs="?", help="only this session")
    reveal.add_argument("--key", required=True)
    reveal.add_argument("--wait", type=float, default=0.0, help="seconds to wait for reveal phases to open")
    reveal.set_defaults(run=guarded(reveal_orders))
    for name, helptext in (("clear", "clear a session after its reveal phase (anyone)"),
                           ("settle", "settle a cleared session against meter data (anyone)"),
                           ("release", "pay the next chunk of a big session's payouts (anyone)")):
        p = group.add_parser(name, help=helptext)
        p.add_argument("session", type=int)
        p.add_argument("--key", required=True, help="the key that signs (and pays gas)")
        p.set_defaults(run=guarded(session_step), step=name)


# -- orders ----------------------------------------------------------------------------

def _order(args, session: dict) -> Order:
    side = SIDES.get((args.command_name, session["kind"]))
    if side is None:
        other = "offer" if args.command_name == "bid" else "bid"
        raise CliError(f"a {session['kind']} session takes {other}s: use 'flexledger market {other}'")
    if session["kind"] == "flex":
        if args.mtus:
            raise CliError("a flexibility offer covers the whole request window: leave out --mtus")
        mtus: tuple[int, ...] = ()
    else:
        mtus = parse_mtus(args.mtus) if args.mtus else tuple(range(session["n_mtus"]))
    min_qty = args.qty if args.indivisible else (args.min_qty if args.min_qty is not None else 1)
    return Order(side, args.device, parse_price(args.price), args.qty, min_qty, mtus, getattr(args, "baseline", None))


def place_order(ctx: Context, args) -> None:
    client, store = market(ctx), SealedOrderStore(ctx.home)
    key = ctx.unlock(args.key)
    session = client.session(args.session)
    order = _order(args, session)
    deposit = max(client.needed_deposit(key, args.session, order), parse_price(args.deposit) if args.deposit else 0)
    salt = new_salt()
    sealed = store.save(SealedOrder(client.address(sources.MARKET), args.session, args.key, key.address, order, salt,
                                    client.commitment(key, args.session, order, salt), deposit))
    try:
        client.ensure_allowance(key, deposit)
        receipt = client.send(key, sources.MARKET, "commit", args.session, sealed.commitment, deposit)
    except MarketError:
        store.discard(sealed)  # rejected in a block: nothing was committed (other errors keep the salt)
        raise
    sealed = store.update(sealed, seq=receipt["result"])
    print(f"committed {order.side} {sealed.seq} in session {args.session} with a deposit of "
          f"{format_amount(deposit)} (salt kept in {store.directory})")
    if not args.no_reveal:
        _reveal_when_open(client, store, key, [sealed], args.wait)


def _reveal_when_open(client: MarketClient, store: SealedOrderStore, key, pending: list[SealedOrder],
                      wait: float) -> None:
    for sid in sorted({s.session for s in pending}):
        session = client.session(sid)
        if session["phase"] in ("commit", "gate_closure"):
            if wait <= 0:
                print(f"session {sid}: reveal opens at {format_time(session['times']['reveal'])}; "
                      f"run 'flexledger market reveal' then")
                continue
            print(f"session {sid}: waiting for the reveal phase ({format_time(session['times']['reveal'])})",
                  flush=True)
            client.wait_for_phase(sid, ("reveal", "clearing", "grid_validation_pending", "delivery", "settled"), wait)
        for sealed in (s for s in pending if s.session == sid):
            client.send(key, sources.MARKET, "reveal", sid, sealed.seq, sealed.order.to_value(), sealed.salt)
            store.update(sealed, revealed=True)
            print(f"revealed {sealed.order.side} {sealed.seq} in session {sid}")


def reveal_orders(ctx: Context, args) -> None:
    client, store = market(ctx), SealedOrderStore(ctx.home)
    pending = store.pending(client.address(sources.MARKET), args.key, args.session)
    if not pending:
        print("no sealed orders waiting to be revealed")
        return
    _reveal_when_open(client, store, ctx.unlock(args.key), pending, args.wait)


def session_step(ctx: Context, args) -> None:
    receipt = market(ctx).send(ctx.unlock(args.key), sources.MARKET, args.step, args.session)
    outcome = {"clear": "session {s} cleared: now {r}", "settle": "session {s} settled: {r} payouts",
               "release": "session {s}: released a chunk of payouts, {r} chunks left"}[args.step]
    print(outcome.format(s=args.session, r=receipt["result"]) + f" (block {receipt['height']}, gas {receipt['gas_used']})")


# -- views -----------------------------------------------------------------------------

def _window(session: dict) -> str:
    return f"{format_mtu(session['first_mtu'])} +{session['n_mtus']} MTUs"


def list_sessions(ctx: Context, args) -> None:
    sessions = market(ctx).sessions()
    if not sessions:
        print("no sessions yet")
    for s in sessions:
        print(f"{s['id']:>4}  {s['kind']:8s} {s['phase']:24s} feeder {s['feeder']:8s} {_window(s)}  "
              f"{s['commits']} orders")


def show_session(ctx: Context, args) -> None:
    s = market(ctx).session(args.session)
    if args.json:
        print_json(s)
        return
    times = s["times"]
    print(f"session {s['id']}: {s['kind']}, phase {s['phase']}, operator {s['operator']}")
    print(f"feeder {s['feeder']}{' buses ' + ','.join(s['buses']) if s.get('buses') else ''}, {_window(s)}")
    print(f"phases: commit until {format_time(times['gate'])}, reveal {format_time(times['reveal'])} - "
          f"{format_time(times['reveal_end'])}, settle by {format_time(times['settle_by'])}")
    print(f"prices {format_price(s['min_price'])} - {format_price(s['max_price'])}, quantities "
          f"{s['min_qty']} - {s['max_qty']} {'Wh per MTU' if s['kind'] == 'energy' else 'W'}, "
          f"min deposit {format_amount(s['min_deposit'])}")
    details = {"energy": lambda: f"rule {s['rule']}, imbalance price {format_price(s['imbalance_price'])}",
               "flex": lambda: f"direction {s['direction']}, {s['power']} W, penalty {format_price(s['penalty_price'])}"
                               f", tolerance {s['tolerance_pct']} %, baseline {s['baseline_days']} days, escrow "
                               f"{format_amount(s['escrow'])}",
               "capacity": lambda: f"rule {s['rule']}, capacity {s['capacity']} W"}
    print(details[s["kind"]]())
    print(f"{s['commits']} commitments" + (f", {s['revealed']} revealed" if "revealed" in s else ""))


def show_orders(ctx: Context, args) -> None:
    records = market(ctx).commitments(args.session)
    if args.json:
        print_json(records)
        return
    if not records:
        print("no commitments")
    for r in records:
        head = f"{r['seq']:>5}  {r['trader']}  deposit {format_amount(r['deposit'])}  "
        o = r["order"]
        if o is None:
            print(head + f"sealed {r['commitment'][:16]}")
        else:
            mtus = ",".join(map(str, o["mtus"])) or "all"
            baseline = "" if o["baseline"] is None else f" baseline {o['baseline']} Wh"
            print(head + f"{o['side']} {o['device']} {o['qty']} (min {o['min_qty']}) at {format_price(o['price'])} "
                         f"MTUs {mtus}{baseline}")


def show_results(ctx: Context, args) -> None:
    client = market(ctx)
    session = client.session(args.session)
    summary, rows = client.query(sources.MARKET, "results", args.session), client.rows(args.session, "results")
    if args.json:
        print_json({"summary": summary, "rows": rows})
        return
    if summary is None:
        raise CliError(f"session {args.session} is not cleared yet (phase {session['phase']})")
    first = session["first_mtu"]
    if session["kind"] == "energy":
        for mtu, price, bid, ask, volume, trades in summary:
            shown = format_price(price) if price is not None else f"pay-as-bid (marginal {format_price(bid)} / " \
                                                                  f"{format_price(ask)})" if trades else "-"
            print(f"MTU {mtu:>2} {format_mtu(first + mtu)}  {volume:>8} Wh  {trades} trades  price {shown}")
        for mtu, bid, offer, qty, pays, gets in rows:
            print(f"  MTU {mtu:>2}: bid {bid} <- offer {offer}: {qty} Wh, buyer pays {format_amount(pays)}, "
                  f"seller gets {format_amount(gets)}")
    elif session["kind"] == "flex":
        print(f"{summary['rule']} selection of {summary['offers']} offers: {summary['awarded']} W awarded for "
              f"{summary['requested']} W requested")
        for seq, qty in rows:
            print(f"  offer {seq}: {qty} W")
    else:
        for mtu, capacity, allocated, awards in summary:
            print(f"MTU {mtu:>2} {format_mtu(first + mtu)}  {allocated} of {capacity} W to {awards} bids")
        for mtu, seq, qty in rows:
            print(f"  MTU {mtu:>2}: bid {seq}: {qty} W")


def show_settlement(ctx: Context, args) -> None:
    client = market(ctx)
    session = client.session(args.session)
    lines, payouts = client.rows(args.session, "lines"), client.rows(args.session, "payouts")
    if args.json:
        print_json({"lines": lines, "payouts": payouts})
        return
    if session["phase"] != "settled":
        raise CliError(f"session {args.session} is not settled yet (phase {session['phase']})")
    devices = client.devices_by_seq(args.session)
    for line in lines:
        if session["kind"] == "energy":
            device, mtu, position, metered, charge, collected, credit, credited = line
            print(f"{device} MTU {mtu}: traded {position} Wh, metered {metered if metered is not None else '-'} Wh, "
                  f"imbalance charge {format_amount(collected)} of {format_amount(charge)}, "
                  f"credit {format_amount(credited)} of {format_amount(credit)}")
        elif session["kind"] == "flex":
            seq, mtu, baseline, metered, delivered, pay, penalty, collected = line
            print(f"offer {seq} {devices[seq]} MTU {mtu}: baseline {baseline}, metered {metered}, delivered "
                  f"{delivered} Wh, paid {format_amount(pay)}, penalty {format_amount(collected)} of "
                  f"{format_amount(penalty)}")
        else:
            mtu, seq, qty, pay = line
            print(f"bid {seq} {devices[seq]} MTU {mtu}: {qty} W, paid {format_amount(pay)}")
    print(f"forfeited deposits: {format_amount(session.get('forfeited', 0))}")
    for address, amount in payouts:
        print(f"payout {address} {format_amount(amount)}")
