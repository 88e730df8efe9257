"""The light client: check a node's answer against the validator set a wallet trusts.

Pure functions, no I/O. A wallet trusts validator sets from the heights it saw them sign
(``TrustHistory`` of ``TrustedSet``), first the genesis set at height 0. A block header is believed when its commit certificate carries precommit
signatures of more than 2/3 of the voting power of the set that signs it; a state value when
its sparse-Merkle proof leads to that header's state root; a transaction and its receipt
when their Merkle paths lead to its tx and receipts roots.

Following validator-set changes. The header names the set that signs it (``validators_hash``).
When it differs from the trusted set, the node sends that set; it is accepted when it hashes
to ``validators_hash``, more than 2/3 of its power signed the block, and the validators of
the trusted set among the signers carry more than 1/3 of the trusted power: at least one
validator the wallet trusts (if fewer than 1/3 of them are faulty) vouches for the header
and so for the new set. This is CometBFT's skipping verification with trust level 1/3; it
follows any number of changes at once as long as a third of the trusted power still signs.
The new set is then trusted from that height on (added to the history), so a wallet that
verifies now and then follows every change, and still checks older blocks against the set
trusted at their height.

Every refusal is a ``VerificationError`` with a code and a message saying what failed.
"""
from __future__ import annotations

from dataclasses import dataclass

from consensus.types import PRECOMMIT, Commit, CommitSignature, Validator, ValidatorSet, verify_signature, vote_sign_bytes
from node.block import Header
from node.merkleproof import root_from_path
from node.smt import Proof, verify_proof


