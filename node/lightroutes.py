"""What a node serves to light clients: values with proofs, bound to a certified header.

Each answer is taken at one height in one step on the event loop (so proof, header and
certificate match): the header, its commit certificate, the validator set that signs it,
and either state entries with their sparse-Merkle proofs (``state_answer``) or a
transaction and its receipt with Merkle paths to the header's tx and receipts roots
(``tx_answer``). The wallet checks all of it (node/lightclient.py); nothing here is trusted.
"""
from __future__ import annotations

from consensus.types import Commit
from node.block import Block
from node.chain import Chain
from node.errors import ApiError
from node.merkleproof import merkle_path

MAX_PROOF_KEYS = 8


def _certificate(chain: Chain, height: int) -> Commit:
    """The commit certificate of block ``height``: stored with it, or carried by the next block."""
    commit = chain.store.commit(height)
    if commit is None:
        following = chain.store.block(height + 1)
        commit = following.last_commit if following is not None else None
    if commit is None:
        raise ApiError("commit_pending", f"the commit certificate of block {height} has not arrived yet; "
                                         f"retry in a moment", 503)
    return commit


def _certified(chain: Chain, block: Block) -> dict:
    return {"height": block.height, "header": block.header.to_json(),
            "commit": _certificate(chain, block.height).to_json(),
            "validators": [v.to_json() for v in chain.validators(block.height).validators]}


def state_answer(chain: Chain, keys: list[bytes]) -> dict:
    """State entries of the head with their proofs, and the head's certified header."""
    if chain.height == 0:
        raise ApiError("commit_pending", "the chain has no certified block yet; retry in a moment", 503)
    answer = _certified(chain, chain.head)
    entries = []
    for key in keys:
        value, proof, header = chain.prove(key)
        entries.append({"key": key.hex(), "value": value.hex() if value is not None else None,
                        "proof": proof.to_dict()})
    answer.update(entries=entries, state_root=header.state_root.hex())
    return answer


def tx_answer(chain: Chain, tx_hash: bytes) -> dict:
    """A committed transaction and its receipt, with Merkle paths, and its block's certified header."""
    receipt = chain.store.receipt(tx_hash)
    if receipt is None:
        raise ApiError("tx_not_found", "no committed transaction with that hash", 404)
    block = chain.store.block(receipt.height)
    receipts = [chain.store.receipt(tx.hash) for tx in block.txs]
    answer = _certified(chain, block)
    answer.update(index=receipt.index, count=len(block.txs), tx=block.txs[receipt.index].to_bytes().hex(),
                  tx_path=[h.hex() for h in merkle_path([tx.hash for tx in block.txs], receipt.index)],
                  receipt=receipt.to_bytes().hex(),
                  receipt_path=[h.hex() for h in merkle_path([r.to_bytes() for r in receipts], receipt.index)])
    return answer
