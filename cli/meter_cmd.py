"""`flexledger meter submit`: the meter data manager signs metered energy and puts it on-chain."""
from __future__ import annotations

import csv
from pathlib import Path

from cli.common import CliError, Context
from cli.market_common import guarded, market
from market import meterdata, sources


def register(sub) -> None:
    group = sub.add_parser("meter", help="signed meter data").add_subparsers(dest="action", required=True)
    submit = group.add_parser("submit", help="sign readings with the meter data manager's key and submit them")
    submit.add_argument("--key", required=True, help="the meter data manager's key (signs and pays)")
    submit.add_argument("--reading", action="append", default=[], metavar="DEVICE,MTU,WH",
                        help="Wh the device imported in the MTU (negative: exported); repeat")
    submit.add_argument("--file", type=Path, help="CSV file of device,mtu,wh lines")
    submit.set_defaults(run=guarded(submit_readings))


def _parse(text: str, where: str) -> meterdata.Reading:
    parts = [p.strip() for p in text.split(",")]
    try:
        device, mtu, wh = parts
        return device, int(mtu), int(wh)
    except ValueError:
        raise CliError(f"invalid reading {text!r} ({where}): use DEVICE,MTU,WH with integer MTU and Wh") from None


def submit_readings(ctx: Context, args) -> None:
    readings = [_parse(r, "--reading") for r in args.reading]
    if args.file:
        try:
            rows = list(csv.reader(args.file.read_text().splitlines()))
        except OSError as exc:
            raise CliError(f"cannot read {args.file}: {exc.strerror}") from None
        readings += [_parse(",".join(row), f"{args.file} line {n}") for n, row in enumerate(rows, 1) if row]
    if not readings:
        raise CliError("no readings: give --reading or --file")
    client = market(ctx)
    key = ctx.unlock(args.key)
    meter = client.address(sources.METER)
    for batch in meterdata.batches(readings):
        receipt = client.send(key, sources.METER, "submit", key.address, [list(r) for r in batch],
                              meterdata.sign(key, meter, batch))
        print(f"recorded {receipt['result']} readings in block {receipt['height']}")
