"""`flexledger demo`: a day of a local energy market on a real feeder, end to end (testnet/demo.py)."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from cli.common import CliError, Context


def register(sub) -> None:
    demo = sub.add_parser("demo", help="run a day of a local market on a local testnet and write a report")
    demo.add_argument("--scenario", type=Path, help="scenario file (TOML; default: the built-in CIGRE LV day, "
                                                    "testnet/scenarios/cigre_lv_day.toml)")
    demo.add_argument("--dir", type=Path, help="testnet directory (default: a temporary one, removed at the end)")
    demo.add_argument("--report", type=Path, default=Path("demo-report.html"),
                      help="the HTML report (default: demo-report.html); the figures also go to the same "
                           "name with .json")
    demo.add_argument("--keep", action="store_true", help="leave the testnet running at the end (needs --dir)")
    demo.set_defaults(run=run_demo)


def run_demo(ctx: Context, args) -> None:
    from market.client import MarketError
    from testnet.demo import Demo, DemoError
    from testnet.demoreport import build_report
    from testnet.report import render_text, write_report
    from testnet.scenario import ScenarioError, load_scenario

    if args.keep and args.dir is None:
        raise CliError("--keep needs --dir (a temporary testnet is removed at the end)")
    if args.dir is not None and (args.dir / "testnet.json").exists():
        raise CliError(f"{args.dir} already holds a testnet; choose an empty directory")
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        raise CliError(str(exc)) from None
    directory = args.dir or Path(tempfile.mkdtemp(prefix="flexledger-demo-"))
    demo = Demo(scenario, directory, say=lambda text: print(text, flush=True))
    try:
        demo.play()
        report = build_report(demo)
    except (DemoError, MarketError) as exc:
        raise CliError(f"the demo stopped: {exc}") from None
    finally:
        if not args.keep:
            demo.stop()
            if args.dir is None:
                shutil.rmtree(directory, ignore_errors=True)
    print()
    print(render_text(report))
    path = write_report(report, args.report)
    path.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nreport: {path.resolve()} (figures: {path.with_suffix('.json')})")
    if args.keep:
        print(f"the testnet keeps running in {directory}: flexledger testnet status --dir {directory}; "
              f"wallet keys (issuer, dso, mdm, aggregators): --home {directory / 'wallet'}")
