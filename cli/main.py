"""The `flexledger` command: wallet, chain inspection, contracts, nodes, the market and the grid oracle."""
from __future__ import annotations

import argparse
import sys

from cli import (chain_cmd, demo_cmd, device_cmd, dso_cmd, gov_cmd, grid_cmd, keys_cmd, market_cmd, meter_cmd, node_cmd,
                 oracle_cmd, participant_cmd, testnet_cmd, wallet_cmd)
from cli import genesis_cmd  # part A (ceremony)
from cli import validators_cmd  # part D (trust): validator-set governance
from cli.common import CliError, Context
from node.client import ClientError
from node.config import ConfigError
from node.genesis import GenesisError
from node.chain import ChainError
from node.errors import NodeHalted
from node.keystore import KeystoreError
from node.signing import SigningStateError
from node.wal import WalCorrupt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flexledger", description="FlexLedger: a permissioned blockchain for "
                                     "local energy and flexibility markets.")
    parser.add_argument("--home", help="wallet directory (default: $FLEXLEDGER_HOME or ~/.flexledger)")
    parser.add_argument("--node", help="node API URL (default: $FLEXLEDGER_NODE or http://127.0.0.1:26657)")
    parser.add_argument("--ca-file", help="CA or certificate file that an https:// node's certificate must "
                        "verify against (default: $FLEXLEDGER_CA_FILE, else the system's CAs)")  # part B (links)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (keys_cmd, wallet_cmd, chain_cmd, node_cmd, gov_cmd, testnet_cmd, participant_cmd, device_cmd,
                   dso_cmd, market_cmd, meter_cmd, oracle_cmd, grid_cmd, demo_cmd):
        module.register(sub)
    validators_cmd.register(sub)  # part D (trust): validators list|proposals|propose-*|approve
    genesis_cmd.register(sub)  # part A (ceremony): the genesis draft commands
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(Context.from_args(args), args)
    except CliError as exc:
        print(f"error{f' [{exc.code}]' if exc.code else ''}: {exc}", file=sys.stderr)
        return 1
    except ClientError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 1
    except (KeystoreError, ConfigError, GenesisError, SigningStateError, WalCorrupt, NodeHalted) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ChainError as exc:
        print(f"error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
