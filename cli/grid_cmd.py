"""`flexledger grid show`: the feeder model, the oracle's latest loadings and voltages, the regimes."""
from __future__ import annotations

import json

from cli.common import CliError, Context
from cli.oracle_cmd import guarded, oracle_home
from gridoracle.snapshot import load_snapshots
from market import sources
from market.client import MarketClient
from node.client import ClientError, NodeClient


def register(sub) -> None:
    group = sub.add_parser("grid", help="the DSO's feeder model and the grid oracle's latest results"
                           ).add_subparsers(dest="action", required=True)
    show = group.add_parser("show", help="feeders and their regimes, lines, transformers, loadings and voltages")
    show.add_argument("--oracle-home", help="oracle directory (default: <home>/oracle)")
    show.add_argument("--session", type=int, help="the oracle's validation of this session (default: the latest)")
    show.add_argument("--mtu", type=int, help="values in this MTU (default: the worst MTU of each element)")
    show.add_argument("--json", action="store_true", help="the validation record as JSON")
    show.set_defaults(run=guarded(grid_show))


def _pick(snapshots: list[dict], session: int | None) -> dict | None:
    chosen = [s for s in snapshots if session is None or s["session"] == session]
    return chosen[-1] if chosen else None


def _hhmm(mtu: int) -> str:
    return f"{(mtu % 96) // 4:02d}:{(mtu % 4) * 15:02d}"


def _value(series: list, mtus: list[int], mtu: int | None, worst) -> tuple[float | None, int | None]:
    """The value at ``mtu``, or the worst one (``worst`` = max or min) and its MTU."""
    pairs = [(v, m) for v, m in zip(series, mtus) if v is not None]
    if mtu is not None:
        return next(((v, m) for v, m in pairs if m == mtu), (None, mtu))
    return worst(pairs) if pairs else (None, None)


def grid_show(ctx: Context, args) -> None:
    from gridoracle.feeder import load_feeder  # loads pandapower: only for this command

    home = oracle_home(ctx, args)
    config = home.load_config()
    snapshot = _pick(load_snapshots(home.latest_file), args.session)
    if args.json:
        print(json.dumps(snapshot, indent=2))
        return
    if args.session is not None and snapshot is None:
        raise CliError(f"the oracle has no validation of session {args.session} (it keeps the latest 20)")
    if snapshot is not None and args.mtu is not None and args.mtu not in snapshot["mtus"]:
        raise CliError(f"MTU {args.mtu} is not in session {snapshot['session']} "
                       f"({snapshot['mtus'][0]}..{snapshot['mtus'][-1]})")
    model = load_feeder(home.resolve(config.feeder))
    limits = config.limits
    print(f"feeder model {model.name}: limits lines {limits.line_loading_bp / 100:g} %, transformers "
          f"{limits.trafo_loading_bp / 100:g} %, voltage {limits.vm_min_upu / 1e6:.2f}-{limits.vm_max_upu / 1e6:.2f} p.u.")
    _print_feeders(model, config, MarketClient(NodeClient(config.node, timeout=10)))
    if snapshot is None:
        print("no validation yet: the oracle has not validated a session")
        return
    where = f"MTU {args.mtu} ({_hhmm(args.mtu)})" if args.mtu is not None else "worst MTU of each element"
    print(f"validation of session {snapshot['session']} ({snapshot['kind']}, feeder {snapshot['feeder']}, "
          f"{snapshot['stage']}): {snapshot['verdict']}, {len(snapshot['violations'])} violations; {where}")
    mtus = snapshot["mtus"]
    print(f"{'element':28s} {'between':24s} {'rating':>10s} {'loading':>9s}  MTU")
    for element, between, rating in [(line.id, f"{line.from_bus} - {line.to_bus}", f"{line.rating_ka:.3f} kA")
                                     for line in model.lines] + \
                                    [(t.id, f"{t.hv_bus} - {t.lv_bus}", f"{t.rating_mva:.3f} MVA")
                                     for t in model.trafos]:
        series = snapshot["lines"].get(element) or snapshot["trafos"].get(element) or []
        value, at = _value(series, mtus, args.mtu, max)
        limit = (limits.line_loading_bp if element.startswith("line:") else limits.trafo_loading_bp) / 100
        shown = "-" if value is None else f"{value:8.2f}%"
        flag = "  OVER" if value is not None and value > limit else ""
        print(f"{element:28s} {between:24s} {rating:>10s} {shown:>9s}  {'' if at is None else _hhmm(at)}{flag}")
    print(f"{'bus':28s} {'lowest':>9s}  MTU   {'highest':>9s}  MTU")
    for bus in model.buses:
        series = snapshot["buses"].get(bus.id, [])
        low, low_at = _value(series, mtus, args.mtu, min)
        high, high_at = _value(series, mtus, args.mtu, max)
        if low is None:
            print(f"{bus.id:28s} {'-':>9s}")
            continue
        flag = "  OUT" if low < limits.vm_min_upu / 1e6 or high > limits.vm_max_upu / 1e6 else ""
        print(f"{bus.id:28s} {low:9.5f}  {_hhmm(low_at)} {high:9.5f}  {_hhmm(high_at)}{flag}")


def _print_feeders(model, config, market: MarketClient) -> None:
    print(f"{'feeder':8s} {'chain id':10s} {'buses':>5s}  regime")
    for name, buses in sorted(model.feeders.items()):
        chain_id = config.chain_feeder(name)
        try:
            record = market.query(sources.GRID, "regime", chain_id)
            regime = record["state"] + (f" since height {record['height']}: {record['reason']}" if record["seq"] else "")
        except ClientError as exc:
            regime = f"? ({exc.message})"
        print(f"{name:8s} {chain_id:10s} {len(buses):5d}  {regime}")
