"""The consensus WAL survives torn writes and refuses damage; the signer never double-signs."""
import msgpack
import pytest

from consensus.messages import SignatureRefused
from consensus.types import PRECOMMIT, vote_sign_bytes
from node.keys import KeyPair
from node.signing import DoubleSignRefused, GuardedSigner, SignedBeforeRestart, SigningStateError
from node.wal import ConsensusWal, WalCorrupt


def test_wal_round_trip_and_pruning(tmp_path):
    wal = ConsensusWal(tmp_path / "wal")
    wal.append_own(5, b"vote-a")
    wal.append_received(5, b"theirs")
    wal.append_own(6, b"vote-b")
    wal.close()
    wal = ConsensusWal(tmp_path / "wal")
    assert wal.messages(5, own=True) == [b"vote-a"] and wal.messages(5, own=False) == [b"theirs"]
    wal.start_height(6)
    wal.close()
    assert ConsensusWal(tmp_path / "wal").records == [(True, 6, b"vote-b")]


def test_wal_drops_a_torn_tail_but_refuses_damage_inside(tmp_path):
    wal = ConsensusWal(tmp_path / "wal")
    wal.append_own(1, b"first")
    wal.append_own(1, b"second")
    wal.close()
    data = (tmp_path / "wal").read_bytes()
    (tmp_path / "wal").write_bytes(data[:-3])  # crash in the middle of the last record
    assert ConsensusWal(tmp_path / "wal").messages(1, own=True) == [b"first"]
    damaged = bytearray(data)
    damaged[10] ^= 0xFF  # a flipped bit in the first record
    (tmp_path / "wal").write_bytes(bytes(damaged))
    with pytest.raises(WalCorrupt, match="is damaged at byte 0"):
        ConsensusWal(tmp_path / "wal")


def _vote(height, round_, block):
    return vote_sign_bytes("c", PRECOMMIT, height, round_, block)


def test_signer_refuses_conflicting_or_backward_signatures_across_restarts(tmp_path):
    key = KeyPair.generate()
    GuardedSigner.create(tmp_path / "state.json")
    signer = GuardedSigner(key, tmp_path / "state.json")
    first = signer.sign(_vote(3, 0, b"A" * 32))
    restarted = GuardedSigner(key, tmp_path / "state.json")
    assert restarted.sign(_vote(3, 0, b"A" * 32)) == first  # the same vote again is fine
    with pytest.raises(SignedBeforeRestart, match=r"^refusing to sign at height/round/step \(3, 0, 2\): already "
                                                  r"signed a different message there$"):
        restarted.sign(_vote(3, 0, b"B" * 32))  # the crash window: the engine skips the step, the node runs on
    with pytest.raises(DoubleSignRefused, match=r"^refusing to sign at height/round/step \(2, 5, 2\): already "
                                                r"signed at \(3, 0, 2\)$") as below:
        restarted.sign(_vote(2, 5, b"A" * 32))
    assert not isinstance(below.value, SignatureRefused)  # behind the signing state: the node stops
    restarted.sign(_vote(3, 1, b"B" * 32))
    with pytest.raises(DoubleSignRefused, match="unknown message type"):
        restarted.sign(msgpack.packb(["transfer", 1]))


def test_missing_or_damaged_signing_state_stops_the_validator(tmp_path):
    key = KeyPair.generate()
    with pytest.raises(SigningStateError, match="is missing"):
        GuardedSigner(key, tmp_path / "state.json")
    (tmp_path / "state.json").write_text("{broken")
    with pytest.raises(SigningStateError, match="is damaged"):
        GuardedSigner(key, tmp_path / "state.json")
