"""`flexledger gov`: validators vote on who may send transactions and who may deploy.

A governance change is proposed by the first validator that votes for it and applied in
the transaction that brings its approvals past 2/3 of the voting power (node/governance.py);
every validator runs the same command, signed with its node key. ``gov admission`` shows
the current allow and deployer lists.
"""
from __future__ import annotations

from pathlib import Path

from cli.common import Context, require_ok
from node.config import NodeHome
from node.keys import KeyPair
from node.keystore import read_password

LIST_ACTIONS = {
    "allow-account": ("allow_account", "admit an account to send transactions (the allow list)"),
    "disallow-account": ("disallow_account", "take an account off the allow list"),
    "allow-deployer": ("allow_deployer", "let an account deploy contracts (the deployer list)"),
    "disallow-deployer": ("disallow_deployer", "take an account off the deployer list"),
}
VOTE_HELP = ("propose the change, or approve it if another validator proposed it; applied once "
             "validators with more than 2/3 of the voting power approved")


def register(sub) -> None:
    gov = sub.add_parser("gov", help="governance votes on the allow and deployer lists").add_subparsers(
        dest="action", required=True)
    for command, (action, summary) in LIST_ACTIONS.items():
        vote = gov.add_parser(command, help=summary, description=f"{summary}: {VOTE_HELP}")
        vote.add_argument("who", help="0x address, or the name of a wallet key")
        add_signer_arguments(vote)
        vote.set_defaults(run=vote_on_list, governance_action=action)
    gov.add_parser("admission", help="the allow list and the deployer list, with the height each "
                                     "account joined").set_defaults(run=show_admission)


def add_signer_arguments(parser) -> None:
    """The validator key a governance vote is signed with: a node home's, or a wallet key."""
    signer = parser.add_mutually_exclusive_group(required=True)
    signer.add_argument("--node-home", type=Path, help="vote with the validator key of this node home")
    signer.add_argument("--key", help="vote with this wallet key (a validator's)")
    parser.add_argument("--password-file", type=Path, help="file whose first line is the key's password")


def validator_signer(ctx: Context, args) -> KeyPair:
    password = read_password(password_file=args.password_file)
    if args.node_home is not None:
        return NodeHome(args.node_home).load_key(password)
    return ctx.keystore.load(args.key, password)


def vote_on_list(ctx: Context, args) -> None:
    address = ctx.resolve_address(args.who)
    response = ctx.client.govern(validator_signer(ctx, args), args.governance_action, {"address": address})
    outcome = require_ok(response)["result"]
    if outcome["applied"]:
        print(f"{args.governance_action} {address}: applied in block {response['receipt']['height']}")
    else:
        print(f"{args.governance_action} {address}: approved by {len(outcome['approvals'])} validator(s), "
              f"power {outcome['power']} of the {outcome['quorum']} needed")


def show_admission(ctx: Context, args) -> None:
    doc = ctx.client.get("/admission")
    for title, entries in (("allowed accounts", doc["allowed_accounts"]), ("deployers", doc["deployers"])):
        print(f"{title}:" if entries else f"{title}: none")
        for entry in entries:
            print(f"  {entry['address']}  since block {entry['since_height']}")
        if len(entries) >= doc["max_listed"]:
            print(f"  (the first {doc['max_listed']} only)")
