"""The demo's report, assembled from the chain's API (and the grid oracle's power-flow snapshots).

Every market figure comes from a read of the chain after the run: session summaries and
trades (``market.results``/``rows``), attestations, payouts, regime histories
(``grid.history``), token balances, and the blocks of the run.  Line loadings and voltages
come from the oracle's ``latest.json`` (its power flow of a session as cleared, and with
the awarded flexibility).  The dict is what ``testnet.report`` renders.
"""
from __future__ import annotations

import time

from gridoracle.config import OracleHome
from gridoracle.snapshot import load_snapshots
from market import sources
from market.token import TOKEN_NAME
from testnet.demo import Demo, check_agreement

#: Elements whose loading (and buses whose voltage) the report plots, when the oracle has them.
PLOTTED_ELEMENTS = ("line:Line R1-R2", "trafo:Trafo R0-R1")
PLOTTED_BUSES = ("bus:Bus R15", "bus:Bus R18")


def _energy_mtus(summary: list, first_mtu: int) -> list[dict]:
    return [{"mtu": first_mtu + mtu, "price": price if volume > 0 else None, "volume_wh": volume, "trades": trades}
            for mtu, price, _bid, _ask, volume, trades in summary]


def _flex_wh(session: dict, rows: list) -> int:
    """Energy of a flexibility request's awards: W for a quarter hour in each MTU of the window
    (capacity sessions: each award row is one MTU)."""
    if session["kind"] == "flex":
        return sum(qty for _seq, qty in rows) * session["n_mtus"] // 4
    return sum(qty for _mtu, _seq, qty in rows) // 4


def session_figures(demo: Demo, session: dict) -> dict:
    market, sid = demo.market, session["id"]
    rows = market.rows(sid, "results")
    summary = market.query(sources.MARKET, "results", sid)
    record = market.query(sources.MARKET, "attestation", sid)
    payouts = market.rows(sid, "payouts")
    energy = session["kind"] == "energy"
    figures = {"id": sid, "name": demo.run.sessions.get(sid, ""), "kind": session["kind"],
               "feeder": session["feeder"], "first_mtu": session["first_mtu"], "n_mtus": session["n_mtus"],
               "status": session["phase"],
               "mtus": _energy_mtus(summary, session["first_mtu"]) if energy and summary else [],
               "volume_wh": sum(row[3] for row in rows) if energy else _flex_wh(session, rows),
               "value": sum(row[4] for row in rows) if energy else 0,
               "attestation": None, "settled": session["phase"] == "settled",
               "settled_total": sum(amount for _address, amount in payouts)}
    if record is not None:
        report = record["report"]
        figures["attestation"] = {"verdict": report["verdict"], "violations": len(report["violations"]),
                                  "curtailed_wh": sum(wh for _mtu, _device, wh in report["curtailment"]),
                                  "height": record["height"]}
    return figures


def _series(snapshots: list[dict], session: int, table: str, element: str) -> tuple[list, list, list]:
    by_stage = {s["stage"]: s for s in snapshots if s["session"] == session}
    before = by_stage.get("cleared")
    after = by_stage.get("with flexibility", before)
    if before is None or element not in before[table]:
        return [], [], []
    return before["mtus"], before[table][element], after[table][element]


def grid_figures(demo: Demo) -> tuple[list[dict], list[dict]]:
    """Loading and voltage before and after flexibility, for the first session that needed it."""
    snapshots = load_snapshots(OracleHome(demo.net.layout.oracle).latest_file)
    flexed = [s["session"] for s in snapshots if s["stage"] == "with flexibility"]
    if not flexed:
        return [], []
    sid, limits = flexed[0], OracleHome(demo.net.layout.oracle).load_config().limits
    loading = []
    for element in PLOTTED_ELEMENTS:
        table = "lines" if element.startswith("line:") else "trafos"
        mtus, before, after = _series(snapshots, sid, table, element)
        limit = (limits.line_loading_bp if table == "lines" else limits.trafo_loading_bp) / 100
        if mtus:
            loading.append({"element": element, "limit_pct": limit, "mtus": mtus, "before_pct": before,
                            "after_pct": after})
    voltages = []
    for bus in PLOTTED_BUSES:
        mtus, before, after = _series(snapshots, sid, "buses", bus)
        if mtus:
            voltages.append({"bus": bus, "mtus": mtus, "before_pu": before, "after_pu": after,
                             "min_pu": limits.vm_min_upu / 1e6, "max_pu": limits.vm_max_upu / 1e6})
    return loading, voltages


def chain_figures(demo: Demo, last_height: int) -> dict:
    client = demo.market.node
    first = demo.run.first_height + 1
    transactions = sum(client.get(f"/block/{h}", txs="hashes")["tx_count"] for h in range(first, last_height + 1))
    latencies = demo.run.latencies
    return {"chain_id": client.status()["chain_id"], "validators": demo.scenario.validators, "height": last_height,
            "blocks": last_height - first + 1, "transactions": transactions,
            "finality_ms": {"p50": round(latencies.percentile(0.50) * 1000),
                            "p95": round(latencies.percentile(0.95) * 1000),
                            "max": round(max(latencies.samples, default=0) * 1000),
                            "samples": len(latencies.samples)},
            "duration_s": round(time.monotonic() - demo.run.started, 1), "restarts": demo.run.restarts}


def build_report(demo: Demo) -> dict:
    last_height = check_agreement(demo)
    market = demo.market
    sessions = [session_figures(demo, s) for s in market.sessions() if s["id"] in demo.run.sessions]
    feeders = sorted({s["feeder"] for s in sessions})
    regimes = [{"feeder": f, "changes": market.query(sources.GRID, "history", f, 0, 200)} for f in feeders]
    roles = {"dso": "dso", "mdm": "meter_data_manager", **{a: "aggregator" for a in demo.scenario.aggregators}}
    settlement = []
    for name, key in demo.keys.items():
        start, end = demo.run.balances_before[name], market.query(TOKEN_NAME, "balance_of", key.address)
        settlement.append({"participant": name, "role": roles.get(name, "prosumer"), "address": key.address,
                           "start": start, "end": end, "net": end - start})
    loading, voltages = grid_figures(demo)
    return {"title": "FlexLedger demo: a day of a local energy market", "scenario": demo.scenario.name,
            "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "chain": chain_figures(demo, last_height), "sessions": sessions, "loading": loading,
            "voltages": voltages, "regimes": regimes, "first_height": demo.run.first_height,
            "last_height": last_height, "settlement": settlement, "events": demo.run.events}
