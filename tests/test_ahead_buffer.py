"""The AheadBuffer: consensus messages held for a height the node has not reached, bounded by bytes."""
from node.aheadbuffer import AheadBuffer


def test_messages_come_back_for_their_height_and_lower_heights_are_dropped():
    buffer = AheadBuffer()
    buffer.keep(b"a", 28, 3, b"vote a")
    buffer.keep(b"b", 27, 3, b"vote b")
    buffer.keep(b"c", 29, 2, b"proposal")
    buffer.keep(b"a", 28, 3, b"vote a")  # a duplicate is held once
    assert buffer.take(28) == [(3, b"vote a")]
    assert buffer.take(27) == []  # dropped when 28 was taken
    assert buffer.take(29) == [(2, b"proposal")]


def test_the_oldest_messages_leave_when_the_bytes_run_out():
    buffer = AheadBuffer(max_bytes=10)
    buffer.keep(b"a", 5, 3, b"12345")
    buffer.keep(b"b", 5, 3, b"67890")
    buffer.keep(b"c", 5, 3, b"xyz")
    buffer.keep(b"d", 5, 3, b"x" * 11)  # larger than the whole budget: not held
    assert buffer.take(5) == [(3, b"67890"), (3, b"xyz")]