class VerificationError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TrustedSet:
    """The validator set a wallet trusts to sign blocks from ``height`` on."""
    chain_id: str
    height: int
    validators: ValidatorSet

    def to_json(self) -> dict:
        return {"chain_id": self.chain_id, "height": self.height,
                "validators": [v.to_json() for v in self.validators.validators]}

    @classmethod
    def from_json(cls, doc: dict) -> "TrustedSet":
        try:
            return cls(str(doc["chain_id"]), int(doc["height"]), validator_set_from_json(doc["validators"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise VerificationError("bad_trusted_set", f"not a trusted validator set: {exc}") from None


@dataclass(frozen=True)
class TrustHistory:
    """The validator sets a wallet has verified, each with the first height it was seen to sign
    (the genesis set at 0); a header at height h is checked against the set of the latest entry
    at or below h, so a wallet still verifies old blocks after the set has changed."""
    sets: tuple[TrustedSet, ...]

    def __post_init__(self) -> None:
        if not self.sets or self.sets[0].height != 0 or len({s.chain_id for s in self.sets}) != 1:
            raise VerificationError("bad_trusted_set", "trusted sets start at height 0 and are all of one chain")

    @classmethod
    def from_genesis(cls, chain_id: str, validators: ValidatorSet) -> "TrustHistory":
        return cls((TrustedSet(chain_id, 0, validators),))

    @property
    def chain_id(self) -> str:
        return self.sets[0].chain_id

    def at(self, height: int) -> TrustedSet:
        return [s for s in self.sets if s.height <= height][-1]

    def learn(self, trusted: TrustedSet) -> "TrustHistory":
        """With ``trusted`` recorded, unless the set in force at its height is already that set."""
        if self.at(trusted.height).validators == trusted.validators:
            return self
        return TrustHistory(tuple(sorted(self.sets + (trusted,), key=lambda s: s.height)))

    def to_json(self) -> dict:
        return {"trusted_sets": [s.to_json() for s in self.sets]}

    @classmethod
    def from_json(cls, doc: dict) -> "TrustHistory":
        try:
            sets = [TrustedSet.from_json(s) for s in doc["trusted_sets"]]
        except (KeyError, TypeError) as exc:
            raise VerificationError("bad_trusted_set", f"not a list of trusted validator sets: {exc!r}") from None
        return cls(tuple(sorted(sets, key=lambda s: s.height)))


@dataclass(frozen=True)
class Certified:
    """How a header was certified: who signed it, with how much of the power."""
    height: int
    signers: int
    validators: int
    power: int
    total_power: int

    def summary(self) -> str:
        return (f"verified by {self.signers} of {self.validators} validators (power {self.power} of "
                f"{self.total_power}) at height {self.height}")


def _malformed(what: str, exc: Exception) -> VerificationError:
    return VerificationError("malformed_answer", f"the node's {what} is malformed: {exc!r}")


def _hash(text: object) -> bytes:
    value = bytes.fromhex(text)
    if len(value) != 32:
        raise ValueError(f"expected a 32-byte hash, got {len(value)} bytes")
    return value


def header_from_json(doc: dict) -> Header:
    try:
        return Header(str(doc["chain_id"]), int(doc["height"]), int(doc["timestamp_ms"]), _hash(doc["prev_hash"]),
                      _hash(doc["tx_root"]), _hash(doc["state_root"]), _hash(doc["receipts_root"]),
                      _hash(doc["validators_hash"]), str(doc["proposer"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed("header", exc) from None


def commit_from_json(doc: dict) -> Commit:
    try:
        return Commit(int(doc["height"]), int(doc["round"]), _hash(doc["block_hash"]),
                      tuple(CommitSignature(str(s["validator"]), bytes.fromhex(s["signature"]))
                            for s in doc["signatures"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise _malformed("commit certificate", exc) from None


def validator_set_from_json(docs: list) -> ValidatorSet:
    """A set from ``Validator.to_json`` entries; the address given is not trusted but recomputed."""
    return ValidatorSet(tuple(Validator(str(d["name"]), bytes.fromhex(d["public_key"]), int(d["power"]),
                                        str(d["role"])) for d in docs))


def verify_commit(chain_id: str, header: Header, commit: Commit, validators: ValidatorSet) -> Certified:
    """How ``validators`` certified ``header`` by ``commit``; refused unless more than 2/3 of the power signed."""
    return _certify(chain_id, header, commit, validators)[0]


def _certify(chain_id: str, header: Header, commit: Commit,
             validators: ValidatorSet) -> tuple[Certified, list[Validator]]:
    if header.chain_id != chain_id:
        raise VerificationError("chain_id_mismatch", f"the node serves chain {header.chain_id!r}, "
                                                     f"the wallet trusts chain {chain_id!r}")
    if commit.height != header.height or commit.block_hash != header.hash:
        raise VerificationError("commit_mismatch", f"the commit certificate is for another block than "
                                                   f"the header at height {header.height}")
    signers = _signers(chain_id, commit, validators)
    power = sum(v.power for v in signers)
    if power < validators.quorum():
        raise VerificationError("insufficient_power", f"block {header.height} is signed with power {power} of "
                                                      f"{validators.total_power}, not more than 2/3 "
                                                      f"(needs {validators.quorum()})")
    return Certified(header.height, len(signers), len(validators.validators), power, validators.total_power), signers


def _signers(chain_id: str, commit: Commit, validators: ValidatorSet) -> list[Validator]:
    """The validators whose precommit signatures in ``commit`` are valid; refuses any other signature."""
    message = vote_sign_bytes(chain_id, PRECOMMIT, commit.height, commit.round, commit.block_hash)
    signers: dict[str, Validator] = {}
    for signature in commit.signatures:
        validator = validators.by_address(signature.validator)
        if validator is None:
            raise VerificationError("unknown_validator", f"block {commit.height} is signed by {signature.validator}, "
                                                         f"not a validator of the set that signs it")
        if signature.validator in signers or not verify_signature(validator.public_key, message, signature.signature):
            raise VerificationError("bad_signature", f"block {commit.height} carries a bad or repeated signature "
                                                     f"of {validator.name} ({signature.validator})")
        signers[signature.validator] = validator
    return list(signers.values())


def verify_header(trusted: TrustedSet, header: Header, commit: Commit,
                  header_validators: ValidatorSet) -> tuple[TrustedSet, Certified]:
    """Check ``header`` against ``trusted``, following a change to ``header_validators`` (the set
    the node says signs it); returns the set trusted for this header's height, and the certification."""
    if header.validators_hash == trusted.validators.hash():
        return trusted, verify_commit(trusted.chain_id, header, commit, trusted.validators)
    if header.height <= trusted.height:
        raise VerificationError("validators_mismatch", f"block {header.height} names another validator set than "
                                                       f"the one trusted from height {trusted.height}")
    if header_validators.hash() != header.validators_hash:
        raise VerificationError("validators_mismatch", f"the validator set the node sent for block {header.height} "
                                                       f"is not the one its header names")
    certified, signers = _certify(trusted.chain_id, header, commit, header_validators)
    trusted_power = {v.address: v.power for v in trusted.validators.validators}
    vouching = sum(trusted_power.get(v.address, 0) for v in signers)
    if 3 * vouching <= trusted.validators.total_power:
        raise VerificationError("insufficient_trusted_power", f"the validator set changed after height "
                                f"{trusted.height}, and the validators trusted then signed block {header.height} "
                                f"with power {vouching} of {trusted.validators.total_power}, not more than 1/3")
    return TrustedSet(trusted.chain_id, header.height, header_validators), certified


def verify_state_entry(header: Header, claimed_root: bytes, key: bytes, value: bytes | None, proof: Proof) -> None:
    """Refuse unless ``proof`` shows ``key`` holds ``value`` (None: absent) in the state of ``header``."""
    if claimed_root != header.state_root:
        raise VerificationError("root_mismatch", f"the proof is against state root {claimed_root.hex()[:16]}…, "
                                                 f"block {header.height} has {header.state_root.hex()[:16]}…")
    if not verify_proof(header.state_root, key, value, proof):
        raise VerificationError("bad_proof", f"the proof of state key {key!r} does not lead from the value "
                                             f"given to the state root of block {header.height}")


def verify_inclusion(root: bytes, leaf: bytes, index: int, count: int, path: list[bytes], what: str) -> None:
    """Refuse unless ``leaf`` is leaf ``index`` of ``count`` under the Merkle ``root`` (``what`` names it)."""
    if root_from_path(leaf, index, count, path) != root:
        raise VerificationError("bad_proof", f"the {what} is not in the block: its Merkle path does not lead "
                                             f"to the block's {what} root")
