"""The validator set a wallet trusts, kept in the wallet home between runs.

The first verified read needs the chain's genesis file (``--genesis FILE``, the file whose
hash the consortium published): its chain id and validators are the starting trust, at
height 0. Nothing is taken on first use from a node. After each verified read the sets the
wallet has followed (node/lightclient.py ``TrustHistory``), each with the height it was first
seen to sign, are written to ``<wallet home>/trusted-validators.json``, so later reads start
from there and need no genesis file; a genesis file given later must be for the same chain.
"""
from __future__ import annotations

import json
from pathlib import Path

from node.atomicfile import write_json_atomic
from node.genesis import Genesis
from node.lightclient import TrustHistory, VerificationError

TRUST_FILE = "trusted-validators.json"


def trust_path(wallet_home: Path) -> Path:
    return Path(wallet_home) / TRUST_FILE


def load_trust(wallet_home: Path, genesis_file: Path | None) -> TrustHistory:
    """The kept trusted sets, else the genesis set of ``genesis_file``; refused when neither is there
    or when they are for different chains."""
    path = trust_path(wallet_home)
    genesis = Genesis.load(genesis_file) if genesis_file is not None else None
    if not path.exists():
        if genesis is None:
            raise VerificationError("no_trusted_validators", f"no trusted validator set in {path}: give the chain's "
                                    f"genesis file once with --genesis FILE (check its hash with your consortium)")
        return TrustHistory.from_genesis(genesis.chain_id, genesis.validators)
    try:
        kept = TrustHistory.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, VerificationError) as exc:
        raise VerificationError("bad_trusted_set", f"cannot read {path}: {exc}; remove it and give --genesis FILE") \
            from None
    if genesis is not None and genesis.chain_id != kept.chain_id:
        raise VerificationError("chain_id_mismatch", f"{genesis_file} is for chain {genesis.chain_id!r}, but {path} "
                                                     f"trusts chain {kept.chain_id!r}")
    return kept


def save_trust(wallet_home: Path, trusted: TrustHistory) -> None:
    Path(wallet_home).mkdir(parents=True, exist_ok=True)
    write_json_atomic(trust_path(wallet_home), trusted.to_json())
