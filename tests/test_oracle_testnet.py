"""The grid oracle as a process beside a 4-validator testnet: killed and restarted mid-run.

While the oracle is down the chain keeps finalizing blocks and cleared sessions wait in
grid_validation_pending (settlement refused); once it is back it resumes from its journal
and attests every waiting session exactly once: its transaction history holds one
``attest`` per session and no refused transaction.
"""
from market import sources
from market.client import MarketClient, MarketError
from testnet.manager import ORACLE
from tests import oraclekit
from tests.testnetkit import issuer_key, running_testnet


def attested(market: MarketClient, sid: int) -> bool:
    return market.query(sources.MARKET, "attestation", sid) is not None


def test_oracle_killed_and_restarted_attests_every_session_exactly_once(tmp_path):
    with running_testnet(tmp_path, oracle=True) as net:
        market = MarketClient(net.client("agg1"))
        oracle = market.query(sources.GRID, "oracle")
        people = oraclekit.set_up(market, issuer_key(net))

        def cleared_session(day: int) -> int:
            session = oraclekit.open_session(market, people, day, oracle)
            return oraclekit.trade(market, session["id"], oraclekit.evening_peak(people, 1_000))["id"]

        first = cleared_session(40_000)
        oraclekit.wait_for(lambda: attested(market, first), 60, "the running oracle's attestation")

        net.kill(ORACLE)
        waiting = [cleared_session(40_001), cleared_session(40_002)]
        height = net.height("dso")
        oraclekit.wait_for(lambda: net.height("dso") >= height + 3, 30, "blocks while the oracle is down")
        assert not any(attested(market, sid) for sid in waiting)
        try:
            market.send(people.ev1, sources.MARKET, "settle", waiting[0])
            raise AssertionError("settled a session that has no attestation")
        except MarketError as exc:
            assert exc.message == "not ready to settle (the session is in grid_validation_pending)"

        net.start(ORACLE)
        oraclekit.wait_for(lambda: all(attested(market, sid) for sid in waiting), 90, "attestations after restart")
        history = market.node.get(f"/history/{oracle}", limit=500)["items"]
        attests = [item["tx"]["payload"]["args"][0] for item in history
                   if item["tx"]["payload"].get("function") == "attest"]
        assert sorted(attests) == [first, *waiting]
        assert all(item["receipt"]["status"] == "ok" for item in history)
        log = net.process(ORACLE).log_file.read_text()
        assert log.count("grid oracle 0x") == 2 and "refused" not in log
