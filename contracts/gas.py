"""The gas schedule and the per-transaction ``GasMeter``.

Every constant below is documented in ``docs/contracts.md``.  A "unit" is
one element of a list/tuple/dict, or ``n // 8 + 1`` for a str/bytes of
length ``n`` (see ``units``).

Gas pays for time; the meter also counts memory.  Every operation that
builds a value calls ``allocate(units)`` *before* building it: that charges
UNIT_GAS per unit and adds the units to the transaction's allocation, which
may not pass MAX_ALLOCATED_UNITS (``out_of_memory``).  The allocation only
grows (freed values are not subtracted), so it bounds the memory a
transaction can hold at any moment, whatever it frees in between.
"""

from __future__ import annotations

from contracts.errors import VMError
from contracts.keyhash import KeyCollision, KeyGuard
from contracts.limits import MAX_EVENT_BYTES

NODE_GAS = 2                 # each evaluated statement or expression node
CALL_GAS = 20                # entering a contract function (internal call, key function)
UNIT_GAS = 1                 # per unit built, compared, searched or moved
WALK_GAS = 2                 # per unit of a value measured before comparing, sorting or searching it
COPY_GAS = 3                 # per unit of a value deep-copied (arguments, storage, events, results)
PART_GAS = 4                 # per part str.split() may make (each part is a new str)
POWER_GAS = 2                # per squaring step per 64 bits of the result of **
BYTES_PER_UNIT = 8
STR_ITEM_UNITS = 2           # a str's character taken out as a new 1-character str (up to 80 bytes)
BIG_INT_BITS_PER_UNIT = 128  # range(): one more unit per element for every 128 bits of its ints
STORAGE_GET_GAS = 200        # storage.get / storage.has
STORAGE_READ_BYTE_GAS = 1    # per byte of key + value read
STORAGE_SET_GAS = 1000
STORAGE_WRITE_BYTE_GAS = 20  # per byte reported by host.storage_set
STORAGE_DELETE_GAS = 500
STORAGE_SCAN_GAS = 200
STORAGE_SCAN_ENTRY_GAS = 50  # per entry returned (plus read bytes)
SHA256_GAS = 60
SHA256_BYTE_GAS = 1
ED25519_VERIFY_GAS = 3000    # flat, plus SHA256_BYTE_GAS per message byte
EMIT_GAS = 400
EMIT_BYTE_GAS = 8            # per byte reported by host.emit
SORT_GAS = 2                 # per weight unit per comparison level: SORT_GAS * w * ceil(log2(n+1))
CROSS_CALL_GAS = 700         # call(address, function, ...) flat, plus argument copy
DICT_INSERT_GAS = 4          # per key stored into a dict (hash table slot, collision guard)
KEY_ELEMENT_GAS = 2          # per element of a tuple key stored into a dict (hashing it)
RESULT_BYTE_GAS = 8          # per byte of a call's encoded result kept in the receipt
MESSAGE_BYTE_GAS = 8         # per byte of a revert/require message kept in the receipt

MAX_ALLOCATED_UNITS = 4_000_000   # allocation units one transaction may build (~256 MiB)


class GasMeter:
    """Counts gas for one transaction; shared by all contract calls it makes."""

    __slots__ = ("limit", "remaining", "allocated", "keys", "event_bytes")

    def __init__(self, limit: int) -> None:
        if type(limit) is not int or limit < 0:
            raise ValueError("gas limit must be a non-negative int")
        self.limit = limit
        self.remaining = limit
        self.allocated = 0
        self.keys: KeyGuard | None = None   # made for the first key whose hash anyone can predict
        self.event_bytes = 0

    @property
    def used(self) -> int:
        return self.limit - self.remaining

    def charge(self, amount: int) -> None:
        """Consume ``amount`` gas; when it is not there, use it all and fail."""
        if amount < 0:
            raise ValueError("gas amounts are not negative")
        self.remaining -= amount
        if self.remaining < 0:
            self.exhaust()

    def exhaust(self) -> None:
        self.remaining = 0
        raise VMError("out_of_gas", f"out of gas (limit {self.limit})")

    def allocate(self, units: int) -> None:
        """Pay for building ``units`` units of new values, before building them."""
        self.remaining -= UNIT_GAS * units
        if self.remaining < 0:
            self.exhaust()
        self.allocated += units
        if self.allocated > MAX_ALLOCATED_UNITS:
            raise out_of_memory()

    def count_allocation(self, units: int) -> None:
        """Add ``units`` (already paid for in gas) to the transaction's allocation."""
        self.allocated += units
        if self.allocated > MAX_ALLOCATED_UNITS:
            raise out_of_memory()

    def insert_key(self, key: object) -> None:
        """Pay for storing ``key`` in a dict; refuse keys chosen to collide (``key_collision``)."""
        self.remaining -= DICT_INSERT_GAS if type(key) is not tuple else \
            DICT_INSERT_GAS + KEY_ELEMENT_GAS * len(key)
        if self.remaining < 0:
            self.exhaust()
        if type(key) is not str:   # str hashes are secret: no one can make them collide
            if self.keys is None:
                self.keys = KeyGuard()
            try:
                self.keys.admit(key)
            except KeyCollision as exc:
                raise VMError("key_collision", str(exc)) from None
        self.allocated += 1
        if self.allocated > MAX_ALLOCATED_UNITS:
            raise out_of_memory()

    def count_event(self, size: int) -> None:
        """Add an emitted event's encoded size; a transaction may emit MAX_EVENT_BYTES in all."""
        self.event_bytes += size
        if self.event_bytes > MAX_EVENT_BYTES:
            raise VMError("events_too_large", f"events of one transaction over {MAX_EVENT_BYTES} bytes")

    def __repr__(self) -> str:
        return f"GasMeter(limit={self.limit}, used={self.used})"


def out_of_memory() -> VMError:
    return VMError("out_of_memory", f"transaction allocated more than {MAX_ALLOCATED_UNITS} "
                   "units of memory")


def units(n: int) -> int:
    """Units of a str/bytes of length ``n``."""
    return n // BYTES_PER_UNIT + 1
