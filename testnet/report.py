"""The demo report: a terminal summary and one self-contained HTML file with inline SVG plots.

Pure presentation.  Both renderers take one plain, JSON-able report dict assembled elsewhere
from the chain's API (chain figures, sessions with their per-MTU clearing, per energy session the
loading of its feeder as cleared and as settled next to the oracle's verdict, regime changes per
feeder, settlement per participant, an event log) and
return text; nothing here talks to a node.

Units in the dict are the chain's: money in micro-units (1 token = 10**6), prices in
micro-units per kWh, energy in Wh, MTUs numbered unix time // 900.  Shown: tokens with 2 to 6
decimals (exact, no floats), kWh with one decimal, MTUs as UTC time of day "HH:MM".

The HTML needs no network: one inline <style>, plots as inline <svg>, no scripts, fonts or
images.  Every string from the dict goes through ``html.escape``; "://" is written as
":&#47;&#47;" so a URL in the data shows as text but no link-like "http://" is in the file.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, NamedTuple, Sequence

MICRO = 10**6
MTU_SECONDS = 900
MTUS_PER_DAY = 96
STATES = ("GREEN", "YELLOW", "RED", "BLACK")
DARK_STATES = ("GREEN", "RED", "BLACK")    # regimes whose colour needs a white label
TEXT_TIMELINE_WIDTH = 48
TEXT_MAX_ROWS = 12
TEXT_MAX_CELL = 34

Report = dict[str, Any]

__all__ = ["render_text", "render_html", "write_report"]


# ---------------------------------------------------------------- units and formats

def tokens(micro: int) -> str:
    """Micro-units as tokens, exact, with 2 to 6 decimals: 12500000 -> '12.50'."""
    whole, fraction = divmod(abs(micro), MICRO)
    digits = f"{fraction:06d}".rstrip("0").ljust(2, "0")
    return f"{'-' if micro < 0 else ''}{whole}.{digits}"


def signed_tokens(micro: int) -> str:
    """Tokens with an explicit sign for changes: '+12.50', '-3.25', '0.00'."""
    return f"+{tokens(micro)}" if micro > 0 else tokens(micro)


def price(micro_per_kwh: int | None) -> str:
    """A price in tokens per kWh, or '-' for an MTU without a trade."""
    return "-" if micro_per_kwh is None else tokens(micro_per_kwh)


def kwh(wh: int) -> str:
    """Wh as kWh with one decimal, rounded half up in integers: 12345 -> '12.3'."""
    tenths = (abs(wh) + 50) // 100
    return f"{'-' if wh < 0 and tenths else ''}{tenths // 10}.{tenths % 10}"


def clock(mtu: int) -> str:
    """An absolute MTU as its UTC time of day: 'HH:MM'."""
    minutes = (mtu % MTUS_PER_DAY) * 15
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def mtu_date(mtu: int) -> str:
    """An absolute MTU as its UTC start: 'YYYY-MM-DD HH:MM'."""
    return datetime.fromtimestamp(mtu * MTU_SECONDS, timezone.utc).strftime("%Y-%m-%d %H:%M")


def unix_clock(seconds: int) -> str:
    """Unix seconds as a UTC time of day: 'HH:MM:SS'."""
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%H:%M:%S")


def mtu_runs(mtus: Iterable[int]) -> str:
    """MTUs as time-of-day ranges, each to the end of its last MTU: '17:00-19:00, 20:15-20:30'."""
    runs: list[list[int]] = []
    for mtu in sorted(set(mtus)):
        if runs and mtu == runs[-1][1] + 1:
            runs[-1][1] = mtu
        else:
            runs.append([mtu, mtu])
    return ", ".join(f"{clock(first)}-{clock(last + 1)}" for first, last in runs) or "-"


def duration(seconds: float) -> str:
    """A run time: '45.2 s', '12 min 05 s', '1 h 02 min'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def elapsed(seconds: float) -> str:
    """Seconds since the start of the run as '+MM:SS.s'."""
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"+{int(minutes):02d}:{rest:04.1f}"


def short(text: str, keep: int = 10) -> str:
    """A long identifier (address, hash) cut to its first characters."""
    return text if len(text) <= keep + 3 else text[:keep] + "..."


def price_range(session: Report) -> str:
    """The lowest and highest clearing price of a session's MTUs, in tokens per kWh."""
    prices = [row["price"] for row in session["mtus"] if row["price"] is not None]
    if not prices:
        return "-"
    low, high = min(prices), max(prices)
    return price(low) if low == high else f"{price(low)}-{price(high)}"


