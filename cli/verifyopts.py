"""`--verify` for wallet reads: check a node's answer against the validators the wallet trusts.

``add_verify_arguments`` adds ``--verify`` and ``--genesis FILE`` to a command;
``wants_verify`` tells whether to verify; ``run_verified`` loads the trusted set (node/trustfile.py), runs a verified read
(node/verifiedreads.py), keeps the set it followed and turns a refusal into one line
naming the reason.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from cli.common import CliError, Context
from node.lightclient import TrustHistory, VerificationError
from node.trustfile import load_trust, save_trust
from node.verifiedreads import Verified


def add_verify_arguments(parser) -> None:
    parser.add_argument("--verify", action="store_true",
                        help="check the answer's proof and commit certificate against the validators this wallet "
                             "trusts (from --genesis, then kept in the wallet home): trusts no single node")
    parser.add_argument("--genesis", type=Path, help="the chain's genesis file, the starting trust of --verify "
                                                     "(needed once per wallet home)")


def wants_verify(args) -> bool:
    """Whether the command verifies; ``--genesis`` alone is a mistake worth saying."""
    if args.genesis is not None and not args.verify:
        raise CliError("--genesis is read only with --verify: add --verify, or leave --genesis out")
    return args.verify


def run_verified(ctx: Context, args, read: Callable[[TrustHistory], Verified]) -> Verified:
    try:
        verified = read(load_trust(ctx.home, args.genesis))
    except VerificationError as exc:
        raise CliError(f"not verified: {exc.message}", exc.code) from None
    save_trust(ctx.home, verified.trusted)
    return verified
