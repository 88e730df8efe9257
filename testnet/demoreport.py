"""The demo's report, assembled from the chain's API (and the grid oracle's power-flow snapshots).

Every market figure comes from a read of the chain after the run: session summaries and
trades (``market.results``/``rows``), attestations, payouts, regime histories
(``grid.history``), token balances, and the blocks of the run.  For each energy session,
the loading of its feeder's most loaded line or transformer and its lowest bus voltage per
MTU: as cleared (the oracle's validation, from its ``latest.json``) and as settled (the
oracle's power flow of the trades after curtailment and the awarded flexibility,
``settledgrid.py``), with the MTUs the oracle attested violated.  The dict is what
``testnet.report`` renders.
"""
from __future__ import annotations

import time

from gridoracle.config import OracleHome
from gridoracle.snapshot import load_snapshots
from market import sources
from market.token import TOKEN_NAME
from testnet.demo import Demo, check_agreement
from testnet.settledgrid import SettledGrid

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


def _peak(values: list) -> float:
    return max((v for v in values if v is not None), default=float("-inf"))


def _low(values: list) -> float:
    return min((v for v in values if v is not None), default=float("inf"))


def _session_grid(grid: SettledGrid, session: dict, cleared: dict | None, record: dict | None) -> tuple[dict, dict]:
    """The line or transformer of the session's feeder that the settled schedule loads most
    (relative to its limit) and its lowest bus as settled, each also as cleared (the oracle's
    validation), with the MTUs the oracle attested violated."""
    settled, limits = grid.snapshot(session), grid.config.limits
    empty = [None] * len(settled["mtus"])
    cleared = cleared or {table: {} for table in ("lines", "trafos", "buses")}
    elements = grid.elements(session["feeder"])
    limit_of = {"lines": limits.line_loading_bp / 100, "trafos": limits.trafo_loading_bp / 100}
    table, element = max(((t, e) for t in ("lines", "trafos") for e in elements[t]),
                         key=lambda te: _peak(settled[te[0]][te[1]]) / limit_of[te[0]])
    bus = min(elements["buses"], key=lambda b: _low(settled["buses"][b]))
    violated = sorted({mtu for _e, _v, _l, mtu in record["report"]["violations"]}) if record else []
    limit = limit_of[table]
    loading = {"session": session["id"], "feeder": session["feeder"], "element": element, "limit_pct": limit,
               "mtus": settled["mtus"], "cleared_pct": cleared[table].get(element, empty),
               "settled_pct": settled[table][element], "verdict": record and record["report"]["verdict"],
               "violated_mtus": violated}
    voltage = {"session": session["id"], "bus": bus, "mtus": settled["mtus"],
               "cleared_pu": cleared["buses"].get(bus, empty), "settled_pu": settled["buses"][bus],
               "min_pu": limits.vm_min_upu / 1e6, "max_pu": limits.vm_max_upu / 1e6}
    return loading, voltage


def grid_figures(demo: Demo) -> tuple[list[dict], list[dict]]:
    """Loading and voltage of every energy session's feeder, per MTU: as cleared and as settled."""
    home = OracleHome(demo.net.layout.oracle)
    cleared = {s["session"]: s for s in load_snapshots(home.latest_file) if s["stage"] == "cleared"}
    grid = SettledGrid(demo.market, home)
    figures = [_session_grid(grid, session, cleared.get(session["id"]),
                             demo.market.query(sources.MARKET, "attestation", session["id"]))
               for session in demo.market.sessions() if session["id"] in demo.run.energy]
    return [loading for loading, _voltage in figures], [voltage for _loading, voltage in figures]


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