def average_price(session: Report) -> str:
    """Money paid per kWh traded over the whole session, in tokens per kWh."""
    volume = session["volume_wh"]
    return "-" if volume == 0 else price(session["value"] * 1000 // volume)


def verdict(session: Report) -> str:
    """The grid attestation in a few words: 'approved', 'violated (2, 1.5 kWh curtailed)'."""
    attestation = session["attestation"]
    if attestation is None:
        return "-"
    if attestation["verdict"] == "approved":
        return "approved"
    return f"violated ({attestation['violations']}, {kwh(attestation['curtailed_wh'])} kWh curtailed)"


def settled(session: Report) -> str:
    return f"yes {tokens(session['settled_total'])}" if session["settled"] else "no"


def attestation_ref(change: Report) -> str:
    """A regime change's attestation hash, shortened, or 'manual'."""
    return short(change["attestation"], 8) if change["attestation"] else "manual"


def peak(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def loading_verdict(element: Report) -> str:
    """Whether the schedule as settled keeps the element within its limit."""
    settled_peak = peak(element["settled_pct"])
    return "-" if settled_peak is None else ("OVER" if settled_peak > element["limit_pct"] else "ok")


def oracle_verdict(element: Report) -> str:
    """The oracle's attested verdict on the session, with the MTUs it found violated."""
    if element["verdict"] is None:
        return "not attested"
    return element["verdict"] + (f" at {mtu_runs(element['violated_mtus'])}" if element["violated_mtus"] else "")


def settlement_rows(report: Report) -> list[Report]:
    """Participants ordered by net change, largest gain first (stable for ties)."""
    return sorted(report["settlement"], key=lambda row: -row["net"])


# ---------------------------------------------------------------- regime segments

@dataclass(frozen=True)
class Segment:
    """A feeder in one regime from block ``start`` up to, not including, block ``end``."""
    state: str
    start: int
    end: int


def regime_segments(changes: Sequence[Report], first: int, last: int) -> list[Segment]:
    """The feeder's regimes over blocks first..last; GREEN (the chain default) until a change.

    Block ``last`` is in the run, so the final segment ends at ``last + 1``.  Changes before
    ``first`` set the starting regime; changes after ``last`` are outside the run."""
    starts: list[tuple[int, str]] = [(first, "GREEN")]
    for change in sorted(changes, key=lambda c: (c["height"], c["seq"])):
        if change["height"] > last:
            break
        height = max(change["height"], first)
        if height == starts[-1][0]:
            starts[-1] = (height, change["state"])
        else:
            starts.append((height, change["state"]))
    ends = [start for start, _ in starts[1:]] + [last + 1]
    return [Segment(state, start, end) for (start, state), end in zip(starts, ends)]


# ---------------------------------------------------------------- terminal text

def printable(value: object) -> str:
    """Text for the terminal: control characters (escape sequences) from the data become '?'."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(value))


def clipped(value: object) -> str:
    """A table cell for the terminal: printable and clipped."""
    text = printable(value)
    return text if len(text) <= TEXT_MAX_CELL else text[:TEXT_MAX_CELL - 3] + "..."


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]], right: set[int]) -> list[str]:
    """A fixed-width table; columns in ``right`` are right-aligned; long tables are cut."""
    cells = [[clipped(value) for value in row] for row in [header, *rows[:TEXT_MAX_ROWS]]]
    widths = [max(len(row[col]) for row in cells) for col in range(len(header))]
    lines = ["  " + "  ".join(cell.rjust(w) if col in right else cell.ljust(w)
                              for col, (cell, w) in enumerate(zip(row, widths))).rstrip()
             for row in cells]
    if len(rows) > TEXT_MAX_ROWS:
        lines.append(f"  ... and {len(rows) - TEXT_MAX_ROWS} more (see the HTML report)")
    return lines


def text_chain(report: Report) -> list[str]:
    chain, latency = report["chain"], report["chain"]["finality_ms"]
    restarts = "; ".join(f"{r['node']} down {r['down_s']:.1f} s, caught up at {r['caught_up_height']}"
                         for r in chain["restarts"]) or "none"
    return [f"chain {chain['chain_id']}: {chain['validators']} validators, height {chain['height']}, "
            f"{chain['blocks']} blocks, {chain['transactions']} transactions, run {duration(chain['duration_s'])}",
            f"finality p50 {latency['p50']} ms  p95 {latency['p95']} ms  max {latency['max']} ms "
            f"({latency['samples']} samples)",
            f"validator restarts: {restarts}"]


def text_sessions(report: Report) -> list[str]:
    rows = [[s["id"], s["kind"], s["feeder"], f"{clock(s['first_mtu'])} x{s['n_mtus']}", kwh(s["volume_wh"]),
             price_range(s), verdict(s), settled(s)] for s in report["sessions"]]
    header = ["id", "kind", "feeder", "MTUs", "kWh", "price tok/kWh", "attestation", "settled"]
    return ["Sessions", *text_table(header, rows, {0, 4})] if rows else ["Sessions: none"]


def text_timeline(segments: Sequence[Segment], first: int, last: int) -> str:
    """One feeder's regimes as a bar of state initials; every segment gets at least one character
    (the longest are drawn first, so a short episode is never painted over)."""
    span = max(last + 1 - first, 1)
    bar = [" "] * TEXT_TIMELINE_WIDTH
    for segment in sorted(segments, key=lambda s: s.end - s.start, reverse=True):
        left = min(int((segment.start - first) * TEXT_TIMELINE_WIDTH / span), TEXT_TIMELINE_WIDTH - 1)
        right = max(left + 1, int((segment.end - first) * TEXT_TIMELINE_WIDTH / span))
        bar[left:right] = segment.state[0] * (right - left)
    return "|" + "".join(bar[:TEXT_TIMELINE_WIDTH]) + "|"


def text_regimes(report: Report) -> list[str]:
    first, last = report["first_height"], report["last_height"]
    lines = [f"Regimes per feeder (blocks {first}-{last}; G/Y/R/B = GREEN/YELLOW/RED/BLACK)"]
    for feeder in report["regimes"]:
        segments = regime_segments(feeder["changes"], first, last)
        lines.append(f"  {clipped(feeder['feeder'])}  {text_timeline(segments, first, last)}")
        lines += [f"    h{c['height']:<6} {printable(c['state']):<6}  {mtu_runs(c['mtus']):<13}  "
                  f"{printable(c['reason'])}" for c in feeder["changes"]]
    return lines if report["regimes"] else ["Regimes: no feeders reported"]


def text_settlement(report: Report) -> list[str]:
    rows = [[r["participant"], r["role"], tokens(r["start"]), tokens(r["end"]), signed_tokens(r["net"])]
            for r in settlement_rows(report)]
    header = ["participant", "role", "start", "end", "net tokens"]
    return ["Settlement per participant", *text_table(header, rows, {2, 3, 4})] if rows else ["Settlement: none"]


def text_loading(report: Report) -> list[str]:
    rows = [[e["session"], e["element"], percent(e["limit_pct"]), percent(peak(e["cleared_pct"])),
             percent(peak(e["settled_pct"])), oracle_verdict(e), loading_verdict(e)] for e in report["loading"]]
    header = ["session", "element", "limit %", "max cleared %", "max settled %", "oracle", "settled"]
    return (["Max loading as cleared and as settled", *text_table(header, rows, {0, 2, 3, 4})] if rows
            else ["Loading: no elements reported"])


def render_text(report: Report) -> str:
    """A compact terminal summary of the run (plain text, fixed-width tables)."""
    parts = [[f"{printable(report['title'])} - scenario {printable(report['scenario'])} - "
              f"{printable(report['generated'])}"],
             text_chain(report), text_sessions(report), text_regimes(report),
             text_settlement(report), text_loading(report)]
    return "\n\n".join("\n".join(part) for part in parts) + "\n"


# ---------------------------------------------------------------- HTML building blocks

NUMERIC = ' class="num"'


class Markup(str):
    """Text that is already HTML (built here from escaped pieces); never escaped again."""


def esc(value: object) -> Markup:
    """Escape any value for HTML text or an attribute; '://' is written with entities."""
    return Markup(html.escape(str(value)).replace("://", ":&#47;&#47;"))


def cell(value: object) -> Markup:
    return value if isinstance(value, Markup) else esc(value)


def html_table(header: Sequence[str], rows: Sequence[Sequence[object]], numeric: Collection[int] = ()) -> Markup:
    """A table; cells are escaped unless they are Markup; columns in ``numeric`` align right."""
    def row_html(row: Sequence[object], tag: str) -> str:
        return "<tr>" + "".join(f'<{tag}{NUMERIC if col in numeric else ""}>{cell(value)}</{tag}>'
                                for col, value in enumerate(row)) + "</tr>"
    body = "".join(row_html(row, "td") for row in rows)
    return Markup(f"<table><thead>{row_html(header, 'th')}</thead><tbody>{body}</tbody></table>")


def note(text: str) -> Markup:
    return Markup(f'<p class="note">{esc(text)}</p>')


def legend(*items: tuple[str, str]) -> Markup:
    """Swatches under a chart: (css class of the swatch, label)."""
    return Markup('<p class="legend">' + "".join(f'<span class="sw {css}"></span>{esc(label)} '
                                                 for css, label in items).rstrip() + "</p>")


def figure(chart: Markup, caption: str) -> Markup:
    return Markup(f"<figure>{chart}<figcaption>{esc(caption)}</figcaption></figure>")


def address_code(address: str) -> Markup:
    """An address, shortened, with the full text on hover."""
    return Markup(f'<code title="{esc(address)}">{esc(short(address))}</code>')


def state_class(state: str) -> str:
    """The CSS class that colours a regime (badges and timeline segments)."""
    return state.lower() if state in STATES else "unknown"


def state_badge(state: str) -> Markup:
    return Markup(f'<span class="badge {state_class(state)}">{esc(state)}</span>')


# ---------------------------------------------------------------- SVG: frames, scales, axes

@dataclass(frozen=True)
class Frame:
    """A chart's canvas and the plot area inside its margins."""
    width: int = 760
    height: int = 260
    left: int = 60
    right: int = 60
    top: int = 16
    bottom: int = 40

    @property
    def x0(self) -> int:
        return self.left

    @property
    def x1(self) -> int:
        return self.width - self.right

    @property
    def y0(self) -> int:
        return self.top

    @property
    def y1(self) -> int:
        return self.height - self.bottom


@dataclass(frozen=True)
class Axis:
    """A linear value axis: domain lo..hi onto pixels r0..r1, with its tick values."""
    lo: float
    hi: float
    r0: float
    r1: float
    ticks: tuple[float, ...]
    decimals: int

    def __call__(self, value: float) -> float:
        return self.r0 + (value - self.lo) * (self.r1 - self.r0) / (self.hi - self.lo)

    def label(self, value: float) -> str:
        return f"{value:.{self.decimals}f}"


def nice_step(span: float, target: int, least: float = 0.0) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about ``target`` intervals (>= least)."""
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    return max(least, next(m * magnitude for m in (1, 2, 5, 10) if raw <= m * magnitude * (1 + 1e-9)))


def make_axis(low: float, high: float, r0: float, r1: float, step: float) -> Axis:
    """An axis over low..high (high > low) with ticks at the multiples of ``step`` inside it."""
    ticks = tuple(k * step for k in range(math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9) + 1))
    return Axis(low, high, r0, r1, ticks, max(0, -math.floor(math.log10(step) + 1e-9)))


def value_axis(values: Iterable[float | None], r0: float, r1: float, target: int = 5) -> Axis:
    """An axis over the values (None skipped) and zero, widened to whole tick steps."""
    present = [v for v in values if v is not None and math.isfinite(v)]
    low, high = min([0.0, *present]), max([0.0, *present])
    if high - low <= 0:
        high = low + 1
    step = nice_step(high - low, target)
    return make_axis(math.floor(low / step + 1e-9) * step, math.ceil(high / step - 1e-9) * step, r0, r1, step)


def height_axis(first: int, last: int, r0: float, r1: float) -> Axis:
    """Blocks first..last, each one unit wide (the axis ends at last + 1), ticks on whole heights."""
    high = max(last + 1, first + 1)
    return make_axis(first, high, r0, r1, nice_step(high - first, 8, least=1.0))


@dataclass(frozen=True)
class Band:
    """Categories (MTUs, participants) spread evenly over pixels r0..r1."""
    count: int
    r0: float
    r1: float

    @property
    def size(self) -> float:
        return (self.r1 - self.r0) / max(self.count, 1)

    def center(self, index: int) -> float:
        return self.r0 + (index + 0.5) * self.size


def num(value: float) -> str:
    """A coordinate for SVG attributes."""
    return f"{value:.1f}"


def svg_text(x: float, y: float, text: str, css: str = "", anchor: str = "middle", extra: str = "") -> str:
    css_attr = f' class="{css}"' if css else ""
    return f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}"{css_attr}{extra}>{esc(text)}</text>'


def svg_line(x1: float, y1: float, x2: float, y2: float, css: str) -> str:
    return f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" class="{css}" />'


def svg_rect(x: float, y: float, width: float, height: float, css: str, tip: str) -> str:
    """A rectangle with a hover tooltip."""
    return (f'<rect x="{num(x)}" y="{num(y)}" width="{num(max(width, 0.0))}" height="{num(max(height, 0.0))}" '
            f'class="{css}"><title>{esc(tip)}</title></rect>')


def svg(frame: Frame, label: str, body: Sequence[str]) -> Markup:
    """An inline SVG element (HTML5 needs no namespace), described for screen readers."""
    return Markup(f'<svg class="chart" viewBox="0 0 {frame.width} {frame.height}" role="img" '
                  f'aria-label="{esc(label)}">{"".join(body)}</svg>')


def ticks(axis: Axis, frame: Frame, side: str, grid: bool) -> list[str]:
    """Tick labels of a value axis on the 'left', 'right' or 'bottom' of the plot, with grid lines."""
    parts: list[str] = []
    for value in axis.ticks:
        at = axis(value)
        if side == "bottom":
            line = svg_line(at, frame.y0, at, frame.y1, "grid")
            label = svg_text(at, frame.y1 + 16, axis.label(value))
        else:
            x = frame.x0 - 6 if side == "left" else frame.x1 + 6
            line = svg_line(frame.x0, at, frame.x1, at, "grid")
            label = svg_text(x, at + 4, axis.label(value), anchor="end" if side == "left" else "start")
        parts += [line, label] if grid else [label]
    return parts


def axis_title(frame: Frame, side: str, text: str) -> str:
    """An axis title: rotated beside a vertical axis, centred under a horizontal one."""
    if side == "bottom":
        return svg_text((frame.x0 + frame.x1) / 2, frame.height - 6, text, "title")
    x = 14 if side == "left" else frame.width - 10
    y = (frame.y0 + frame.y1) / 2
    return svg_text(x, y, text, "title", extra=f' transform="rotate(-90 {num(x)} {num(y)})"')


def mtu_labels(mtus: Sequence[int], band: Band, frame: Frame, most: int = 12) -> list[str]:
    """Time-of-day labels under an MTU band: every 1, 2, 4, 8 ... MTUs, at most ``most`` labels."""
    step = next(s for s in (1, 2, 4, 8, 12, 16, 24, 48, 96, len(mtus) or 1) if len(mtus) <= s * most)
    return [svg_text(band.center(i), frame.y1 + 16, clock(mtu)) for i, mtu in enumerate(mtus) if i % step == 0]


def x_axis_line(frame: Frame) -> str:
    """The line under the plot area."""
    return svg_line(frame.x0, frame.y1, frame.x1, frame.y1, "axis")


def empty_message(frame: Frame, text: str) -> str:
    return svg_text((frame.x0 + frame.x1) / 2, (frame.y0 + frame.y1) / 2, text, "empty")


def series(band: Band, axis: Axis, values: Sequence[float | None], css: str, tip: Callable[[int], str]) -> list[str]:
    """A line through the values, broken where a value is None, with a point (and tooltip) on each."""
    runs: list[list[str]] = [[]]
    points: list[str] = []
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
            continue
        x, y = num(band.center(i)), num(axis(value))
        runs[-1].append(f"{x},{y}")
        points.append(f'<circle cx="{x}" cy="{y}" r="2.5" class="{css} pt"><title>{esc(tip(i))}</title></circle>')
    lines = [f'<polyline points="{" ".join(run)}" class="{css}" />' for run in runs if len(run) > 1]
    return lines + points


# ---------------------------------------------------------------- charts

def energy_chart(session: Report) -> Markup:
    """Bars of traded kWh and the clearing price (tokens/kWh) per MTU of one energy session."""
    frame, rows = Frame(), session["mtus"]
    label = f"Session {session['id']} ({session['feeder']}): volume and clearing price per MTU"
    if not rows:
        return svg(frame, label, [x_axis_line(frame), empty_message(frame, "no MTUs cleared")])
    band = Band(len(rows), frame.x0, frame.x1)
    volumes = [row["volume_wh"] / 1000 for row in rows]
    prices = [None if row["price"] is None else row["price"] / MICRO for row in rows]
    left = value_axis(volumes, frame.y1, frame.y0)
    right = value_axis(prices, frame.y1, frame.y0)
    tips = [f"{clock(row['mtu'])}: {kwh(row['volume_wh'])} kWh in {row['trades']} trades, "
            f"price {price(row['price'])} tokens/kWh" for row in rows]
    bars = [svg_rect(band.center(i) - band.size * 0.4, min(left(v), left(0)), band.size * 0.8,
                     abs(left(v) - left(0)), "vol", tips[i]) for i, v in enumerate(volumes)]
    body = [*ticks(left, frame, "left", True), *ticks(right, frame, "right", False), *bars,
            *series(band, right, prices, "price", tips.__getitem__), x_axis_line(frame),
            *mtu_labels([row["mtu"] for row in rows], band, frame),
            axis_title(frame, "left", "kWh"), axis_title(frame, "right", "tokens/kWh")]
    return svg(frame, label, body)


def loading_chart(element: Report) -> Markup:
    """An element's loading (%) per MTU as cleared and as settled, its limit dashed, and a
    shaded band behind each MTU the oracle attested violated."""
    frame, mtus = Frame(right=24), element["mtus"]
    label = f"Session {element['session']}: loading of {element['element']} as cleared and as settled"
    if not mtus:
        return svg(frame, label, [x_axis_line(frame), empty_message(frame, "no loading data")])
    band = Band(len(mtus), frame.x0, frame.x1)
    cleared, settled, limit = element["cleared_pct"], element["settled_pct"], element["limit_pct"]
    axis = value_axis([*cleared, *settled, limit], frame.y1, frame.y0)
    violated = set(element["violated_mtus"])

    def tip(when: str, values: Sequence[float | None]) -> Callable[[int], str]:
        return lambda i: f"{clock(mtus[i])} {when}: {percent(values[i])} %"
    body = [*[svg_rect(band.center(i) - band.size / 2, frame.y0, band.size, frame.y1 - frame.y0, "violated",
                       f"{clock(mtu)}: the oracle attested a violation") for i, mtu in enumerate(mtus) if mtu in violated],
            *ticks(axis, frame, "left", True),
            svg_line(frame.x0, axis(limit), frame.x1, axis(limit), "limit"),
            svg_text(frame.x1 - 4, axis(limit) - 4, f"limit {percent(limit)} %", "limit-label", anchor="end"),
            *series(band, axis, cleared[:len(mtus)], "cleared", tip("as cleared", cleared)),
            *series(band, axis, settled[:len(mtus)], "settled", tip("as settled", settled)),
            x_axis_line(frame), *mtu_labels(mtus, band, frame), axis_title(frame, "left", "loading %")]
    return svg(frame, label, body)


def regime_chart(report: Report) -> Markup:
    """One band per feeder over the run's block heights, coloured by regime, labelled where it fits."""
    feeders, first, last = report["regimes"], report["first_height"], report["last_height"]
    frame = Frame(height=56 + 34 * len(feeders), left=110, right=24, top=12)
    axis = height_axis(first, last, frame.x0, frame.x1)
    rows = Band(len(feeders), frame.y0, frame.y1)
    body = ticks(axis, frame, "bottom", True)
    for row, feeder in enumerate(feeders):
        y, height = rows.center(row) - 11, 22
        body.append(svg_text(frame.x0 - 8, y + 15, feeder["feeder"], anchor="end"))
        for segment in regime_segments(feeder["changes"], first, last):
            x, width = axis(segment.start), axis(segment.end) - axis(segment.start)
            tip = f"{feeder['feeder']}: {segment.state} in blocks {segment.start}-{segment.end - 1}"
            body.append(svg_rect(x, y, width, height, f"seg {state_class(segment.state)}", tip))
            if width >= 8 * len(segment.state) + 6:
                css = "seg-label dark" if segment.state in DARK_STATES else "seg-label"
                body.append(svg_text(x + width / 2, y + 15, segment.state, css))
    body.append(axis_title(frame, "bottom", "block height"))
    return svg(frame, "Regime per feeder over the run's blocks", body)


def settlement_chart(report: Report) -> Markup:
    """Horizontal bars of each participant's net token change, losses to the left of zero."""
    rows = settlement_rows(report)
    frame = Frame(height=52 + 24 * len(rows), left=170, right=30, top=12)
    axis = value_axis([row["net"] / MICRO for row in rows], frame.x0, frame.x1, target=6)
    band = Band(len(rows), frame.y0, frame.y1)
    body = ticks(axis, frame, "bottom", True)
    for i, row in enumerate(rows):
        x, end = sorted((axis(0), axis(row["net"] / MICRO)))
        css = "gain" if row["net"] >= 0 else "loss"
        tip = f"{row['participant']} ({row['role']}): {signed_tokens(row['net'])} tokens"
        body += [svg_rect(x, band.center(i) - band.size * 0.35, end - x, band.size * 0.7, css, tip),
                 svg_text(frame.x0 - 8, band.center(i) + 4, short(row["participant"], 22), anchor="end")]
    body += [svg_line(axis(0), frame.y0, axis(0), frame.y1, "axis"), axis_title(frame, "bottom", "net tokens")]
    return svg(frame, "Net token change per participant", body)


# ---------------------------------------------------------------- HTML sections

def overview_section(report: Report) -> list[Markup]:
    chain, latency = report["chain"], report["chain"]["finality_ms"]
    figures = [("chain id", chain["chain_id"]), ("validators", chain["validators"]),
               ("height", chain["height"]), ("blocks", chain["blocks"]), ("transactions", chain["transactions"]),
               ("finality latency p50", f"{latency['p50']} ms"), ("finality latency p95", f"{latency['p95']} ms"),
               ("finality latency max", f"{latency['max']} ms"), ("latency samples", latency["samples"]),
               ("run time", duration(chain["duration_s"])), ("validator restarts", len(chain["restarts"]))]
    restarts = [[r["node"], f"{r['down_s']:.1f} s", r["caught_up_height"]] for r in chain["restarts"]]
    return [html_table(["figure", "value"], figures, {1}),
            html_table(["restarted node", "down for", "caught up at height"], restarts, {1, 2})
            if restarts else note("No validator was restarted.")]


def session_caption(session: Report) -> str:
    return (f"Session {session['id']}, feeder {session['feeder']}, from {mtu_date(session['first_mtu'])} UTC: "
            f"{kwh(session['volume_wh'])} kWh for {tokens(session['value'])} tokens")


def prices_section(report: Report) -> list[Markup]:
    charts = [figure(energy_chart(s), session_caption(s)) for s in report["sessions"] if s["kind"] == "energy"]
    if not charts:
        return [note("No energy sessions.")]
    return [legend(("vol", "traded volume (kWh, left axis)"), ("price", "clearing price (tokens/kWh, right axis)")),
            *charts]


def loading_caption(element: Report) -> str:
    return (f"Session {element['session']}, feeder {element['feeder']}, {element['element']}: max "
            f"{percent(peak(element['cleared_pct']))} % as cleared, {percent(peak(element['settled_pct']))} % as "
            f"settled ({loading_verdict(element)}), limit {percent(element['limit_pct'])} %; oracle: "
            f"{oracle_verdict(element)}")


def voltage_table(report: Report) -> list[Markup]:
    """Each session's lowest bus against its allowed band, as cleared and as settled (nothing if none)."""
    def spread(values: Sequence[float | None]) -> str:
        present = [value for value in values if value is not None]
        return f"{min(present):.3f}-{max(present):.3f}" if present else "-"
    rows = [[v["session"], v["bus"], f"{v['min_pu']:.3f}-{v['max_pu']:.3f}", spread(v["cleared_pu"]),
             spread(v["settled_pu"])] for v in report["voltages"]]
    if not rows:
        return []
    return [Markup("<h3>Lowest bus voltage of each session (p.u.)</h3>"),
            html_table(["session", "bus", "allowed", "as cleared", "as settled"], rows, {0, 2, 3, 4})]


def loading_section(report: Report) -> list[Markup]:
    charts = [figure(loading_chart(e), loading_caption(e)) for e in report["loading"]]
    if not charts:
        return [note("No loading data."), *voltage_table(report)]
    return [legend(("cleared", "as cleared (the oracle's validation)"), ("settled", "as settled (after curtailment "
                   "and flexibility)"), ("violated", "MTU the oracle attested violated"), ("limit", "limit")),
            *charts, *voltage_table(report)]


def regimes_section(report: Report) -> list[Markup]:
    if not report["regimes"]:
        return [note("No feeders reported.")]
    rows = [[f["feeder"], c["seq"], c["height"], unix_clock(c["time"]), state_badge(c["state"]),
             mtu_runs(c["mtus"]), c["reason"], short(str(c["by"])), attestation_ref(c)]
            for f in report["regimes"] for c in f["changes"]]
    header = ["feeder", "seq", "height", "time (UTC)", "regime", "MTUs", "reason", "by", "attestation"]
    return [regime_chart(report),
            html_table(header, rows, {1, 2}) if rows else note("No regime changes: every feeder stayed GREEN.")]


def settlement_section(report: Report) -> list[Markup]:
    if not report["settlement"]:
        return [note("No participants.")]
    rows = [[r["participant"], r["role"], address_code(r["address"]), tokens(r["start"]), tokens(r["end"]),
             signed_tokens(r["net"])] for r in settlement_rows(report)]
    header = ["participant", "role", "address", "start", "end", "net tokens"]
    return [settlement_chart(report), html_table(header, rows, {3, 4, 5})]


def sessions_section(report: Report) -> list[Markup]:
    rows = [[s["id"], s["kind"], s["feeder"], mtu_date(s["first_mtu"]), s["n_mtus"], s["status"], kwh(s["volume_wh"]),
             tokens(s["value"]), price_range(s), average_price(s), verdict(s), settled(s)] for s in report["sessions"]]
    header = ["id", "kind", "feeder", "first MTU (UTC)", "MTUs", "status", "kWh", "value tokens",
              "price range tokens/kWh", "avg tokens/kWh", "attestation", "settled tokens"]
    return [html_table(header, rows, {0, 4, 6, 7, 9}) if rows else note("No sessions.")]


def events_section(report: Report) -> list[Markup]:
    rows = [[elapsed(e["time"]), e["text"]] for e in report["events"]]
    return [html_table(["time", "event"], rows) if rows else note("No events.")]


STYLE = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:1em;color:#222}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
nav a{margin-right:1em}table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.2em .5em;text-align:left}th{background:#f3f3f3}.num{text-align:right}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}.note{color:#666;font-style:italic}
svg.chart{width:100%;height:auto;font-size:11px}svg .grid{stroke:#e5e5e5}svg .axis{stroke:#444}
svg .title{font-weight:bold;fill:#444}svg .empty{fill:#888;font-size:14px}
svg .vol{fill:#9ecae1}svg .price{stroke:#d94801;fill:none;stroke-width:2}svg .price.pt{fill:#d94801}
svg .cleared{stroke:#d62728;fill:none;stroke-width:2}svg .cleared.pt{fill:#d62728}
svg .settled{stroke:#1f77b4;fill:none;stroke-width:2}svg .settled.pt{fill:#1f77b4}svg .violated{fill:#fbe3e3}
svg .limit{stroke:#555;stroke-dasharray:6 4}svg .limit-label{fill:#555}
svg .seg{stroke:#fff}svg .seg.green{fill:#2e9e4f}svg .seg.yellow{fill:#f2c318}svg .seg.red{fill:#d62d20}
svg .seg.black{fill:#222}svg .seg.unknown{fill:#999}
svg .seg-label{font-weight:bold;fill:#222}svg .seg-label.dark{fill:#fff}
svg .gain{fill:#2e9e4f}svg .loss{fill:#d62d20}
.legend{font-size:.85em}.sw{display:inline-block;width:1.6em;height:.7em;margin:0 .3em 0 .8em}
.sw.vol{background:#9ecae1}.sw.price{background:#d94801}.sw.cleared{background:#d62728}
.sw.settled{background:#1f77b4}.sw.violated{background:#fbe3e3}.sw.limit{border-top:2px dashed #555;height:0}
.badge{padding:0 .4em;border-radius:3px;font-weight:bold}.green{background:#2e9e4f;color:#fff}
.yellow{background:#f2c318}.red{background:#d62d20;color:#fff}.black{background:#222;color:#fff}
.unknown{background:#999}
"""

class Section(NamedTuple):
    """One section of the HTML report: its anchor, its name in the navigation, its heading, its content."""
    anchor: str
    nav: str
    heading: str
    content: Callable[[Report], list[Markup]]


SECTIONS = (Section("overview", "Overview", "Overview", overview_section),
            Section("prices", "Prices", "Prices and volumes per MTU", prices_section),
            Section("loading", "Grid", "Feeder loading per session: as cleared, as settled, the oracle's verdict",
                    loading_section),
            Section("regimes", "Regimes", "Regime timeline per feeder", regimes_section),
            Section("settlement", "Settlement", "Settlement per participant", settlement_section),
            Section("sessions", "Sessions", "Sessions", sessions_section),
            Section("events", "Event log", "Event log", events_section))


def render_section(part: Section, report: Report) -> str:
    return f'<section id="{part.anchor}"><h2>{esc(part.heading)}</h2>{"".join(part.content(report))}</section>'


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML document."""
    nav = "".join(f'<a href="#{part.anchor}">{esc(part.nav)}</a>' for part in SECTIONS)
    body = "".join(render_section(part, report) for part in SECTIONS)
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><title>{esc(report["title"])}</title>'
            f"<style>{STYLE}</style></head><body>"
            f"<header><h1>{esc(report['title'])}</h1><p>Scenario {esc(report['scenario'])}, chain "
            f"{esc(report['chain']['chain_id'])}, generated {esc(report['generated'])}.</p><nav>{nav}</nav></header>"
            f"<main>{body}</main><footer><p>FlexLedger demo report</p></footer></body></html>\n")


def write_report(report: Report, path: Path) -> Path:
    """Write the HTML report to ``path`` (creating its directory) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path
