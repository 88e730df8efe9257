"""The ``Host`` protocol: what the node provides to the VM for one transaction.

See ``docs/vm-host-interface.md``.  The VM never imports the node; the node
passes an object implementing this protocol to ``contracts.vm.run_call``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from contracts.program import Program


class Host(Protocol):
    block_height: int
    block_time: int   # unix seconds, set by the proposer
    origin: str       # address of the transaction signer

    def get_program(self, address: str) -> "Program | None": ...

    def storage_get(self, address: str, key: str) -> object | None: ...

    def storage_set(self, address: str, key: str, value: object) -> int: ...

    def storage_delete(self, address: str, key: str) -> None: ...

    def storage_scan(self, address: str, prefix: str, start_after: str | None,
                     limit: int) -> list[tuple[str, object]]: ...

    def emit(self, address: str, name: str, data: dict) -> int: ...
