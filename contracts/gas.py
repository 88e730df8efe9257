"""The gas schedule and the per-transaction ``GasMeter``.

Every constant below is documented in ``docs/contracts.md``.  A "unit" is
one element of a list/tuple/dict, or ``n // 8 + 1`` for a str/bytes of
length ``n`` (see ``units``).
"""

from __future__ import annotations

from contracts.errors import VMError

NODE_GAS = 2                 # each evaluated statement or expression node
CALL_GAS = 20                # entering a contract function (internal call, key function)
UNIT_GAS = 1                 # per unit built, copied, compared, searched or moved
BYTES_PER_UNIT = 8
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


class GasMeter:
    """Counts gas for one transaction; shared by all contract calls it makes."""

    __slots__ = ("limit", "remaining")

    def __init__(self, limit: int) -> None:
        if type(limit) is not int or limit < 0:
            raise ValueError("gas limit must be a non-negative int")
        self.limit = limit
        self.remaining = limit

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

    def __repr__(self) -> str:
        return f"GasMeter(limit={self.limit}, used={self.used})"


def units(n: int) -> int:
    """Units of a str/bytes of length ``n``."""
    return n // BYTES_PER_UNIT + 1
