"""`flexledger node init|start|encrypt-key|reset-signing-state`: set up and run a node.

The node key is encrypted with a password (like wallet keys): ``init`` asks for it (or reads
``--password-file``, $FLEXLEDGER_PASSWORD_FILE or $FLEXLEDGER_PASSWORD) and ``start`` asks for it
again, once, before the node starts; ``encrypt-key`` converts a plain key of an older home.
"""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

from cli import backup_cmd
from cli.common import CliError, Context, parse_amount
from consensus.types import Validator, ValidatorSet
from gridoracle.config import OracleHome
from gridoracle.setup import create_oracle_home, oracle_genesis
from market.genesis import MarketConfig, market_genesis
from node.config import DEFAULT_API_PORT, NodeConfig, NodeHome
from node.genesis import Genesis
from node.keys import KeyPair
from node.keystore import read_password
from node.logs import configure as configure_logs
from node.params import ChainParams
from node.signing import GuardedSigner

ISSUER_KEY = "issuer"


def register(sub) -> None:
    node = sub.add_parser("node", help="set up and run a node").add_subparsers(dest="action", required=True)
    init = node.add_parser("init", help="create a node home: key, genesis, config")
    init.add_argument("--node-home", type=Path, help="node directory (default: <home>/node)")
    init.add_argument("--dev", action="store_true", help="single-authority dev chain; creates the wallet key "
                                                         f"'{ISSUER_KEY}' as token issuer if missing (admitted, "
                                                         "and allowed to deploy contracts)")
    init.add_argument("--chain-id", default="flexledger-dev")
    init.add_argument("--port", type=int, default=DEFAULT_API_PORT, help="API port on 127.0.0.1")
    init.add_argument("--block-interval", type=float, default=1.0, help="seconds between blocks")
    init.add_argument("--issuer-supply", default="1000000", help="tokens minted to the issuer at genesis")
    init.add_argument("--oracle-home", type=Path, help="where to create the DSO grid oracle's home and key "
                                                       "(default: <home>/oracle)")
    _password_file_argument(init)
    init.set_defaults(run=init_node)
    start = node.add_parser("start", help="run the node until Ctrl-C")
    start.add_argument("--node-home", type=Path, help="node directory (default: <home>/node)")
    start.add_argument("--dev", action="store_true", help="require a dev (single-authority) home")
    start.add_argument("--block-interval", type=float, help="seconds between blocks (overrides config)")
    start.add_argument("--port", type=int, help="API port (overrides config)")
    start.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    start.add_argument("--log-format", default="text", choices=["text", "json"],
                       help="json: one JSON object per line, for log collectors")
    _password_file_argument(start)
    start.set_defaults(run=start_node)
    encrypt = node.add_parser("encrypt-key", help="encrypt a node key that an older version stored in plain text")
    encrypt.add_argument("--node-home", type=Path, help="node directory (default: <home>/node)")
    _password_file_argument(encrypt)
    encrypt.set_defaults(run=encrypt_key)
    reset = node.add_parser("reset-signing-state", help="create a fresh signing state: ONLY for a key that has "
                                                        "never signed on this chain (otherwise it may double-sign)")
    reset.add_argument("--node-home", type=Path, help="node directory (default: <home>/node)")
    reset.add_argument("--yes", action="store_true", help="confirm that this key has never signed")
    reset.set_defaults(run=reset_signing_state)
    backup_cmd.register_backup(node)  # part E (operations): export-state, import-state


def _password_file_argument(parser) -> None:
    parser.add_argument("--password-file", type=Path, help="file whose first line is the password of the keys "
                                                           "(default: $FLEXLEDGER_PASSWORD_FILE, "
                                                           "$FLEXLEDGER_PASSWORD, or a prompt)")


def _home(ctx: Context, args) -> NodeHome:
    return NodeHome(args.node_home or ctx.home / "node")


def init_node(ctx: Context, args) -> None:
    home = _home(ctx, args)
    if home.exists():
        raise CliError(f"{home.path} already holds a node; remove it or choose another --node-home")
    if not args.dev:
        raise CliError("only --dev (single authority) is available: multi-validator setups come from "
                       "'flexledger testnet up'")
    if args.block_interval <= 0:
        raise CliError("--block-interval must be more than zero")
    oracle_home = args.oracle_home or ctx.home / "oracle"
    if OracleHome(oracle_home).config_file.exists():
        raise CliError(f"{oracle_home} already holds a grid oracle; remove it or choose another --oracle-home")
    keystore = ctx.keystore
    password = read_password(confirm=True, password_file=args.password_file)
    if ISSUER_KEY in keystore.names():
        issuer = keystore.info(ISSUER_KEY)["address"]
    else:
        issuer = keystore.create(ISSUER_KEY, password).address
        print(f"created wallet key '{ISSUER_KEY}' ({issuer}), the token issuer")
    oracle = create_oracle_home(oracle_home, f"http://127.0.0.1:{args.port}", password)
    config, allocations, admitted = oracle_genesis(oracle, MarketConfig(), {issuer: parse_amount(args.issuer_supply)})
    key = KeyPair.generate()
    contracts, calls = market_genesis(issuer, allocations, config, admitted)
    genesis = Genesis(args.chain_id, int(time.time() * 1000),
                      ValidatorSet((Validator("dso", key.public_key, 10, "dso"),)), ChainParams(), contracts, calls,
                      allowed_accounts=(issuer,), deployers=(issuer,))  # the dev chain's operator
    home.save_key(key, password)
    genesis.save(home.genesis_file)
    home.save_config(NodeConfig(api_port=args.port, block_interval=args.block_interval, dev=True))
    print(f"initialized dev node in {home.path}")
    print(f"validator: {key.address}")
    print(f"grid oracle key: {oracle.address} (home {oracle_home})")
    print(f"start it with: flexledger node start --dev --node-home {home.path}")
    print(f"and the grid oracle with: flexledger oracle start --oracle-home {oracle_home}")


def start_node(ctx: Context, args) -> None:
    from node.runner import serve  # imported here: the node's dependencies load only when needed

    configure_logs(args.log_level, args.log_format)
    home = _home(ctx, args)
    if args.dev and not home.load_config().dev:
        raise CliError(f"{home.path} is not a dev node home; start it without --dev")
    if args.block_interval is not None and args.block_interval <= 0:
        raise CliError("--block-interval must be more than zero")
    key = home.load_key(read_password(password_file=args.password_file))
    asyncio.run(serve(home, key, args.block_interval, args.port))


def encrypt_key(ctx: Context, args) -> None:
    home = _home(ctx, args)
    key = home.encrypt_plain_key(read_password(confirm=True, password_file=args.password_file))
    print(f"encrypted node key {home.key_file} ({key.address}); start the node with the same password")


def reset_signing_state(ctx: Context, args) -> None:
    home = _home(ctx, args)
    if not args.yes:
        raise CliError("refusing without --yes: a validator that signed before could double-sign")
    GuardedSigner.create(home.signing_state_file)
    print(f"created a fresh signing state at {home.signing_state_file}")
