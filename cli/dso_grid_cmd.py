"""`flexledger dso grid publish|show`: the DSO publishes its feeders and buses (with each bus's
connection limit) from the grid oracle's feeder model to the grid contract, and reads them back."""
from __future__ import annotations

from pathlib import Path

from cli.common import Context
from cli.market_common import guarded, market
from cli.oracle_cmd import oracle_home
from market import sources


def register(group) -> None:
    grid = group.add_parser("grid", help="the feeders and buses published on chain").add_subparsers(
        dest="grid_action", required=True)
    publish = grid.add_parser("publish", help="publish the oracle's feeder model: feeders, buses, connection limits")
    publish.add_argument("--key", default="dso", help="the DSO's key (default dso)")
    publish.add_argument("--oracle-home", type=Path, help="oracle directory (default: <home>/oracle)")
    publish.set_defaults(run=guarded(publish_grid))
    show = grid.add_parser("show", help="the published feeders, or one feeder's buses and their limits")
    show.add_argument("--feeder", help="list this feeder's buses")
    show.set_defaults(run=guarded(show_grid))


def publish_grid(ctx: Context, args) -> None:
    from gridoracle.feeder import load_feeder  # loads pandapower: only for this command
    from gridoracle.publication import grid_rows, publication_pages

    home = oracle_home(ctx, args)
    config = home.load_config()
    rows = grid_rows(load_feeder(home.resolve(config.feeder)), config)
    client = market(ctx)
    key = ctx.unlock(args.key)
    for feeder, page in publication_pages(rows):
        receipt = client.send(key, sources.GRID, "publish_buses", feeder, page)
        print(f"feeder {feeder}: published {len(page)} buses, {receipt['result']} in all (block {receipt['height']})")
    print(f"the grid on chain: {len(rows)} feeders, {sum(len(buses) for buses in rows.values())} buses")


def show_grid(ctx: Context, args) -> None:
    client = market(ctx)
    if args.feeder is None:
        feeders = client.pages(sources.GRID, "feeders", cursor="feeder", start=None)
        if not feeders:
            print("no grid published: the DSO publishes it with flexledger dso grid publish")
        for record in feeders:
            print(f"feeder {record['feeder']}: {record['buses']} buses")
        return
    print(f"{'bus':24s} {'connection limit':>16s}")
    for record in client.pages(sources.GRID, "buses", args.feeder, cursor="bus", start=None):
        limit = "none" if record["limit_w"] is None else f"{record['limit_w']} W"
        print(f"{record['bus']:24s} {limit:>16s}")
