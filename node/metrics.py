"""Node metrics in the Prometheus text exposition format (served at ``/metrics``)."""
from __future__ import annotations


class Metrics:
    def __init__(self) -> None:
        self.blocks_committed = 0
        self.txs_committed = 0
        self.blocks_after_round0 = 0  # decided in a round above 0: a proposer was missing or slow
        self.block_execution_ms_sum = 0.0
        self.last_block_execution_ms = 0.0

    def block_committed(self, tx_count: int, execution_ms: float, round_: int = 0) -> None:
        self.blocks_committed += 1
        self.blocks_after_round0 += round_ > 0
        self.txs_committed += tx_count
        self.block_execution_ms_sum += execution_ms
        self.last_block_execution_ms = execution_ms


def render(samples: list[tuple[str, str, str, float]]) -> str:
    """Samples are (name, type, help, value); returns the text format."""
    lines = []
    for name, kind, text, value in samples:
        lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {value:g}"]
    return "\n".join(lines) + "\n"
