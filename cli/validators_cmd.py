"""`flexledger validators list|proposals|propose-add|propose-remove|propose-power|approve`.

Validator-set governance from the command line, under the chain's rules (node/governance.py):
a validator proposes a change by approving it first, signed with its node key
(``--node-home DIR``, the password asked like ``node start``) or a wallet key (``--key``);
the others approve it by its id; the change is applied by the transaction that brings the
approvals past 2/3 of the voting power and takes effect two blocks later, at the height
printed. ``list`` shows the set that signs the next block, a scheduled change and the open
proposals; ``proposals`` shows each open proposal with its action, params and approvals.
"""
from __future__ import annotations

import argparse
import re

from cli.common import CliError, Context, require_ok
from cli.gov_cmd import add_signer_arguments, validator_signer
from consensus.types import ROLES
from node.governance import proposal_id
from node.keys import is_address

APPROVE_HINT = "flexledger validators approve"


def _power(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,18}", text) or int(text) == 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number of voting power, not {text!r}")
    return int(text)


def _public_key(text: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raise argparse.ArgumentTypeError(f"must be the validator's ed25519 public key, 64 hex digits (as "
                                         f"'flexledger node show-id' prints it), not {text!r}")
    return text.lower()


def _address(text: str) -> str:
    if not is_address(text):
        raise argparse.ArgumentTypeError(f"must be a validator address, 0x and 40 lowercase hex digits, not {text!r}")
    return text


def register(sub) -> None:
    validators = sub.add_parser("validators", help="the validator set and its governance").add_subparsers(
        dest="action", required=True)
    validators.add_parser("list", help="validators (name, address, power, role), a scheduled change, "
                                       "open proposals").set_defaults(run=show_validators)
    validators.add_parser("proposals", help="open governance proposals with their approvals").set_defaults(
        run=show_proposals)
    add = validators.add_parser("propose-add", help="propose a new validator (its public key from 'node show-id')")
    add.add_argument("--name", required=True, help="the validator's name (its organisation)")
    add.add_argument("--public-key", required=True, type=_public_key, help="its node's public key, 64 hex digits")
    add.add_argument("--power", required=True, type=_power, help="its voting power, a positive whole number")
    add.add_argument("--role", required=True, choices=ROLES, help="dso or aggregator")
    remove = validators.add_parser("propose-remove", help="propose removing a validator")
    remove.add_argument("--address", required=True, type=_address, help="the validator's 0x address")
    power = validators.add_parser("propose-power", help="propose a validator's new voting power")
    power.add_argument("--address", required=True, type=_address, help="the validator's 0x address")
    power.add_argument("--power", required=True, type=_power, help="the new voting power, a positive whole number")
    approve = validators.add_parser("approve", help="approve an open proposal by its id")
    approve.add_argument("proposal_id", help="the id printed by propose-* or 'validators proposals'")
    for vote, run in ((add, propose_add), (remove, propose_remove), (power, propose_power), (approve, approve_proposal)):
        add_signer_arguments(vote)
        vote.set_defaults(run=run)


def _governance(ctx: Context) -> dict:
    return ctx.client.get("/governance/proposals")


def _latest(state: dict) -> list[dict]:
    """The set later changes build on: the scheduled one if any, else the voting one."""
    return state["pending_change"]["validators"] if state["pending_change"] else state["validators"]


def _validator(state: dict, address: str) -> dict:
    found = next((v for v in _latest(state) if v["address"] == address), None)
    if found is None:
        raise CliError(f"--address {address} is not a validator (see 'flexledger validators list')")
    return found


def _vote(ctx: Context, args, action: str, params: dict) -> None:
    response = ctx.client.govern(validator_signer(ctx, args), action, params)
    outcome = require_ok(response)["result"]
    ident = proposal_id(action, params)
    if outcome["applied"]:
        print(f"{action}: applied in block {response['receipt']['height']}; the new validator set signs from "
              f"height {outcome['effective_height']}")
    else:
        print(f"{action}: proposal {ident}, approved by {len(outcome['approvals'])} validator(s) with power "
              f"{outcome['power']} of the {outcome['quorum']} needed; the others run: {APPROVE_HINT} {ident}")


def propose_add(ctx: Context, args) -> None:
    state = _governance(ctx)
    if any(v["public_key"] == args.public_key for v in _latest(state)):
        raise CliError(f"--public-key {args.public_key[:16]}… is already a validator's key")
    _vote(ctx, args, "add_validator", {"name": args.name, "public_key": args.public_key, "power": args.power,
                                       "role": args.role})


def propose_remove(ctx: Context, args) -> None:
    state = _governance(ctx)
    leaving = _validator(state, args.address)
    if leaving["role"] == "dso" and sum(v["role"] == "dso" for v in _latest(state)) == 1:
        raise CliError(f"--address {args.address} is {leaving['name']}, the last dso validator: "
                       f"add another dso validator first")
    _vote(ctx, args, "remove_validator", {"address": args.address})


def propose_power(ctx: Context, args) -> None:
    state = _governance(ctx)
    _validator(state, args.address)
    _vote(ctx, args, "set_power", {"address": args.address, "power": args.power})


def approve_proposal(ctx: Context, args) -> None:
    state = _governance(ctx)
    proposal = next((p for p in state["proposals"] if p["id"] == args.proposal_id), None)
    if proposal is None:
        raise CliError(f"no open proposal {args.proposal_id!r}: see 'flexledger validators proposals' "
                       f"(an applied proposal is no longer open)")
    if proposal["action"] is None:
        raise CliError(f"the node cannot find what proposal {args.proposal_id} changes (its opening transaction is "
                       f"too far back in its proposer's history): approve it with the same propose-* command")
    if proposal_id(proposal["action"], proposal["params"]) != args.proposal_id:
        raise CliError(f"the node's action and params for proposal {args.proposal_id} do not hash to its id: "
                       f"ask another node (--node)")
    _vote(ctx, args, proposal["action"], proposal["params"])


def _describe(proposal: dict, names: dict[str, str]) -> str:
    params = proposal["params"] or {}
    shown = ", ".join(f"{k}={names.get(v, v) if k == 'address' else v}" for k, v in params.items())
    return f"{proposal['action'] or '(unknown action)'}({shown})"


def show_proposals(ctx: Context, args) -> None:
    state = _governance(ctx)
    names = {v["address"]: v["name"] for v in state["validators"]}
    if not state["proposals"]:
        print("no open proposals")
    for proposal in state["proposals"]:
        approvers = ", ".join(names.get(a, a) for a in proposal["approvals"])
        print(f"{proposal['id']}  {_describe(proposal, names)}")
        print(f"    approved by {approvers}: power {proposal['power']} of the {state['quorum']} needed")


def _print_set(validators: list[dict]) -> None:
    for v in validators:
        print(f"  {v['name']:<12} {v['address']}  power {v['power']:<6} {v['role']}")


def show_validators(ctx: Context, args) -> None:
    state = _governance(ctx)
    total = sum(v["power"] for v in state["validators"])
    print(f"validators signing block {state['height'] + 1} (power {total}, quorum {state['quorum']}):")
    _print_set(state["validators"])
    if state["pending_change"]:
        print(f"scheduled change, effective at height {state['pending_change']['effective_height']}:")
        _print_set(state["pending_change"]["validators"])
    count = len(state["proposals"])
    print("open proposals: none" if not count else f"open proposals: {count} (see 'flexledger validators proposals')")
