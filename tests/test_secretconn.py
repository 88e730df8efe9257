"""The SecretConnection handshake and frames without sockets: every changed byte, replay,
reflection, low-order key and signature over something else is refused with its reason."""
import msgpack
import pytest

from node.keys import KeyPair
from node.secretconn import PROTOCOL, FrameError, Handshake, HandshakeError

CHAIN = "secretconn-test"
ALICE, BOB = KeyPair.generate(), KeyPair.generate()
AUTH_FAILED = r"^the auth message failed authentication \(changed, replayed or from another session\)$"


def linked():
    a, b = Handshake(CHAIN, ALICE), Handshake(CHAIN, BOB)
    auth_a, auth_b = a.respond(b.hello), b.respond(a.hello)
    return a, b, auth_a, auth_b


def changed(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def test_both_sides_learn_the_other_key_and_frames_flow_both_ways():
    a, b, auth_a, auth_b = linked()
    assert (a.verify(auth_b), b.verify(auth_a)) == (BOB.public_key, ALICE.public_key)
    for n in range(3):
        assert b.receiver.open(a.sender.seal(b"ping %d" % n)) == b"ping %d" % n
        assert a.receiver.open(b.sender.seal(b"pong")) == b"pong"
    assert a.sender.seal(b"same") != a.sender.seal(b"same")  # a fresh nonce per frame


@pytest.mark.parametrize("mutate", [lambda f: changed(f, len(f) - 1), lambda f: changed(f, 0), lambda f: f[:-1]],
                         ids=["last-byte", "first-byte", "cut"])
def test_a_changed_frame_fails_to_open(mutate):
    a, b, auth_a, _ = linked()
    b.verify(auth_a)
    with pytest.raises(FrameError, match="^frame 1 failed authentication$"):
        b.receiver.open(mutate(a.sender.seal(b"transfer 10 to carol")))


def test_a_replayed_or_reordered_frame_fails_to_open():
    a, b, auth_a, _ = linked()
    b.verify(auth_a)
    first = a.sender.seal(b"one")
    assert b.receiver.open(first) == b"one"
    with pytest.raises(FrameError, match="^frame 2 failed authentication$"):
        b.receiver.open(first)  # replayed: its nonce is behind
    a2, b2, auth_a2, _ = linked()
    b2.verify(auth_a2)
    a2.sender.seal(b"one")
    second = a2.sender.seal(b"two")
    with pytest.raises(FrameError, match="^frame 1 failed authentication$"):
        b2.receiver.open(second)  # reordered


def test_every_changed_byte_of_a_hello_is_refused():
    """A relay changing any one byte of Alice's hello on its way to Bob: Bob refuses, for one of four reasons."""
    reasons = set()
    for index in range(len(Handshake(CHAIN, ALICE).hello)):
        alice, bob = Handshake(CHAIN, ALICE), Handshake(CHAIN, BOB)
        with pytest.raises(HandshakeError) as info:
            bob.respond(changed(alice.hello, index))
            bob.verify(alice.respond(bob.hello))
        reasons.add(next(reason for reason in HELLO_REFUSALS if str(info.value).startswith(reason)))
    assert reasons == set(HELLO_REFUSALS)


HELLO_REFUSALS = ("malformed hello: ", "the peer speaks ", "the peer is on chain ",
                  "the auth message failed authentication (changed, replayed or from another session)")


@pytest.mark.parametrize("fields,reason", [
    (["flexledger-p2p/0", CHAIN, b"k" * 32], "^the peer speaks 'flexledger-p2p/0', not 'flexledger-p2p/1'$"),
    ([PROTOCOL, "other-chain", b"k" * 32], "^the peer is on chain 'other-chain', not 'secretconn-test'$"),
    ([PROTOCOL, CHAIN, bytes(32)], "^the peer's ephemeral key is a low-order point$"),
    ([PROTOCOL, CHAIN, b"k" * 31], "^malformed hello: message fields of the wrong type or size$"),
    ([PROTOCOL, CHAIN], "^malformed hello: message fields of the wrong type or size$"),
])
def test_a_bad_hello_is_refused_with_its_reason(fields, reason):
    with pytest.raises(HandshakeError, match=reason):
        Handshake(CHAIN, BOB).respond(msgpack.packb(fields, use_bin_type=True))


def test_every_changed_byte_of_an_auth_message_is_refused():
    _, _, auth_a, _ = linked()
    for index in range(len(auth_a)):
        alice, bob = Handshake(CHAIN, ALICE), Handshake(CHAIN, BOB)
        bob.respond(alice.hello)
        with pytest.raises(HandshakeError, match=AUTH_FAILED):
            bob.verify(changed(alice.respond(bob.hello), index))


def test_a_replayed_handshake_is_refused():
    """A recorded hello and auth message of Alice, played again to Bob: his fresh ephemeral key changes the keys."""
    alice, bob, auth_a, _ = linked()
    assert bob.verify(auth_a) == ALICE.public_key
    fresh_bob = Handshake(CHAIN, BOB)
    fresh_bob.respond(alice.hello)
    with pytest.raises(HandshakeError, match=AUTH_FAILED):
        fresh_bob.verify(auth_a)


def test_a_reflected_handshake_is_refused():
    bob = Handshake(CHAIN, BOB)
    with pytest.raises(HandshakeError, match="^reflected handshake: the peer sent our own ephemeral key$"):
        bob.respond(bob.hello)


class SignsSomethingElse:
    """A node key that signs another message than the one it is given."""

    def __init__(self, key: KeyPair):
        self.public_key, self.key = key.public_key, key

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(b"something else" + message)


def test_a_signature_over_something_else_is_refused():
    alice, forger = Handshake(CHAIN, ALICE), Handshake(CHAIN, SignsSomethingElse(BOB))
    alice.respond(forger.hello)
    with pytest.raises(HandshakeError, match=f"^the signature of {BOB.address} is not over this session's challenge$"):
        alice.verify(forger.respond(alice.hello))


def test_a_peer_presenting_our_own_node_key_is_refused():
    alice, mirror = Handshake(CHAIN, ALICE), Handshake(CHAIN, ALICE)
    alice.respond(mirror.hello)
    with pytest.raises(HandshakeError, match="^reflected handshake: the peer presented our own node key$"):
        alice.verify(mirror.respond(alice.hello))
