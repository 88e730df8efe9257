"""`flexledger testnet ...`: local multi-validator testnets as OS processes, with fault injection."""
from __future__ import annotations

import shutil
from pathlib import Path

from cli.common import CliError, Context
from testnet.layout import TestnetLayout, generate
from testnet.manager import ORACLE, Testnet, TestnetError

DEFAULT_DIR = Path(".testnet")


def register(sub) -> None:
    testnet = sub.add_parser("testnet", help="local multi-validator testnets and fault injection").add_subparsers(
        dest="action", required=True)

    def command(name: str, helptext: str, run, node: bool = False):
        p = testnet.add_parser(name, help=helptext)
        p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="testnet directory (default: .testnet)")
        if node:
            p.add_argument("node", help="node name, e.g. dso or agg1, or 'oracle' for the grid oracle")
        p.set_defaults(run=run)
        return p

    up = command("up", "generate (if needed) and start a testnet; returns once blocks are finalized", testnet_up)
    up.add_argument("--validators", type=int, default=4, help="number of validators (default 4)")
    up.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for finalized blocks")
    up.add_argument("--no-oracle", action="store_true", help="do not start the grid oracle")
    command("status", "height, round, step, peers and the votes held for the round, per node", testnet_status)
    logs = command("logs", "print a node's (or the grid oracle's) log", testnet_logs, node=True)
    logs.add_argument("--lines", type=int, default=50)
    down = command("down", "stop every node and the grid oracle", testnet_down)
    down.add_argument("--clean", action="store_true", help="also delete the testnet directory")
    for name, helptext in (("kill", "kill -9 a node or the oracle"),
                           ("restart", "kill and start a node (or the oracle) again"),
                           ("pause", "freeze a node (SIGSTOP)"), ("resume", "unfreeze a paused node")):
        command(name, helptext, testnet_fault, node=True)
    part = command("partition", "split the network, e.g. 'dso,agg1 agg2,agg3'", testnet_partition)
    part.add_argument("groups", nargs="+", help="comma-separated node names, one argument per group")
    command("heal", "reconnect every node", testnet_heal)


def _testnet(args) -> Testnet:
    try:
        return Testnet(TestnetLayout.load(args.dir))
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None


def testnet_up(ctx: Context, args) -> None:
    if args.validators < 1:
        raise CliError("--validators must be at least 1")
    if not (args.dir / "testnet.json").exists():
        layout = generate(args.dir, args.validators)
        print(f"generated a {args.validators}-validator testnet in {args.dir}")
    else:
        layout = TestnetLayout.load(args.dir)
        print(f"starting the existing testnet in {args.dir} ({len(layout.nodes)} validators)")
    net = Testnet(layout)
    try:
        net.up(timeout=args.timeout, oracle=not args.no_oracle)
    except TestnetError as exc:
        raise CliError(str(exc)) from None
    _print_status(net)
    print(f"wallet (token issuer key 'issuer'): --home {layout.wallet}")


def _votes_held(row: dict) -> str:
    """E.g. ``prevotes dso,agg1,agg2:nil; precommits dso``: whose votes of the current round a
    node holds (``:nil`` marks a nil vote)."""
    parts = []
    for kind in ("prevotes", "precommits"):
        votes = row.get(kind)
        if isinstance(votes, dict):
            names = ",".join(name + (":nil" if block == "nil" else "") for name, block in votes.items())
            parts.append(f"{kind} {names or '-'}")
    return "; ".join(parts) or "-"


def _print_status(net: Testnet) -> None:
    rows = net.status()
    held = [_votes_held(row) for row in rows]
    width = max([len("votes this round"), *map(len, held)])

    def shown(value) -> str:
        return "-" if value is None else str(value)

    print(f"{'node':8s} {'running':8s} {'height':>7s} {'round':>6s} {'step':11s} {'for':>7s} {'peers':>6s}  "
          f"{'votes this round':{width}s}  api")
    for row, votes in zip(rows, held):
        since = f"{row['since']:.1f}s" if isinstance(row.get("since"), (int, float)) else "-"
        print(f"{row['name']:8s} {'yes' if row['running'] else 'no':8s} {shown(row['height']):>7s} "
              f"{shown(row['round']):>6s} {shown(row.get('step')):11s} {since:>7s} {shown(row['peers']):>6s}  "
              f"{votes:{width}s}  {row['api']}")
    if net.layout.oracle:
        print(f"{ORACLE:8s} {'yes' if net.pid(ORACLE) else 'no':8s}  grid oracle, home {net.layout.oracle}")


def testnet_status(ctx: Context, args) -> None:
    _print_status(_testnet(args))


def testnet_logs(ctx: Context, args) -> None:
    net = _testnet(args)
    try:
        log = net.process(args.node).log_file
    except (KeyError, TestnetError) as exc:
        raise CliError(str(exc.args[0])) from None
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    print("\n".join(lines[-args.lines:]))


def testnet_down(ctx: Context, args) -> None:
    net = _testnet(args)
    net.down()
    print("all processes stopped")
    if args.clean:
        shutil.rmtree(args.dir)
        print(f"removed {args.dir}")


def testnet_fault(ctx: Context, args) -> None:
    net = _testnet(args)
    try:
        getattr(net, args.action)(args.node)
    except (TestnetError, KeyError) as exc:
        raise CliError(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from None
    print(f"{args.action}: {args.node}")


def testnet_partition(ctx: Context, args) -> None:
    net = _testnet(args)
    try:
        net.partition([g.split(",") for g in args.groups])
    except (TestnetError, KeyError) as exc:
        raise CliError(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from None
    print("partitioned: " + " | ".join(args.groups))


def testnet_heal(ctx: Context, args) -> None:
    _testnet(args).heal()
    print("healed")
