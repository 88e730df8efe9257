"""`flexledger wallet balance|send|history`: the settlement token from a prosumer's wallet.

``wallet balance --verify`` checks the balance against the validators the wallet trusts
(cli/verifyopts.py), so the node it asks need not be trusted.
"""
from __future__ import annotations

from cli.common import Context, format_amount, parse_amount, require_ok
from cli.verifyopts import add_verify_arguments, run_verified, wants_verify
from node.verifiedreads import verified_balance


def register(sub) -> None:
    wallet = sub.add_parser("wallet", help="settlement-token balance, transfers, history").add_subparsers(
        dest="action", required=True)
    balance = wallet.add_parser("balance", help="token balance of a key or address")
    balance.add_argument("who", help="key name or 0x address")
    add_verify_arguments(balance)
    balance.set_defaults(run=balance_of)
    send = wallet.add_parser("send", help="send tokens and wait until the transfer is committed")
    send.add_argument("to", help="recipient: key name or 0x address")
    send.add_argument("amount", help="amount in tokens, e.g. 12.5 (6 decimals)")
    send.add_argument("--key", required=True, help="name of the sending key")
    send.set_defaults(run=send_tokens)
    history = wallet.add_parser("history", help="transactions sent by or touching a key or address")
    history.add_argument("who", help="key name or 0x address")
    history.add_argument("--limit", type=int, default=20)
    history.set_defaults(run=show_history)


def balance_of(ctx: Context, args) -> None:
    address = ctx.resolve_address(args.who)
    if wants_verify(args):
        verified = run_verified(ctx, args, lambda trusted: verified_balance(ctx.client, trusted, address))
        print(f"{address} {format_amount(verified.value)}: {verified.certified.summary()}")
        return
    micro = ctx.client.query(ctx.token(), "balance_of", [address])
    print(f"{address} {format_amount(micro)}")


def send_tokens(ctx: Context, args) -> None:
    amount = parse_amount(args.amount)
    to = ctx.resolve_address(args.to)
    key = ctx.unlock(args.key)
    response = ctx.client.call(key, ctx.token(), "transfer", [to, amount])
    receipt = require_ok(response)
    print(f"sent {format_amount(amount)} to {to} in block {receipt['height']} (tx {response['tx_hash']})")


def _describe(item: dict) -> str:
    payload = item["tx"]["payload"]
    if payload["kind"] == "call":
        return f"{payload['function']}({', '.join(map(str, payload['args']))})"
    return payload["kind"]


def show_history(ctx: Context, args) -> None:
    address = ctx.resolve_address(args.who)
    items = ctx.client.get(f"/history/{address}", limit=args.limit)["items"]
    if not items:
        print(f"no transactions for {address}")
    for item in items:
        receipt = item["receipt"]
        print(f"block {receipt['height']:>7}  {receipt['status']:6s}  {item['tx']['sender']}  "
              f"{_describe(item)}  {receipt['tx_hash'][:16]}")
