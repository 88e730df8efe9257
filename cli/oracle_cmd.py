"""`flexledger oracle init|start|status`: the DSO grid oracle process (see gridoracle/service.py)."""
from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

from cli.common import CliError, Context
from gridoracle.config import ConfigError, OracleHome, check_node_url, curtail_to_bp
from gridoracle.limits import Limits
from gridoracle.journal import Journal, JournalError
from market import sources
from market.client import MarketClient
from node.client import ClientError, NodeClient
from node.keystore import Keystore, read_password
from node.logs import configure as configure_logs
from testnet.manager import running_pid


def register(sub) -> None:
    group = sub.add_parser("oracle", help="the DSO grid oracle: validates cleared sessions with power flow, "
                                          "attests them and drives the feeder regimes").add_subparsers(
        dest="action", required=True)
    init = group.add_parser("init", help="create an oracle home: configuration and oracle key")
    _home_argument(init)
    init.add_argument("--feeder", help="pandapower JSON file of the feeder (default: CIGRE LV)")
    init.add_argument("--forecast", help="forecast CSV (needed with --feeder; default: the shipped CIGRE LV one)")
    init.add_argument("--curtail-to-pct", metavar="PCT", default="100",
                      help="safety margin: a curtailment brings line and transformer loading to this percentage "
                           "of the limit, 0.01 to 100 (default: 100, the limit itself)")
    init.set_defaults(run=guarded(init_oracle))
    start = group.add_parser("start", help="run the oracle until Ctrl-C or SIGTERM")
    _home_argument(start)
    _node_argument(start)
    start.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    start.add_argument("--log-format", default="text", choices=["text", "json"])
    start.set_defaults(run=guarded(start_oracle))
    status = group.add_parser("status", help="what the oracle has done: attestations, episodes, regimes")
    _home_argument(status)
    _node_argument(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=guarded(oracle_status))


def _home_argument(parser) -> None:
    parser.add_argument("--oracle-home", type=Path, help="oracle directory (default: <home>/oracle)")


def _node_argument(parser) -> None:
    parser.add_argument("--node", dest="oracle_node", metavar="URL",
                        help="API of the DSO's node, e.g. http://10.0.0.5:26657 (overrides 'node' in oracle.json)")


def oracle_home(ctx: Context, args) -> OracleHome:
    return OracleHome(args.oracle_home or ctx.home / "oracle", getattr(args, "oracle_node", None))


def guarded(run):
    def wrapper(ctx: Context, args) -> None:
        try:
            run(ctx, args)
        except (ConfigError, JournalError) as exc:
            raise CliError(str(exc)) from None
    return wrapper


def init_oracle(ctx: Context, args) -> None:
    from gridoracle.setup import create_oracle_home

    home = oracle_home(ctx, args)
    if args.feeder and not args.forecast:
        raise CliError("--feeder needs --forecast (the uncontrolled load and generation of that feeder)")
    limits = Limits(curtail_to_bp=curtail_to_bp(_number(args.curtail_to_pct), "--curtail-to-pct"))
    key = create_oracle_home(home.path, check_node_url(ctx.node_url, "--node"), read_password(confirm=True),
                             feeder=args.feeder and str(Path(args.feeder).resolve()),
                             forecast=args.forecast and str(Path(args.forecast).resolve()), limits=limits)
    print(f"created grid oracle home {home.path}")
    print(f"oracle key: {key.address}: the chain's genesis must name it (MarketConfig.oracle) and admit it "
          f"with the dso role")
    print(f"start it with: flexledger oracle start --oracle-home {home.path}")


def _number(text: str) -> float | str:
    """A command-line number as a float; the text itself when it is none (refused by its check)."""
    try:
        return float(text)
    except ValueError:
        return text


def start_oracle(ctx: Context, args) -> None:
    from gridoracle.service import Oracle  # loads pandapower: only when the oracle runs

    configure_logs(args.log_level, args.log_format)
    home = oracle_home(ctx, args)
    oracle = Oracle.open(home, read_password(), ctx.ca_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    home.pid_file.write_text(str(os.getpid()))
    try:
        oracle.run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        home.pid_file.unlink(missing_ok=True)


def oracle_status(ctx: Context, args) -> None:
    home = oracle_home(ctx, args)
    config = home.load_config()
    journal = Journal.read(home.state_file)
    doc = {"running": running_pid(home.pid_file), "node": config.node,
           "oracle": Keystore(home.keys).info(config.key)["address"], "head": None, "regimes": {},
           "height": journal.height, "watermark": journal.watermark, "attested": journal.attested,
           "episodes": journal.episodes, "errors": journal.errors}
    market = MarketClient(NodeClient(config.node, timeout=10, ca_file=ctx.ca_file))
    try:
        doc["head"] = market.node.status()["height"]
        for feeder in sorted({session["feeder"] for session in market.sessions()}):
            doc["regimes"][feeder] = market.query(sources.GRID, "regime", feeder)["state"]
    except ClientError as exc:
        doc["node_error"] = exc.message
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        _print_status(doc)


def _print_status(doc: dict) -> None:
    print(f"oracle   {doc['oracle']}  {'running (pid ' + str(doc['running']) + ')' if doc['running'] else 'not running'}")
    print(f"node     {doc['node']}  head {doc['head'] if doc['head'] is not None else '? (' + doc['node_error'] + ')'}"
          f", oracle caught up to {doc['height']}, watching sessions from {doc['watermark']}")
    attested = doc["attested"] or {}
    violated = sum(1 for a in attested.values() if a["verdict"] == "violated")
    print(f"attested {len(attested)} sessions ({len(attested) - violated} approved, {violated} violated)")
    for sid, record in sorted(attested.items(), key=lambda item: int(item[0]))[-10:]:
        print(f"  session {sid:>5s}  {record['verdict']:9s} {record.get('violations', 0):3d} violations  "
              f"height {record['height']}")
    for sid, episode in sorted((doc["episodes"] or {}).items()):
        print(f"episode  session {sid}: {episode['stage']} (feeder {episode['feeder']}"
              f"{', flexibility request ' + str(episode['flex']) if 'flex' in episode else ''})")
    for sid, error in sorted((doc["errors"] or {}).items()):
        print(f"error    session {sid}: {error}")
    if doc["regimes"]:
        print("regimes  " + ", ".join(f"{feeder} {state}" for feeder, state in sorted(doc["regimes"].items())))
