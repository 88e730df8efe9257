"""What the market commands share: the market client, units on the command line, times.

Prices are typed in tokens per kWh (``0.25`` = 250 000 micro-units per kWh), energy in Wh,
power in W.  Times are UTC; an MTU is a quarter hour, numbered unix time // 900.
"""
from __future__ import annotations

import functools
from datetime import datetime, timezone

from cli.common import CliError, Context, format_amount, parse_amount
from market.client import MarketClient, MarketError

MTU_SECONDS = 900


def market(ctx: Context) -> MarketClient:
    return MarketClient(ctx.client)


def guarded(run):
    """A command whose market errors are shown like every other CLI error."""
    @functools.wraps(run)
    def wrapper(ctx: Context, args) -> None:
        try:
            run(ctx, args)
        except MarketError as exc:
            raise CliError(exc.message, exc.code) from None
    return wrapper


def parse_price(text: str) -> int:
    """Tokens per kWh ('0.25', '0') to micro-units per kWh."""
    if text.strip().strip("0") in ("", "."):
        return 0
    return parse_amount(text)


def format_price(micro: int | None) -> str:
    return "-" if micro is None else f"{format_amount(micro)}/kWh"


def parse_mtus(text: str) -> tuple[int, ...]:
    """MTU offsets in the session window: '0-3,6' -> (0, 1, 2, 3, 6)."""
    offsets: set[int] = set()
    try:
        for part in text.split(","):
            low, _, high = part.strip().partition("-")
            offsets.update(range(int(low), int(high or low) + 1))
    except ValueError:
        raise CliError(f"invalid MTU list {text!r}: use offsets like 0-3,6") from None
    return tuple(sorted(offsets))


def parse_start(text: str) -> int:
    """A UTC start time ('2026-01-02T06:00') to its MTU; it must be on a quarter hour."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(f"invalid time {text!r}: use YYYY-MM-DDTHH:MM (UTC)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    seconds = int(moment.timestamp())
    if seconds % MTU_SECONDS:
        raise CliError(f"{text} is not on a quarter hour: MTUs start at :00, :15, :30 and :45")
    return seconds // MTU_SECONDS


def format_time(unix: int) -> str:
    return datetime.fromtimestamp(unix, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_mtu(mtu: int) -> str:
    return datetime.fromtimestamp(mtu * MTU_SECONDS, timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def add_window_arguments(parser, default_mtus: int = 96) -> None:
    window = parser.add_mutually_exclusive_group(required=True)
    window.add_argument("--start", help="first MTU's UTC start, e.g. 2026-01-02T00:00")
    window.add_argument("--first-mtu", type=int, help="first MTU number (unix time // 900)")
    parser.add_argument("--mtus", type=int, default=default_mtus,
                        help=f"number of MTUs (default {default_mtus}: a day-ahead session)")


def add_phase_arguments(parser) -> None:
    for name in ("commit", "gate", "reveal", "settle"):
        parser.add_argument(f"--{name}-secs", type=int, help=f"length of the {name} phase in seconds "
                                                             "(default: the chain's)")


def window_and_phases(args) -> dict:
    """The spec fields every session type shares, from the window and phase options."""
    spec = {"first_mtu": args.first_mtu if args.first_mtu is not None else parse_start(args.start),
            "n_mtus": args.mtus}
    phases = {name: getattr(args, f"{name}_secs") for name in ("commit", "gate", "reveal", "settle")
              if getattr(args, f"{name}_secs") is not None}
    if phases:
        spec["phases"] = phases
    return spec
