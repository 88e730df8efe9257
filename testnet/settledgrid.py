"""The feeder as the chain settled it, for the demo report: the oracle's power flow of the settled schedule.

For a session, everything its feeder settled in the session's MTUs (every session past grid
validation, the session itself included: trades after curtailment, awarded flexibility) is
run through the oracle's own validator and put in the format of the oracle's snapshots
(``gridoracle.snapshot``), so that the report can plot it next to the oracle's validation
of the session as cleared.  The test suite checks the same schedule without the oracle
(tests/feedercheck.py).
"""
from __future__ import annotations

from gridoracle.chainview import ChainView
from gridoracle.config import OracleHome
from gridoracle.service import load_validator
from gridoracle.snapshot import snapshot
from market.client import MarketClient


class SettledGrid:
    def __init__(self, market: MarketClient, home: OracleHome):
        self.config = home.load_config()
        self.validator = load_validator(home, self.config)
        self.view = ChainView(market, self.validator.model, self.config)

    def snapshot(self, session: dict) -> dict:
        """Loading, voltages and violations of the settled schedule in the session's MTUs."""
        verdict = self.validator.validate(self.view.background(session, set()), self.view.mtus(session))
        return snapshot(self.validator, verdict, session, "settled")

    def elements(self, feeder: str) -> dict[str, list[str]]:
        """The ids of the lines, transformers and buses of a chain feeder, by snapshot table."""
        model, chain_feeder = self.validator.model, self.config.chain_feeder
        return {table: [e.id for e in elements if e.feeder is not None and chain_feeder(e.feeder) == feeder]
                for table, elements in (("lines", model.lines), ("trafos", model.trafos), ("buses", model.buses))}
