"""Every decoder has a depth and size bound: the canonical decoder, txs, blocks, consensus
messages, p2p messages, sync answers, the WAL and JSON; and the ~1.5 kB nested-ext POST /tx
that used to kill the node with a segmentation fault is now a plain 400 on a real node.
"""
import struct
import sys
import time
import zlib

import msgpack
import pytest

from consensus.messages import MAX_MESSAGE_BYTES, Vote
from node import blocksync
from node.block import Block, BlockFormatError
from node.blocksync import SyncError, encode_blocks
from node.encoding import MAX_CONTAINER_ITEMS, MAX_DECODE_DEPTH, MAX_KEYS_PER_HASH, EncodingError, decode, encode
from node.jsonvalues import MAX_JSON_DEPTH, JsonValueError, from_json_value, parse_json
from node.keys import KeyPair
from node.keystore import Keystore
from node.secretconn import decode_fields
from node.receipt import Event, Receipt
from node.tx import CallPayload, Transaction, TxFormatError
from node.wal import ConsensusWal, WalCorrupt
from testnet.devnode import DEV_PASSWORD
from tests.httpkit import post

HASH_MODULUS = sys.hash_info.modulus  # hash(i * modulus) == 0 for every int i
ADDRESS = "0x" + "ab" * 20


def nested_ext_body(levels: int = 300) -> bytes:
    """The attack: a tuple holding a tuple holding ... ``levels`` deep (1,436 bytes for 300)."""
    payload = b"\x90"
    for _ in range(levels):
        payload = msgpack.packb(msgpack.ExtType(2, b"\x91" + payload))
    return payload


def nest(value, levels: int, wrap=lambda v: [v]):
    for _ in range(levels):
        value = wrap(value)
    return value


def test_nested_ext_body_is_refused_without_touching_the_c_stack():
    body = nested_ext_body()
    assert 1_300 < len(body) < 1_600
    with pytest.raises(EncodingError, match=f"nested deeper than {MAX_DECODE_DEPTH} levels"):
        decode(body)
    with pytest.raises(TxFormatError):
        Transaction.from_bytes(body)
    with pytest.raises(EncodingError, match="nested deeper"):
        decode(nested_ext_body(20_000))  # no recursion, so no depth is too deep to refuse


@pytest.mark.parametrize("wrap,key_levels", [(lambda v: [v], 0), (lambda v: (v,), 0), (lambda v: {"k": v}, 0),
                                            (lambda v: {(1,): v}, 1)],
                         ids=["list", "tuple", "map", "map-with-tuple-keys"])
def test_depth_limit_counts_lists_tuples_and_maps_alike(wrap, key_levels):
    """Each list, tuple or map is one level; a tuple key is one level below its map."""
    deepest = nest(0, MAX_DECODE_DEPTH - key_levels, wrap)
    assert decode(encode(deepest)) == deepest
    with pytest.raises(EncodingError, match="nested deeper"):
        decode(encode(wrap(deepest)))


def test_deep_plain_arrays_are_refused():
    with pytest.raises(EncodingError, match="nested deeper"):
        decode(b"\x91" * 100_000 + b"\xc0")
    with pytest.raises(EncodingError, match="nested deeper"):
        decode(b"\x91" * (MAX_DECODE_DEPTH + 1) + b"\xc0")


def test_the_deepest_real_records_decode():
    """VM values nest at most 32 levels (contracts/limits.py); inside a tx or a receipt that is 35."""
    key = KeyPair.generate()
    value = nest(nest(1, 11, lambda v: (v, 2)), 21, lambda v: {"k": [v]} if isinstance(v, tuple) else (v,))
    tx = Transaction("c", key.public_key, 0, 10, CallPayload(ADDRESS, "f", [value])).signed(key)
    assert Transaction.from_bytes(tx.to_bytes()) == tx
    receipt = Receipt(b"\x00" * 32, "ok", 1, (Event(ADDRESS, "E", {"v": value}),), result=value)
    assert Receipt.from_bytes(receipt.to_bytes()) == receipt


