"""`flexledger keys new|list|show`: the wallet's encrypted keys."""
from __future__ import annotations

from cli.common import Context
from node.keystore import read_password


def register(sub) -> None:
    keys = sub.add_parser("keys", help="create and list wallet keys").add_subparsers(dest="action", required=True)
    new = keys.add_parser("new", help="create a new key, encrypted with a password")
    new.add_argument("name", help="a name for the key (letters, digits, . _ -)")
    new.set_defaults(run=new_key)
    keys.add_parser("list", help="list the keys in the wallet").set_defaults(run=list_keys)
    show = keys.add_parser("show", help="show a key's address and public key")
    show.add_argument("name")
    show.set_defaults(run=show_key)


def new_key(ctx: Context, args) -> None:
    key = ctx.keystore.create(args.name, read_password(confirm=True))
    print(f"created key {args.name}")
    print(f"address:    {key.address}")
    print(f"public key: {key.public_key.hex()}")


def list_keys(ctx: Context, args) -> None:
    names = ctx.keystore.names()
    if not names:
        print(f"no keys in {ctx.keystore.directory}; create one with 'flexledger keys new NAME'")
    for name in names:
        print(f"{name:20s} {ctx.keystore.info(name)['address']}")


def show_key(ctx: Context, args) -> None:
    info = ctx.keystore.info(args.name)
    print(f"name:       {args.name}")
    print(f"address:    {info['address']}")
    print(f"public key: {info['public_key']}")
