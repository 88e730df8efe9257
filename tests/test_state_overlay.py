"""Overlays over committed state: reads, deletes and ordered scans merged across layers."""
from hypothesis import example, given, strategies as st

from node.state import CommittedState, Overlay
from node.store import ChainStore


def test_overlay_layers_and_revert(tmp_path):
    store = ChainStore(tmp_path / "db")
    state = CommittedState(store)
    block = Overlay(state)
    block.set(b"k1", b"v1")
    tx = Overlay(block)
    tx.set(b"k2", b"v2")
    tx.delete(b"k1")
    assert tx.get(b"k1") is None and tx.get(b"k2") == b"v2"
    assert block.get(b"k2") is None  # not merged: a failed tx is dropped like this
    tx.merge_into_parent()
    assert block.get(b"k1") is None and block.get(b"k2") == b"v2"
    store.close()


keys = st.binary(min_size=1, max_size=3)


@example(committed={b"a": b"1", b"b1": b"2"}, writes={b"a2": b"3", b"b2": None}, prefix=b"b", start=b"a")
@given(committed=st.dictionaries(keys, st.binary(max_size=2), max_size=12),
       writes=st.dictionaries(keys, st.one_of(st.none(), st.binary(max_size=2)), max_size=12),
       prefix=st.binary(max_size=1), start=st.one_of(st.none(), keys))
def test_scan_merges_in_key_order(tmp_path_factory, committed, writes, prefix, start):
    store = ChainStore(tmp_path_factory.mktemp("db"))
    with store.db.write_batch() as batch:
        for k, v in committed.items():
            batch.put(b"s:" + k, v)
    overlay = Overlay(CommittedState(store))
    for k, v in writes.items():
        overlay.writes[k] = v
    expected = {**committed, **writes}
    expected = sorted((k, v) for k, v in expected.items()
                      if v is not None and k.startswith(prefix) and (start is None or k > start))
    assert list(overlay.scan(prefix, start)) == expected
    store.close()