def test_sizes_are_bounded():
    with pytest.raises(EncodingError, match="limit is 100"):
        decode(encode("x" * 200), max_bytes=100)
    too_many = b"\xdd" + (MAX_CONTAINER_ITEMS + 1).to_bytes(4, "big") + b"\xc0" * (MAX_CONTAINER_ITEMS + 1)
    with pytest.raises(EncodingError):
        decode(too_many)
    with pytest.raises(EncodingError, match="an integer of more than"):
        decode(encode(1 << 600))
    for garbage in (b"", b"\xc1", b"\x92\x01", b"\xd4\x07\x00", b"\xd4\x02\x01", "text", 5):
        with pytest.raises(EncodingError):
            decode(garbage)


@pytest.mark.parametrize("keys", [
    [i * HASH_MODULUS for i in range(1, MAX_KEYS_PER_HASH + 2)],  # ints: hash(i * modulus) == 0
    [(i * HASH_MODULUS,) for i in range(1, MAX_KEYS_PER_HASH + 2)],  # one-int tuples share hashes too
], ids=["ints", "tuples"])
def test_maps_of_colliding_keys_are_refused(keys):
    with pytest.raises(EncodingError, match="sharing one hash"):
        decode(encode({k: 0 for k in keys}))
    allowed = {k: 0 for k in keys[:MAX_KEYS_PER_HASH]}
    assert decode(encode(allowed)) == allowed
    with pytest.raises(JsonValueError, match="sharing one hash"):
        from_json_value({"$map": [[k if isinstance(k, int) else {"$tuple": list(k)}, 0] for k in keys]})


def test_colliding_keys_are_refused_fast():
    """20,000 colliding keys would take seconds to put in a dict; refusing takes milliseconds."""
    data = encode({i * HASH_MODULUS: 0 for i in range(1, 20_000)})
    started = time.perf_counter()
    with pytest.raises(EncodingError):
        decode(data)
    assert time.perf_counter() - started < 1.0


def test_block_fields_are_checked(chain):
    chain.driver.produce_block()
    block = chain.chain.store.block(1)
    header, txs, commit = decode(block.to_bytes())
    for bad in ([header[:8], txs, commit], [header[:1] + ["1"] + header[2:], txs, commit],
                [header[:8] + [b"x"], txs, commit], [header, txs, [1, 0, b"short", []]], [header, b"", commit],
                [header, [5], commit], [header, txs, commit, None], 7):
        with pytest.raises(BlockFormatError):
            Block.from_bytes(encode(bad))
    assert Block.from_bytes(block.to_bytes()) == block


def test_float_in_a_tx_is_a_format_error():
    key = KeyPair.generate()
    raw = [1, "c", key.public_key, 0, 10, ["call", ADDRESS, "f", [1.5]], b"s" * 64]
    with pytest.raises(TxFormatError):
        Transaction.from_bytes(msgpack.packb(raw, use_bin_type=True))


def test_consensus_messages_are_decoded_within_limits():
    vote = Vote.signed("c", KeyPair.generate(), 1, 3, 0, b"\x01" * 32)
    assert Vote.from_bytes(vote.to_bytes()) == vote
    fields = vote.to_list()
    for bad in (fields[:4] + ["0x" + "ab" * 40] + fields[5:], fields + [0] * 2, [{"a": 1}] + fields[1:],
                [msgpack.ExtType(1, b"\x00")] + fields[1:]):
        with pytest.raises(ValueError, match="malformed msgpack"):
            Vote.from_bytes(msgpack.packb(bad, use_bin_type=True))
    with pytest.raises(ValueError, match="limit"):
        Vote.from_bytes(b"\x00" * (MAX_MESSAGE_BYTES + 1))


def test_p2p_messages_have_exact_fields():
    key, challenge, signature = b"k" * 32, b"c" * 32, b"s" * 64
    assert decode_fields(msgpack.packb([key, challenge, signature]), (32, 32, 64)) == [key, challenge, signature]
    assert decode_fields(msgpack.packb([3, b"payload"]), (int, bytes), max_bin_len=100) == [3, b"payload"]
    for bad, sizes in ((msgpack.packb([key, challenge]), (32, 32, 64)), (msgpack.packb([key[:31], challenge, signature]), (32, 32, 64)),
                       (msgpack.packb(["c" * 300, challenge]), (str, 32)), (msgpack.packb([3, b"p" * 101]), (int, bytes)),
                       (b"\x91" * 5000, (int, bytes)), (None, (int, bytes)), (b"\xc1", (int, bytes))):
        with pytest.raises(ValueError):
            decode_fields(bad, sizes, **({"max_bin_len": 100} if sizes == (int, bytes) else {}))


