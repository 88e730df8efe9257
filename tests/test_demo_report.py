"""The demo report renderer: exact figures, escaping, self-contained HTML, edge cases."""
from __future__ import annotations

import copy
import html
import math
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from testnet.report import (Frame, Segment, clock, energy_chart, kwh, mtu_runs, regime_chart, regime_segments,
                            render_html, render_text, settlement_chart, text_timeline, tokens, write_report)

DAY = int(datetime(2026, 1, 2, tzinfo=timezone.utc).timestamp()) // 900   # MTU of 2026-01-02 00:00 UTC
HOSTILE = "<b>x</b>&"
SAMPLE_PATH = Path("/tmp/report_sample.html")
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "embed", "source", "track", "wbr"}


def evening_profile(mtu_index: int) -> float:
    """0..1 demand shape over a day with a peak around 18:00."""
    hour = mtu_index / 4
    return 0.25 + 0.75 * math.exp(-((hour - 18) ** 2) / 6)


def energy_session(session_id: int, feeder: str, scale: int) -> dict:
    mtus = []
    for i in range(96):
        volume = int(scale * evening_profile(i)) if i >= 12 else 0
        mtus.append({"mtu": DAY + i, "price": 80_000 + int(200_000 * evening_profile(i)) if volume else None,
                     "volume_wh": volume, "trades": volume // 500})
    volume = sum(row["volume_wh"] for row in mtus)
    value = sum(row["volume_wh"] * row["price"] // 1000 for row in mtus if row["price"] is not None)
    return {"id": session_id, "kind": "energy", "feeder": feeder, "first_mtu": DAY, "n_mtus": 96,
            "status": "settled", "mtus": mtus, "volume_wh": volume, "value": value,
            "attestation": {"verdict": "approved", "violations": 0, "curtailed_wh": 0, "height": 90},
            "settled": True, "settled_total": value}


def regime_change(seq: int, state: str, height: int, reason: str, mtus: list[int]) -> dict:
    return {"seq": seq, "state": state, "height": height, "time": DAY * 900 + 60 * height, "reason": reason,
            "mtus": mtus, "by": "fl1dso" + "0" * 34, "attestation": ("ab" * 32) if state != "GREEN" else ""}


PARTICIPANTS = [("dso", "dso", -42_750_000), ("agg1", "aggregator", 18_250_000),
                ("agg2", "aggregator", 9_125_500), ("agg3", "aggregator", -1_000_000),
                ("alice", "prosumer", 12_345_678), ("bob", "prosumer", -12_345_678),
                ("carol", "prosumer", 3_000_000), ("dave", "prosumer", -500_000),
                (HOSTILE, "prosumer", 25_500_000), ("erin", "prosumer", 0)]
REASONS = {"f1": ["Line R1-R2 forecast at 128 % for 17:00-19:00 & rising", "flex bids short: overload persists",
                  "back to normal after flexibility"],
           "f2": ["trafo R0-R1 at 104 %", "cleared"]}


def sample() -> dict:
    peak = [DAY + i for i in range(68, 76)]
    flex = {"id": 3, "kind": "flex", "feeder": "f1", "first_mtu": DAY + 68, "n_mtus": 8, "status": "settled",
            "mtus": [], "volume_wh": 41_500, "value": 12_450_000,
            "attestation": {"verdict": "violated", "violations": 2, "curtailed_wh": 1_500, "height": 170},
            "settled": True, "settled_total": 11_000_000}
    capacity = {"id": 4, "kind": "capacity", "feeder": "f2", "first_mtu": DAY + 64, "n_mtus": 16, "status": "clearing",
                "mtus": [], "volume_wh": 0, "value": 0, "attestation": None, "settled": False, "settled_total": 0}
    before = [60 + 70 * evening_profile(i) for i in range(96)]
    return {
        "title": "FlexLedger demo", "scenario": "evening-peak", "generated": "2026-01-02T23:59:00Z",
        "chain": {"chain_id": "flexledger-demo", "validators": 4, "height": 260, "blocks": 259, "transactions": 4321,
                  "finality_ms": {"p50": 850, "p95": 1430, "max": 2875, "samples": 259}, "duration_s": 754.2,
                  "restarts": [{"node": "agg2", "down_s": 20.5, "caught_up_height": 131}]},
        "sessions": [energy_session(1, "f1", 9_000), energy_session(2, "f2", 6_000), flex, capacity],
        "loading": [{"session": 1, "feeder": "f1", "element": "line:Line R1-R2", "limit_pct": 100.0,
                     "mtus": [DAY + i for i in range(96)], "cleared_pct": before,
                     "settled_pct": [min(v, 97.5) for v in before], "verdict": "violated",
                     "violated_mtus": [DAY + i for i in range(96) if before[i] > 100]},
                    {"session": 2, "feeder": "f2", "element": "trafo:Trafo R0-R1", "limit_pct": 100.0,
                     "mtus": [DAY + i for i in range(96)], "cleared_pct": [v * 0.8 for v in before],
                     "settled_pct": [v * 0.75 for v in before], "verdict": "approved", "violated_mtus": []}],
        "voltages": [{"session": 1, "bus": "Bus R18", "mtus": [DAY, DAY + 1], "cleared_pu": [0.93, None],
                      "settled_pu": [0.955, 0.96], "min_pu": 0.95, "max_pu": 1.05}],
        "regimes": [{"feeder": "f1", "changes": [regime_change(1, "YELLOW", 120, REASONS["f1"][0], peak),
                                                 regime_change(2, "RED", 160, REASONS["f1"][1], []),
                                                 regime_change(3, "GREEN", 200, REASONS["f1"][2], [])]},
                    {"feeder": "f2", "changes": [regime_change(1, "YELLOW", 140, REASONS["f2"][0], peak[:4]),
                                                 regime_change(2, "GREEN", 190, REASONS["f2"][1], [])]}],
        "first_height": 1, "last_height": 260,
        "settlement": [{"participant": name, "role": role, "address": f"fl1{index:039d}",
                        "start": 100 * 10**6, "end": 100 * 10**6 + net, "net": net}
                       for index, (name, role, net) in enumerate(PARTICIPANTS)],
        "events": [{"time": 0.0, "text": "4 validators up"},
                   {"time": 95.25, "text": "killed agg2 (kill -9)"},
                   {"time": 115.75, "text": "agg2 restarted, caught up at height 131"}],
    }


class TagBalance(HTMLParser):
    """Checks that every non-void element is closed in order; counts tags."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.counts: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> does not close {self.stack[-1:] or 'anything'}")
        else:
            self.stack.pop()


def parse(document: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(document)
    parser.close()
    assert parser.errors == [] and parser.stack == [], (parser.errors, parser.stack)
    return parser


def svg_count(document: str) -> int:
    return document.count("<svg")


# ---------------------------------------------------------------- the sample report

def test_html_is_well_formed_with_the_main_tags_once():
    document = render_html(sample())
    assert document.startswith("<!DOCTYPE html>")
    counts = parse(document).counts
    for tag in ("html", "head", "body", "main", "style", "header", "nav", "footer"):
        assert counts[tag] == 1, tag
    assert re.search(r"<head><meta charset=\"utf-8\"><title>FlexLedger demo</title>", document)
    assert counts["section"] == 7


def test_html_is_self_contained():
    document = render_html(sample())
    for forbidden in ("http", "src=", "<script", "@import", "url(", "<link", "<img"):
        assert forbidden not in document.lower(), forbidden
    assert "xmlns" not in document


def test_one_svg_per_chart():
    report = sample()
    energy = sum(1 for s in report["sessions"] if s["kind"] == "energy")
    expected = energy + len(report["loading"]) + 1 + 1      # + regime timeline + settlement bars
    assert svg_count(render_html(report)) == expected == 6


def test_hostile_strings_are_escaped():
    report = sample()
    report["title"] = "<script>alert(1)</script>"
    report["regimes"][0]["feeder"] = '"><svg onload=x>'
    document = render_html(report)
    assert HOSTILE not in document and "<b>" not in document and "<script" not in document
    assert html.escape(HOSTILE) in document
    assert "onload=x>" not in document and html.escape('"><svg onload=x>') in document
    parse(document)


def test_a_url_in_the_data_is_shown_as_text_without_a_link():
    report = sample()
    report["events"].append({"time": 99.0, "text": "agg2 API was http://127.0.0.1:8002, see https://x"})
    document = render_html(report)
    assert "http://" not in document and "https://" not in document
    assert "agg2 API was http:&#47;&#47;127.0.0.1:8002, see https:&#47;&#47;x" in document


@pytest.mark.parametrize("name, net, shown", [(HOSTILE, 25_500_000, "+25.50"), ("alice", 12_345_678, "+12.345678"),
                                              ("bob", -12_345_678, "-12.345678"), ("dso", -42_750_000, "-42.75"),
                                              ("erin", 0, "0.00")])
def test_settlement_net_is_shown_as_tokens(name, net, shown):
    text, document = render_text(sample()), render_html(sample())
    assert any(name in line and line.rstrip().endswith(shown) for line in text.splitlines())
    assert f"<td>{html.escape(name)}</td>" in document and f'<td class="num">{shown}</td>' in document


def test_chain_figures_are_shown():
    text, document = render_text(sample()), render_html(sample())
    for figure in ("p50 850 ms", "p95 1430 ms", "max 2875 ms", "4 validators", "4321 transactions", "12 min 34 s",
                   "agg2 down 20.5 s, caught up at 131"):
        assert figure in text, figure
    for figure in ("<td class=\"num\">850 ms</td>", "<td class=\"num\">1430 ms</td>",
                   "<td class=\"num\">2875 ms</td>", "<td class=\"num\">4321</td>", "12 min 34 s", "20.5 s"):
        assert figure in document, figure


def test_every_regime_change_and_its_reason_is_shown():
    text, document = render_text(sample()), render_html(sample())
    for reasons in REASONS.values():
        for reason in reasons:
            assert reason in text and html.escape(reason) in document
    assert "17:00-19:00" in text and "17:00-18:00" in text      # YELLOW windows, to the end of the last MTU
    for state in ("YELLOW", "RED", "BLACK"):
        assert (f"class=\"badge {state.lower()}\"" in document) == (state != "BLACK")


def test_sessions_line_in_text():
    lines = render_text(sample()).splitlines()
    first = next(line for line in lines if line.split()[:3] == ["1", "energy", "f1"])
    session = sample()["sessions"][0]
    prices = [row["price"] for row in session["mtus"] if row["price"] is not None]
    assert kwh(session["volume_wh"]) in first and f"{tokens(min(prices))}-{tokens(max(prices))}" in first
    assert "approved" in first and f"yes {tokens(session['settled_total'])}" in first
    flex = next(line for line in lines if line.split()[:2] == ["3", "flex"])
    assert "violated (2, 1.5 kWh curtailed)" in flex and "41.5" in flex


def test_text_is_compact_and_shows_loading():
    text = render_text(sample())
    assert len(text.splitlines()) <= 60
    loading = next(line for line in text.splitlines() if "line:Line R1-R2" in line)
    assert "130.0" in loading and "97.5" in loading and loading.rstrip().endswith("ok")
    assert "violated at 15:45-20:30" in loading


def test_the_loading_chart_shades_the_mtus_the_oracle_found_violated():
    report = sample()
    violated, chart = report["loading"][0]["violated_mtus"], render_html(report)
    assert chart.count('class="violated"') == len(violated) == 19
    assert "Session 1, feeder f1, line:Line R1-R2: max 130.0 % as cleared, 97.5 % as settled (ok), limit 100.0 %; " \
           "oracle: violated at 15:45-20:30" in chart
    report["loading"][0]["settled_pct"][70] = 100.2
    assert "100.2 % as settled (OVER)" in render_html(report)


def test_energy_chart_axes_use_time_of_day():
    chart = energy_chart(sample()["sessions"][0])
    labels = re.findall(r">(\d\d:\d\d)</text>", chart)
    assert labels[:3] == ["00:00", "02:00", "04:00"] and len(labels) == 12
    assert chart.count("<rect") == 96 and "tokens/kWh" in chart and "kWh" in chart


def test_write_report_creates_the_directory_and_the_sample(tmp_path):
    target = write_report(sample(), tmp_path / "out" / "deeper" / "report.html")
    assert target == tmp_path / "out" / "deeper" / "report.html"
    assert target.read_text(encoding="utf-8") == render_html(sample())
    assert write_report(sample(), SAMPLE_PATH).exists()


# ---------------------------------------------------------------- edge cases

def empty_report() -> dict:
    report = sample()
    for key in ("sessions", "loading", "voltages", "regimes", "settlement", "events"):
        report[key] = []
    report["chain"]["restarts"] = []
    return report


def single_mtu(report: dict) -> None:
    session = report["sessions"][0]
    session["mtus"], session["n_mtus"] = session["mtus"][70:71], 1
    element = report["loading"][0]
    element["mtus"], element["cleared_pct"], element["settled_pct"] = [DAY + 70], [120.0], [90.0]


def no_prices(report: dict) -> None:
    for row in report["sessions"][0]["mtus"]:
        row["price"], row["volume_wh"], row["trades"] = None, 0, 0
    report["sessions"][0]["volume_wh"] = report["sessions"][0]["value"] = 0


def zeros(report: dict) -> None:
    for row in report["sessions"][1]["mtus"]:
        row["volume_wh"], row["price"] = 0, 0
    report["loading"][1]["cleared_pct"] = report["loading"][1]["settled_pct"] = [0.0] * 96
    report["loading"][1]["limit_pct"] = 0.0
    for row in report["settlement"]:
        row["net"], row["end"] = 0, row["start"]


def negatives(report: dict) -> None:
    for row in report["sessions"][0]["mtus"]:
        row["price"] = -abs(row["price"] or 0) or None
    report["settlement"] = [row for row in report["settlement"] if row["net"] < 0]


def empty_series(report: dict) -> None:
    report["sessions"][0]["mtus"] = []
    report["loading"][0].update(mtus=[], cleared_pct=[], settled_pct=[])
    report["regimes"][1]["changes"] = []
    report["voltages"][0].update(cleared_pu=[], settled_pu=[])


def one_block(report: dict) -> None:
    report["first_height"] = report["last_height"] = 50
    report["settlement"] = report["settlement"][:1]


EDGE_CASES = {"single MTU": single_mtu, "no prices": no_prices, "all zero": zeros, "negative": negatives,
              "empty series": empty_series, "one block": one_block}


@pytest.mark.parametrize("case", EDGE_CASES)
def test_edge_cases_render(case):
    report = sample()
    EDGE_CASES[case](report)
    document = render_html(report)
    parse(document)
    assert svg_count(document) == 6 and "nan" not in document.lower()
    assert render_text(report)


def test_everything_empty_renders_notes_and_no_charts():
    document, text = render_html(empty_report()), render_text(empty_report())
    parse(document)
    assert svg_count(document) == 0
    for message in ("No energy sessions.", "No loading data.", "No feeders reported.", "No participants.",
                    "No sessions.", "No events.", "No validator was restarted."):
        assert message in document, message
    assert "Sessions: none" in text and "Settlement: none" in text


def test_price_line_breaks_at_mtus_without_trades():
    session = sample()["sessions"][0]
    session["mtus"] = [{"mtu": DAY + i, "price": p, "volume_wh": 1000, "trades": 1}
                       for i, p in enumerate([100_000, 120_000, None, 90_000, 95_000, None, 80_000])]
    chart = energy_chart(session)
    assert chart.count("<polyline") == 2 and chart.count("<circle") == 5
    session["mtus"] = session["mtus"][:1]
    assert energy_chart(session).count("<polyline") == 0 and energy_chart(session).count("<circle") == 1


def test_losses_are_drawn_left_of_zero():
    report = sample()
    report["settlement"] = [report["settlement"][0], report["settlement"][1]]   # dso -42.75, agg1 +18.25
    chart = settlement_chart(report)
    (gain_x, gain_w), (loss_x, loss_w) = [(float(x), float(w)) for x, w in
                                          re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', chart)]
    assert abs((loss_x + loss_w) - gain_x) < 0.2 and loss_w > 2 * gain_w > 0
    assert Frame().x0 < loss_x


def test_regime_chart_colours_and_labels_each_segment():
    chart = regime_chart(sample())
    assert re.findall(r'class="seg (\w+)"', chart) == ["green", "yellow", "red", "green", "green", "yellow", "green"]
    assert re.findall(r'class="seg-label[^"]*">(\w+)<', chart) == ["GREEN", "YELLOW", "RED", "GREEN",
                                                                   "GREEN", "YELLOW", "GREEN"]
    report = sample()
    one_block(report)
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', regime_chart(report))]
    assert len(widths) == 2 and min(widths) > 100     # the one block fills the band


# ---------------------------------------------------------------- units and timelines

def test_units():
    assert [tokens(v) for v in (12_500_000, 1, -3_250_000, 0, 1_234_567)] == [
        "12.50", "0.000001", "-3.25", "0.00", "1.234567"]
    assert [kwh(v) for v in (12_345, 12_350, 0, -1_500, 49)] == ["12.3", "12.4", "0.0", "-1.5", "0.0"]
    assert clock(DAY) == "00:00" and clock(DAY + 71) == "17:45" and clock(DAY + 95) == "23:45"
    assert mtu_runs([DAY + 70, DAY + 68, DAY + 69, DAY + 80]) == "17:00-17:45, 20:00-20:15" and mtu_runs([]) == "-"


def test_regime_segments_start_green_and_clamp():
    changes = sample()["regimes"][0]["changes"]
    assert regime_segments(changes, 1, 260) == [Segment("GREEN", 1, 120), Segment("YELLOW", 120, 160),
                                                Segment("RED", 160, 200), Segment("GREEN", 200, 261)]
    assert regime_segments(changes, 150, 180) == [Segment("YELLOW", 150, 160), Segment("RED", 160, 181)]
    assert regime_segments([], 5, 5) == [Segment("GREEN", 5, 6)]


def test_text_timeline_keeps_short_episodes_visible():
    segments = [Segment("GREEN", 0, 500), Segment("RED", 500, 501), Segment("GREEN", 501, 1000)]
    bar = text_timeline(segments, 0, 999)
    assert len(bar) == 50 and bar.count("R") == 1 and bar.strip("|").strip("G") == "R"
