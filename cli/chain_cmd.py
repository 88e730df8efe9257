"""`flexledger chain status|block|tx` and `flexledger contract deploy|call|query`.

``chain tx --verify`` proves the transaction and its receipt in their block and checks the
block against the validators the wallet trusts (cli/verifyopts.py).
"""
from __future__ import annotations

import re
from pathlib import Path

from cli.common import CliError, Context, parse_value, print_json, require_ok
from cli.verifyopts import add_verify_arguments, run_verified, wants_verify
from node.verifiedreads import verified_tx
from node.jsonvalues import to_json_value


def register(sub) -> None:
    chain = sub.add_parser("chain", help="inspect the chain").add_subparsers(dest="action", required=True)
    chain.add_parser("status", help="chain id, height, head, validators").set_defaults(run=status)
    block = chain.add_parser("block", help="a block by height, hash or 'latest'")
    block.add_argument("id", nargs="?", default="latest")
    block.set_defaults(run=show_block)
    tx = chain.add_parser("tx", help="a transaction and its receipt")
    tx.add_argument("hash")
    add_verify_arguments(tx)
    tx.set_defaults(run=show_tx)

    contract = sub.add_parser("contract", help="deploy, call and query contracts").add_subparsers(
        dest="action", required=True)
    deploy = contract.add_parser("deploy", help="deploy a contract source file")
    deploy.add_argument("file", type=Path)
    deploy.add_argument("args", nargs="*", help="arguments for init (JSON values or text)")
    deploy.add_argument("--key", required=True, help="name of the deploying key")
    deploy.add_argument("--gas", type=int, help="gas limit")
    deploy.set_defaults(run=deploy_contract)
    for name, helptext, runner in (("call", "call a function in a transaction", call_contract),
                                   ("query", "call a function read-only (no transaction)", query_contract)):
        p = contract.add_parser(name, help=helptext)
        p.add_argument("address")
        p.add_argument("function")
        p.add_argument("args", nargs="*", help="arguments (JSON values or text)")
        if name == "call":
            p.add_argument("--key", required=True, help="name of the signing key")
            p.add_argument("--gas", type=int, help="gas limit")
        p.set_defaults(run=runner)


def status(ctx: Context, args) -> None:
    doc = ctx.client.status()
    print(f"chain:      {doc['chain_id']}")
    print(f"height:     {doc['height']}")
    print(f"head:       {doc['head_hash']}")
    print(f"state root: {doc['state_root']}")
    print(f"mempool:    {doc['mempool_size']} txs")
    for v in doc["validators"]:
        print(f"validator:  {v['name']} ({v['role']}, power {v['power']}) {v['address']}")
    for name, address in doc["contracts"].items():
        print(f"contract:   {name} {address}")


def show_block(ctx: Context, args) -> None:
    print_json(ctx.client.get(f"/block/{args.id}"))


def show_tx(ctx: Context, args) -> None:
    if not wants_verify(args):
        print_json(ctx.client.get(f"/tx/{args.hash}"))
        return
    if not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", args.hash):
        raise CliError(f"HASH must be a tx hash of 64 hex digits (with or without 0x), not {args.hash!r}")
    tx_hash = bytes.fromhex(args.hash.removeprefix("0x"))
    verified = run_verified(ctx, args, lambda trusted: verified_tx(ctx.client, trusted, tx_hash))
    tx, receipt = verified.value
    print_json({"status": "committed", "tx": tx.to_json(), "receipt": receipt.to_json(),
                "verified": verified.certified.summary()})


def deploy_contract(ctx: Context, args) -> None:
    try:
        source = args.file.read_text()
    except OSError as exc:
        raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
    key = ctx.unlock(args.key)
    response = ctx.client.deploy(key, source, [parse_value(a) for a in args.args], gas_limit=args.gas)
    receipt = require_ok(response)
    print(f"deployed at {receipt['contract_address']} in block {receipt['height']} (gas {receipt['gas_used']})")


def call_contract(ctx: Context, args) -> None:
    key = ctx.unlock(args.key)
    response = ctx.client.call(key, args.address, args.function, [parse_value(a) for a in args.args],
                               gas_limit=args.gas)
    receipt = require_ok(response)
    print_json({"block": receipt["height"], "gas_used": receipt["gas_used"], "result": receipt["result"],
                "events": receipt["events"], "tx_hash": response["tx_hash"]})


def query_contract(ctx: Context, args) -> None:
    result = ctx.client.query(args.address, args.function, [parse_value(a) for a in args.args])
    print_json(to_json_value(result))