def test_sync_answers_are_checked_and_bounded(chain, monkeypatch):
    for _ in range(3):
        chain.driver.produce_block()
    start, height, items = blocksync.decode_blocks(encode_blocks(chain.chain, 1, 50))
    assert (start, height, [b.height for b, _ in items]) == (1, 3, [1, 2, 3])
    monkeypatch.setattr(blocksync, "SYNC_BATCH_BYTES", 1)
    assert len(blocksync.decode_blocks(encode_blocks(chain.chain, 1, 50))[2]) == 1  # the first block always fits
    for bad, reason in ((nested_ext_body(), "nested deeper"), (encode(5), "not \\[start, height, blocks\\]"),
                        (encode([1, 3, 5]), "not a list of \\[block, commit\\] pairs"),
                        (encode([1, 3, [[b"x"]]]), "not a list of \\[block, commit\\] pairs"),
                        (encode([1, 3, [[b"x", []]]]), "malformed block"), (b"\xc1", "malformed bytes")):
        with pytest.raises(SyncError, match=reason):
            blocksync.decode_blocks(bad)


def test_wal_record_of_the_wrong_shape_stops_the_node(tmp_path):
    wal = ConsensusWal(tmp_path / "wal")
    wal.append_own(1, b"message")
    wal.close()
    body = msgpack.packb([True, "one", b"message"])
    with open(tmp_path / "wal", "ab") as fh:
        fh.write(struct.pack(">II", len(body), zlib.crc32(body)) + body)
        fh.write(struct.pack(">II", 1, zlib.crc32(b"\xc0")) + b"\xc0")
    with pytest.raises(WalCorrupt, match="wrong shape"):
        ConsensusWal(tmp_path / "wal")


def test_json_is_parsed_with_a_depth_bound():
    with pytest.raises(JsonValueError, match="nested deeper"):
        parse_json("[" * 100_000)
    assert parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    assert parse_json('{"text": "' + "[" * 10_000 + '"}')  # brackets inside strings do not count
    started = time.perf_counter()
    for text in ('"' + '\\"' * 1_000_000, '"' + '\\\n"' * 1_000_000):  # escaped quotes in an unterminated string
        with pytest.raises(JsonValueError, match="not valid JSON"):
            parse_json(text)
    assert time.perf_counter() - started < 2.0  # linear: a quadratic scan took 37 s for 80 kB
    with pytest.raises(JsonValueError, match="nested deeper"):
        from_json_value(nest(1, MAX_DECODE_DEPTH + 1))
    assert from_json_value(nest(1, MAX_DECODE_DEPTH)) == nest(1, MAX_DECODE_DEPTH)


def test_nested_ext_tx_is_a_400_on_a_real_node_which_keeps_serving(dev_node):
    status, doc = post(dev_node.url + "/tx", nested_ext_body())
    assert (status, doc["code"]) == (400, "malformed_tx"), doc
    assert "nested deeper" in doc["message"]
    status, doc = post(dev_node.url + "/tx?wait=commit", nested_ext_body(5_000))
    assert (status, doc["code"]) == (400, "malformed_tx"), doc
    assert dev_node.process.poll() is None
    assert dev_node.client.get("/health")["ok"] is True
    issuer = Keystore(dev_node.home / "keys").load("issuer", DEV_PASSWORD)
    token = dev_node.client.contracts()["token"]
    done = dev_node.client.sign_and_submit(issuer, CallPayload(token, "transfer", [ADDRESS, 1]))
    assert done["status"] == "committed" and done["receipt"]["status"] == "ok"


def test_colliding_map_keys_are_judged_the_same_on_every_python_version():
    """Tuple keys with None hash randomly on 3.11 but not on 3.12+: the decision must not
    depend on the node, so it follows CPython 3.12's hash everywhere."""
    from contracts.keyhash import collision_class
    from node.encoding import map_from_pairs

    keys = [(None, k * (2**61 - 1)) for k in range(9)]
    assert len({collision_class(key) for key in keys}) == 1   # colliding on 3.12+
    with pytest.raises(EncodingError):
        map_from_pairs([(key, 1) for key in keys])


def test_transactions_over_the_hard_size_cap_are_refused_before_decoding():
    from node.tx import MAX_TX_BYTES, Transaction, TxFormatError

    with pytest.raises(TxFormatError, match="bytes"):
        Transaction.from_bytes(b"\x91" + b"\xc0" * MAX_TX_BYTES)
