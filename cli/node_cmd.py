"""`flexledger node init|show-id|install-genesis|start|encrypt-key|reset-signing-state`: set up and
run a node.

A consortium node: ``init`` makes the key and config and prints the node's identity, which the
operator sends to the genesis coordinator; ``show-id`` prints it again (no password needed);
``install-genesis`` (or ``init --genesis`` when the genesis exists already) installs the
finalized genesis, prints its hash to compare, and lists the other validators as peers
(node/homesetup.py). ``init --dev`` makes a single-authority dev chain instead.

The node key is encrypted with a password (like wallet keys): ``init`` asks for it (or reads
``--password-file``, $FLEXLEDGER_PASSWORD_FILE or $FLEXLEDGER_PASSWORD) and ``start`` asks for it
again, once, before the node starts; ``encrypt-key`` converts a plain key of an older home.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, replace
from pathlib import Path

from cli import backup_cmd
from cli.common import CliError, Context, parse_amount, print_json
from consensus.types import Validator, ValidatorSet
from gridoracle.config import OracleHome
from gridoracle.setup import create_oracle_home, oracle_genesis
from market.genesis import MarketConfig, market_genesis
from node.blockpolicy import check_config as check_block_policy
from node.config import NodeConfig, NodeHome
from node.genesis import Genesis
from node.homesetup import NetworkSettings, create_home, identity, install_genesis
from node.keys import KeyPair
from node.keystore import read_password
from node.logs import configure as configure_logs
from node.netaddr import parse_host_port, parse_peer
from node.params import ChainParams
from node.signing import GuardedSigner

ISSUER_KEY = "issuer"
DEV_ONLY = ("chain_id", "block_interval", "issuer_supply", "oracle_home")  # init flags that make a dev chain


def register(sub) -> None:
    node = sub.add_parser("node", help="set up and run a node").add_subparsers(dest="action", required=True)
    init = node.add_parser("init", help="create a node home: an encrypted key and a config (and with --dev, "
                                        "a single-authority chain)")
    _home_argument(init)
    init.add_argument("--dev", action="store_true", help="single-authority dev chain; creates the wallet key "
                                                         f"'{ISSUER_KEY}' as token issuer if missing (admitted, "
                                                         "and allowed to deploy contracts)")
    init.add_argument("--genesis", type=Path, help="install this genesis file at once (a node joining an existing "
                                                   "chain); founding validators install it later with "
                                                   "'node install-genesis'")
    init.add_argument("--chain-id", help="--dev only: the chain id (default: flexledger-dev)")
    init.add_argument("--block-interval", type=float, help="--dev only: seconds between blocks (default: 1)")
    init.add_argument("--issuer-supply", help="--dev only: tokens minted to the issuer at genesis (default: 1000000)")
    init.add_argument("--meter-lead", type=int, default=0, metavar="SECONDS",
                      help="--dev only: accept meter data up to SECONDS before its MTU ends, to play sessions "
                           "in minutes (default 0: only delivered MTUs)")
    init.add_argument("--oracle-home", type=Path, help="--dev only: where to create the DSO grid oracle's home and "
                                                       "key (default: <home>/oracle)")
    _network_arguments(init, "saved in the config")
    _block_arguments(init, "saved in the config")
    _password_file_argument(init)
    init.set_defaults(run=init_node)
    show = node.add_parser("show-id", help="print this node's address, public key and p2p address (no password)")
    _home_argument(show)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(run=show_id)
    install = node.add_parser("install-genesis", help="install the consortium's genesis file, print its hash and "
                                                      "add the other validators as peers")
    _home_argument(install)
    install.add_argument("--genesis", type=Path, required=True, help="the genesis.json the coordinator finalized")
    install.set_defaults(run=install_genesis_file)
    start = node.add_parser("start", help="run the node until Ctrl-C")
    _home_argument(start)
    start.add_argument("--dev", action="store_true", help="require a dev (single-authority) home")
    start.add_argument("--block-interval", type=float, help="--dev only: seconds between blocks (overrides config)")
    _network_arguments(start, "for this run, over the config")
    _block_arguments(start, "for this run, over the config")
    start.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    start.add_argument("--log-format", default="text", choices=["text", "json"],
                       help="json: one JSON object per line, for log collectors")
    _password_file_argument(start)
    start.set_defaults(run=start_node)
    encrypt = node.add_parser("encrypt-key", help="encrypt a node key that an older version stored in plain text")
    _home_argument(encrypt)
    _password_file_argument(encrypt)
    encrypt.set_defaults(run=encrypt_key)
    reset = node.add_parser("reset-signing-state", help="create a fresh signing state: ONLY for a key that has "
                                                        "never signed on this chain (otherwise it may double-sign)")
    _home_argument(reset)
    reset.add_argument("--yes", action="store_true", help="confirm that this key has never signed")
    reset.set_defaults(run=reset_signing_state)
    backup_cmd.register_backup(node)  # part E (operations): export-state, import-state


def _home_argument(parser) -> None:
    parser.add_argument("--node-home", type=Path, help="node directory (default: <home>/node)")


def _network_arguments(parser, persistence: str) -> None:
    """Part A (ceremony): the networking flags of init (saved) and start (this run only)."""
    parser.add_argument("--p2p-listen", metavar="HOST:PORT", help=f"where peers connect ({persistence}; "
                                                                  "default 0.0.0.0:26656)")
    parser.add_argument("--api-listen", metavar="HOST:PORT", help=f"where the HTTP API listens ({persistence}; "
                                                                  "default 127.0.0.1:26657, local only)")
    parser.add_argument("--port", type=int, help="the API port on 127.0.0.1 (short for --api-listen 127.0.0.1:PORT)")
    parser.add_argument("--external-address", metavar="HOST:PORT", help="the address peers dial, if not the "
                                                                        f"--p2p-listen one (NAT; {persistence})")
    parser.add_argument("--peer", action="append", default=[], metavar="ADDRESS@HOST:PORT",
                        help=f"a node to connect to, as its 'node show-id' prints it; repeatable ({persistence})")
    # part B (links): TLS for the API (node/tls.py)
    parser.add_argument("--api-tls-cert", metavar="FILE", help=f"serve the API over TLS with this PEM certificate "
                                                               f"(with --api-tls-key; {persistence})")
    parser.add_argument("--api-tls-key", metavar="FILE", help=f"the unencrypted PEM private key of --api-tls-cert "
                                                              f"({persistence})")


def _block_arguments(parser, persistence: str) -> None:
    """The block production policy of a consortium node (node/blockpolicy.py, docs/block-production.md)."""
    parser.add_argument("--block-time", type=float, metavar="SECONDS",
                        help=f"target block time: round 0 of a height starts no sooner after the last ({persistence}; "
                             f"default 1)")
    parser.add_argument("--empty-blocks", choices=["on", "off"],
                        help=f"on: a block every block time even when idle; off: an idle chain makes a heartbeat "
                             f"block every --empty-block-interval ({persistence}; default off)")
    parser.add_argument("--empty-block-interval", type=float, metavar="SECONDS",
                        help=f"seconds between heartbeat blocks of an idle chain ({persistence}; default 30)")


def _with_block_policy(args, config: NodeConfig) -> NodeConfig:
    """``config`` with the block policy flags applied, checked as the config file is checked."""
    changed = {}
    for flag, name in (("--block-time", "block_time"), ("--empty-block-interval", "empty_block_interval")):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise CliError(f"{flag} must be a number of seconds above zero, not {value:g}")
        if value is not None:
            changed[name] = value
    if args.empty_blocks is not None:
        changed["empty_blocks"] = args.empty_blocks == "on"
    config = replace(config, **changed)
    try:
        check_block_policy(asdict(config))
    except ValueError as exc:
        raise CliError(str(exc)) from None
    return config


def _network_settings(args) -> NetworkSettings:
    """The networking flags, each checked with an error naming it."""
    if args.port is not None and args.api_listen is not None:
        raise CliError("give --api-listen or --port, not both")
    api_listen = f"127.0.0.1:{args.port}" if args.port is not None else args.api_listen
    for flag, value in (("--p2p-listen", args.p2p_listen), ("--api-listen" if args.port is None else "--port",
                                                            api_listen), ("--external-address", args.external_address)):
        if value is not None:
            _parsed(flag, parse_host_port, value)
    peers = tuple(_parsed("--peer", parse_peer, text) for text in args.peer)
    return NetworkSettings(args.p2p_listen, api_listen, args.external_address, peers, args.api_tls_cert,
                           args.api_tls_key)


def _parsed(flag: str, parse, text: str):
    try:
        return parse(text)
    except ValueError as exc:
        raise CliError(f"{flag}: {exc}") from None


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
    network = _network_settings(args)
    if args.dev:
        _init_dev(ctx, args, home, network)
    else:
        _init_consortium_node(args, home, network)


def _init_consortium_node(args, home: NodeHome, network: NetworkSettings) -> None:
    for name in DEV_ONLY:
        if getattr(args, name) is not None:
            raise CliError(f"--{name.replace('_', '-')} is only for --dev homes: a consortium's chain is defined by "
                           f"its genesis ('flexledger genesis new ...', then 'node install-genesis')")
    _with_block_policy(args, NodeConfig())  # refuse bad flags before anything is written
    create_home(home, read_password(confirm=True, password_file=args.password_file), network)
    home.save_config(_with_block_policy(args, home.load_config()))
    print(f"initialized node home {home.path} (key encrypted in {home.key_file.name})")
    _print_identity(home)
    if args.genesis is not None:
        _install(home, args.genesis)
        return
    print("next: send the public key and p2p address above to the genesis coordinator (they go into "
          "'flexledger genesis add-validator'); when genesis.json comes back, install it with")
    print(f"  flexledger node install-genesis --node-home {home.path} --genesis genesis.json")


def _init_dev(ctx: Context, args, home: NodeHome, network: NetworkSettings) -> None:
    if args.genesis is not None:
        raise CliError("--genesis installs a consortium's genesis: leave out --dev")
    block_interval = 1.0 if args.block_interval is None else args.block_interval
    if block_interval <= 0:
        raise CliError("--block-interval must be more than zero")
    config = network.apply(NodeConfig(block_interval=block_interval, dev=True))
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
    oracle = create_oracle_home(oracle_home, parse_host_port(config.api_listen).url, password)
    supply = parse_amount(args.issuer_supply or "1000000")
    market_config, allocations, admitted = oracle_genesis(oracle, MarketConfig(meter_lead=args.meter_lead),
                                                      {issuer: supply})
    key = KeyPair.generate()
    contracts, calls = market_genesis(issuer, allocations, market_config, admitted)
    genesis = Genesis(args.chain_id or "flexledger-dev", int(time.time() * 1000),
                      ValidatorSet((Validator("dso", key.public_key, 10, "dso"),)), ChainParams(), contracts, calls,
                      allowed_accounts=(issuer,), deployers=(issuer,))  # the dev chain's operator
    home.save_key(key, password)
    home.save_node_id(key)
    genesis.save(home.genesis_file)
    home.save_config(config)
    print(f"initialized dev node in {home.path}")
    print(f"validator: {key.address}")
    print(f"grid oracle key: {oracle.address} (home {oracle_home})")
    print(f"start it with: flexledger node start --dev --node-home {home.path}")
    print(f"and the grid oracle with: flexledger oracle start --oracle-home {oracle_home}")


def show_id(ctx: Context, args) -> None:
    home = _home(ctx, args)
    if args.json:
        print_json(identity(home))
    else:
        _print_identity(home)


def _print_identity(home: NodeHome) -> None:
    node_id = identity(home)
    print(f"node address: {node_id['address']}")
    print(f"public key:   {node_id['public_key']}")
    print(f"p2p address:  {node_id['p2p_address']}")
    print(f"peer:         {node_id['peer']}")
    if parse_host_port(node_id["p2p_address"]).is_wildcard:
        print(f"note: {node_id['p2p_address']} listens on every interface and cannot be dialled: set "
              f"\"external_address\" in {home.config_file} to the HOST:PORT peers reach this machine at")


def install_genesis_file(ctx: Context, args) -> None:
    _install(_home(ctx, args), args.genesis)


def _install(home: NodeHome, source: Path) -> None:
    installed = install_genesis(home, source)
    print(f"installed the genesis of chain {installed.genesis.chain_id!r}")
    print(f"genesis sha256: {installed.sha256}")
    print("compare this hash with every other party before starting")
    if installed.validator is None:
        print("this node's key is not a validator in this genesis: it runs as an observer")
    else:
        print(f"this node is validator {installed.validator!r}")
    print(f"peers: {', '.join(p['address'] + '@' + p['p2p'] for p in installed.peers) or 'none'}")
    print(f"start it with: flexledger node start --node-home {home.path}")


def start_node(ctx: Context, args) -> None:
    from node.runner import serve  # imported here: the node's dependencies load only when needed

    home = _home(ctx, args)
    config = _network_settings(args).apply(home.load_config())
    if args.dev and not config.dev:
        raise CliError(f"{home.path} is not a dev node home; start it without --dev")
    if args.block_interval is not None:
        if not config.dev:
            raise CliError("--block-interval paces dev nodes only: a consortium node's target block time is "
                           "--block-time (and block_time in its config)")
        if args.block_interval <= 0:
            raise CliError("--block-interval must be more than zero")
        config = replace(config, block_interval=args.block_interval)
    config = _with_block_policy(args, config)
    if not home.genesis_file.exists():
        raise CliError(f"{home.path} has no genesis yet: install the consortium's genesis.json with "
                       f"'flexledger node install-genesis --node-home {home.path} --genesis FILE'")
    key = home.load_key(read_password(password_file=args.password_file))
    configure_logs(args.log_level, args.log_format)
    asyncio.run(serve(home, key, config))


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
