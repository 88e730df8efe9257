"""`flexledger demo`: a day of a local energy market on a real feeder, end to end, on a local testnet.

1. A testnet of the DSO's and the aggregators' validators and the DSO's grid oracle, each an
   OS process on 127.0.0.1 (``testnet/``), in ``<dir>``.
2. The token issuer funds everyone; the registry authority admits the DSO, the meter data
   manager, the aggregators and the scenario's prosumers; the DSO publishes its grid (the
   oracle's feeder model: feeders, buses, connection limits); prosumers register their
   devices (storage under its aggregator) and approve the market.
3. The scenario's energy sessions, in waves (sessions on different feeders together): the
   DSO opens them with the oracle as attestor; prosumers commit sealed orders derived from
   their profiles and reveal them; the DSO clears.  The oracle validates each cleared
   session with power flow.  When it posts a flexibility request, the aggregators offer
   their storage on the requested buses (the session's ``flexibility`` share of the request).
   The demo waits until every session is attested.  One validator is killed during the
   first wave and restarted after it.
4. The meter data manager submits signed readings (traded energy +- noise; flexibility
   delivered as awarded) and the DSO settles every session.
5. The report (``demoreport.py``): terminal summary, ``report.html`` and ``report.json``.
"""
from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gridoracle.config import FlexPolicy, OracleHome
from gridoracle.feeder import load_feeder
from gridoracle.publication import grid_rows, publication_pages
from market import meterdata, sources
from market.attestation import positions
from market.client import MarketClient, gas_for
from market.orders import Order, commitment, new_salt
from market.token import TOKEN_NAME
from node.client import NodeClient
from node.keys import KeyPair
from node.keystore import Keystore
from testnet.demoplan import Device, cast, session_orders
from testnet.layout import generate, testnet_password
from testnet.manager import Testnet
from testnet.scenario import Scenario, SessionSpec
from testnet.txbatch import Call, Latencies, send_all

TOKENS = 10**6
PROSUMER_FUNDS = 5_000 * TOKENS
ROLE_FUNDS = 1_000_000 * TOKENS
ALLOWANCE = 10**15
PHASES = {"commit": 12, "gate": 1, "reveal": 10, "settle": 3600}
FLEXIBILITY = FlexPolicy(commit_secs=10, gate_secs=1, reveal_secs=10, settle_secs=3600)
WAIT = 180.0
METER_LEAD = 3 * 86400  # the day is played in minutes: meter data for the market day is accepted before it ends


class DemoError(Exception):
    """The demo could not go on; the message says where."""


@dataclass
class Run:
    """What happened, for the report: the chain's figures are read back from the API."""

    started: float = field(default_factory=time.monotonic)
    first_height: int = 0
    sessions: dict[int, str] = field(default_factory=dict)  # session id -> name
    energy: list[int] = field(default_factory=list)
    flex: dict[int, int] = field(default_factory=dict)  # flexibility request -> energy session
    balances_before: dict[str, int] = field(default_factory=dict)
    restarts: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    latencies: Latencies = field(default_factory=Latencies)


class Demo:
    def __init__(self, scenario: Scenario, directory: Path, say=print):
        self.scenario, self.directory, self._say = scenario, Path(directory), say
        self.run = Run()
        self.people = cast(scenario)
        self.keys = {name: KeyPair.generate() for name in
                     ["dso", "mdm", *scenario.aggregators, *(p.name for p in self.people)]}
        self.devices: dict[str, Device] = {d.id: d for p in self.people for d in p.devices}
        self.net: Testnet | None = None

    def say(self, text: str) -> None:
        self.run.events.append({"time": round(time.monotonic() - self.run.started, 1), "text": text})
        self._say(f"[{time.monotonic() - self.run.started:6.1f} s] {text}")

    # -- the chain -------------------------------------------------------------------------
    def start_chain(self) -> None:
        s = self.scenario
        self.say(f"starting {s.validators} validators (DSO + {s.validators - 1} aggregators) and the grid oracle, "
                 f"each its own process on 127.0.0.1, in {self.directory}")
        self.net = Testnet(generate(self.directory, s.validators, flexibility=FLEXIBILITY, feeder=s.feeder,
                                    forecast=s.forecast, meter_lead=METER_LEAD))
        self.net.up(timeout=90)
        self.clients = [NodeClient(n.api_url, timeout=60) for n in self.net.layout.nodes]
        self.market = MarketClient(self.clients[0])
        self.issuer = Keystore(self.net.layout.wallet / "keys").load("issuer", testnet_password())
        self.oracle = self.market.query(sources.GRID, "oracle")
        for name in ("dso", "mdm", *s.aggregators):  # for the CLI after the demo (--keep)
            Keystore(self.net.layout.wallet / "keys").create(name, testnet_password(), self.keys[name])
        self.run.first_height = self.market.node.status()["height"]

    def send(self, jobs: list[tuple[KeyPair, list[Call]]]) -> list[list[dict]]:
        """Send the jobs, spread over the nodes that are up (the restarted validator may be down)."""
        up = [c for c, node in zip(self.clients, self.net.layout.nodes) if self.net.pid(node.name)]
        return send_all(lambda n: up[n % len(up)], jobs, self.run.latencies, timeout=WAIT)

    def call(self, contract: str, function: str, *args) -> Call:
        return Call(self.market.address(contract), function, list(args), gas_for(contract, function))

    # -- participants ----------------------------------------------------------------------
    def enrol(self) -> None:
        roles = {"dso": ["dso"], "mdm": ["meter_data_manager"], **{a: ["aggregator"] for a in self.scenario.aggregators}}
        funding = [self.call(TOKEN_NAME, "transfer", key.address, ROLE_FUNDS if name in roles else PROSUMER_FUNDS)
                   for name, key in self.keys.items()]
        admits = [self.call(sources.REGISTRY, "admit", key.address, name, roles.get(name, ["prosumer"]),
                            key.public_key.hex()) for name, key in self.keys.items()]
        self.send([(self.issuer, funding + admits)])
        self.say(f"funded and admitted {len(self.keys)} participants: the DSO, the meter data manager, "
                 f"{len(self.scenario.aggregators)} aggregators and {len(self.people)} prosumers")
        self.publish_grid()
        jobs = [(self.keys[name], [self.call(TOKEN_NAME, "approve", self.market.address(sources.MARKET), ALLOWANCE)])
                for name in ("dso", *self.scenario.aggregators)]
        for person in self.people:
            calls = [self.call(sources.REGISTRY, "register_device", {
                "id": d.id, "type": d.spec.type, "max_power": d.spec.max_power, "min_power": 0,
                "capacity": d.spec.capacity, "bus": d.bus, "feeder": d.feeder,
                "aggregator": d.aggregator and self.keys[d.aggregator].address}) for d in person.devices]
            calls.append(self.call(TOKEN_NAME, "approve", self.market.address(sources.MARKET), ALLOWANCE))
            jobs.append((self.keys[person.name], calls))
        self.send(jobs)
        kinds = sorted({d.spec.type.replace("_", " ") for d in self.devices.values()})
        self.say(f"registered {len(self.devices)} devices ({', '.join(kinds)}) at the feeder's buses")
        self.run.balances_before = {name: self.balance(key.address) for name, key in self.keys.items()}

    def publish_grid(self) -> None:
        """The DSO publishes the oracle's feeder model, so that the registry checks every device."""
        home = OracleHome(Path(self.net.layout.oracle))
        config = home.load_config()
        rows = grid_rows(load_feeder(home.resolve(config.feeder)), config)
        self.send([(self.keys["dso"], [self.call(sources.GRID, "publish_buses", feeder, page)
                                       for feeder, page in publication_pages(rows)])])
        self.say(f"the DSO published its grid: {len(rows)} feeders, {sum(map(len, rows.values()))} buses "
                 f"with their connection limits")

    def balance(self, address: str) -> int:
        return self.market.query(TOKEN_NAME, "balance_of", address)

    # -- sealed orders ---------------------------------------------------------------------
    def sealed_round(self, orders: dict[tuple[str, int], list[Order]]) -> None:
        """Commit every (trader, session)'s orders, wait for the reveal phase, reveal them."""
        market = self.market.address(sources.MARKET)
        salts = {key: [new_salt() for _ in found] for key, found in orders.items()}
        flat = [(trader, sid, order) for (trader, sid), found in orders.items() for order in found]
        with ThreadPoolExecutor(max_workers=16) as pool:  # the contract's own check of each order
            deposits = iter(list(pool.map(lambda t: self.market.needed_deposit(self.keys[t[0]], t[1], t[2]), flat)))
        jobs = []
        for (trader, sid), found in orders.items():
            key = self.keys[trader]
            jobs.append((key, [self.call(sources.MARKET, "commit", sid,
                                         commitment(market, sid, key.address, order, salt), next(deposits))
                               for order, salt in zip(found, salts[(trader, sid)])]))
        receipts = self.send(jobs)
        sessions = sorted({sid for _trader, sid in orders})
        for sid in sessions:
            self.market.wait_for_phase(sid, ("reveal",), timeout=WAIT, poll=0.2)
        reveals = []
        for ((trader, sid), found), done in zip(orders.items(), receipts):
            reveals.append((self.keys[trader], [self.call(sources.MARKET, "reveal", sid, r["result"], o.to_value(), salt)
                                                for o, salt, r in zip(found, salts[(trader, sid)], done)]))
        self.send(reveals)

    # -- energy sessions -------------------------------------------------------------------
    def waves(self) -> list[list[SessionSpec]]:
        waves: list[list[SessionSpec]] = []
        for session in self.scenario.sessions:
            if waves and session.feeder not in {s.feeder for s in waves[-1]}:
                waves[-1].append(session)
            else:
                waves.append([session])
        return waves

    def market_day_mtu(self) -> int:
        now = self.market.node.status()["head_time_ms"] // 1000
        return (now // 86400 + self.scenario.day) * 96

    def open_sessions(self, wave: list[SessionSpec]) -> dict[int, SessionSpec]:
        day = self.market_day_mtu()
        specs = [{"feeder": s.feeder, "first_mtu": day + s.start_mtu, "n_mtus": s.mtus,
                  "max_price": int(s.max_price * TOKENS), "max_qty": self.max_qty(s), "phases": PHASES,
                  "attestor": self.oracle} for s in wave]
        [receipts] = self.send([(self.keys["dso"], [self.call(sources.MARKET, "open_energy", spec) for spec in specs])])
        opened = {r["result"]: s for r, s in zip(receipts, wave)}
        for sid, s in opened.items():
            self.run.sessions[sid] = s.name
            self.run.energy.append(sid)
        self.say("the DSO opened " + ", ".join(f"session {sid} ({s.name}, feeder {s.feeder}, {s.mtus} MTUs from "
                                              f"{s.start_mtu // 4:02d}:{s.start_mtu % 4 * 15:02d})"
                                              for sid, s in opened.items()))
        return opened

    def max_qty(self, session: SessionSpec) -> int:
        return max((o.qty for found in session_orders(self.scenario, self.people, session).values() for o in found),
                   default=1)

    def trade(self, opened: dict[int, SessionSpec]) -> None:
        orders = {(name, sid): found for sid, s in opened.items()
                  for name, found in session_orders(self.scenario, self.people, s).items()}
        for sid, s in opened.items():
            if not any(session == sid for _name, session in orders):
                raise DemoError(f"session {s.name!r} has no orders: no profile of its groups is above zero "
                                f"in its window")
        self.sealed_round(orders)
        self.say(f"{sum(len(o) for o in orders.values())} sealed orders committed and revealed by "
                 f"{len({name for name, _ in orders})} prosumers")
        for sid in opened:
            self.market.wait_for_phase(sid, ("clearing",), timeout=WAIT, poll=0.2)
        self.send([(self.keys["dso"], [self.call(sources.MARKET, "clear", sid) for sid in opened])])
        for sid in opened:
            volume = sum(row[4] for row in self.market.query(sources.MARKET, "results", sid))
            self.say(f"session {sid} cleared: {volume / 1000:.1f} kWh traded; waiting for the grid oracle")

    def settle_grid(self, opened: dict[int, SessionSpec]) -> None:
        """Answer the oracle's flexibility requests until every session of the wave is attested."""
        deadline = time.monotonic() + WAIT
        waiting = set(opened)
        seen_regimes = {s.feeder: self.market.query(sources.GRID, "regime", s.feeder)["seq"] for s in opened.values()}
        while waiting:
            if time.monotonic() > deadline or not self.net.pid("oracle"):
                raise DemoError(f"sessions {sorted(waiting)} were not attested"
                                + (f" within {WAIT:g} s" if self.net.pid("oracle") else ": the grid oracle stopped")
                                + f" (see {self.net.process('oracle').log_file})")
            for feeder in seen_regimes:
                seen_regimes[feeder] = self.report_regimes(feeder, seen_regimes[feeder])
            for session in self.market.pages(sources.MARKET, "sessions", cursor="id", start=max(self.run.sessions)):
                if session["kind"] == "flex" and session["operator"] == self.oracle and session["id"] not in self.run.flex:
                    self.answer_flex(session, opened)
            for sid in list(waiting):
                record = self.market.query(sources.MARKET, "attestation", sid)
                if record is not None:
                    report = record["report"]
                    self.say(f"the oracle attested session {sid}: {report['verdict']}"
                             + (f", {len(report['violations'])} violations, {len(record['changes'])} trades curtailed"
                                if report["verdict"] == "violated" else ""))
                    waiting.discard(sid)
            time.sleep(0.5)
        for feeder in seen_regimes:
            self.report_regimes(feeder, seen_regimes[feeder])

    def report_regimes(self, feeder: str, seen: int) -> int:
        for change in self.market.query(sources.GRID, "history", feeder, seen, 100):
            self.say(f"feeder {feeder} is {change['state']}: {change['reason']}")
            seen = change["seq"]
        return seen

    def answer_flex(self, request: dict, opened: dict[int, SessionSpec]) -> None:
        """The aggregators offer their storage on the requested buses (the session's share)."""
        sid = request["id"]
        self.run.sessions[sid] = f"flexibility for {request['feeder']}"
        spec = next(s for s in opened.values() if s.feeder == request["feeder"])
        self.run.flex[sid] = next(e for e, s in opened.items() if s.feeder == request["feeder"])
        wanted = int(spec.flexibility * request["power"])
        self.say(f"the oracle requests {request['power'] / 1000:.1f} kW {request['direction']} on feeder "
                 f"{request['feeder']} (request {sid}, {request['n_mtus']} MTUs); aggregators offer "
                 f"{wanted / 1000:.1f} kW")
        offers: dict[tuple[str, int], list[Order]] = {}
        candidates = [d for d in self.devices.values() if d.aggregator and d.feeder == request["feeder"]
                      and (not request["buses"] or d.bus in request["buses"])]
        for device in sorted(candidates, key=lambda d: (self.scenario.aggregators[d.aggregator], d.id)):
            if wanted <= 0:
                break
            qty = min(device.spec.max_power, wanted)
            price = int(self.scenario.aggregators[device.aggregator] * TOKENS)
            offers.setdefault((device.aggregator, sid), []).append(Order("offer", device.id, price, qty, 1, (), 0))
            wanted -= qty
        if offers:
            self.sealed_round(offers)

    # -- faults ----------------------------------------------------------------------------
    def kill(self, name: str) -> float:
        self.net.kill(name)
        self.say(f"killed validator {name} (kill -9); the other {self.scenario.validators - 1} keep finalizing")
        return time.monotonic()

    def restart(self, name: str, killed_at: float) -> None:
        self.net.start(name)
        head = self.market.node.status()["height"]
        self.net.wait_for_height(head, timeout=60, names=[name])
        down = time.monotonic() - killed_at
        self.run.restarts.append({"node": name, "down_s": round(down, 1), "caught_up_height": head})
        self.say(f"restarted validator {name} after {down:.0f} s down; it caught up to height {head}")

    # -- meter data and settlement ---------------------------------------------------------
    def readings(self) -> list[meterdata.Reading]:
        rng = random.Random(f"{self.scenario.seed}:meter")
        noise = self.scenario.noise_pct / 100
        readings: dict[tuple[str, int], int] = {}
        for sid in self.run.energy:  # a device that follows its position meters it
            traded = positions(self.market.rows(sid, "results"), self.market.devices_by_seq(sid),
                               self.market.session(sid)["first_mtu"])
            for (mtu, device), wh in traded.items():
                readings[(device, mtu)] = readings.get((device, mtu), 0) + wh
        for sid in self.run.flex:  # a battery delivers what was awarded: less drawn than its 0 Wh baseline
            session = self.market.session(sid)
            devices = self.market.devices_by_seq(sid)
            for seq, qty in self.market.rows(sid, "results"):
                for k in range(session["n_mtus"]):
                    key = (devices[seq], session["first_mtu"] + k)
                    readings[key] = readings.get(key, 0) - qty // 4
        return [(device, mtu, round(wh * (1 + rng.uniform(-noise, noise))))
                for (device, mtu), wh in sorted(readings.items())]

    def meter_and_settle(self) -> None:
        readings = self.readings()
        meter = self.market.address(sources.METER)
        mdm = self.keys["mdm"]
        self.send([(mdm, [self.call(sources.METER, "submit", mdm.address, [list(r) for r in batch],
                                    meterdata.sign(mdm, meter, batch))
                          for batch in meterdata.batches(readings)])])
        self.say(f"the meter data manager submitted {len(readings)} signed readings")
        sessions = sorted(self.run.sessions)
        self.send([(self.keys["dso"], [self.call(sources.MARKET, "settle", sid) for sid in sessions])])
        self.say(f"settled {len(sessions)} sessions against the meter data")

    # -- the whole day ---------------------------------------------------------------------
    def play(self) -> None:
        self.start_chain()
        self.enrol()
        restart = self.scenario.restart
        for n, wave in enumerate(self.waves()):
            opened = self.open_sessions(wave)
            killed_at = self.kill(restart) if restart and n == 0 else None
            self.trade(opened)
            self.settle_grid(opened)
            if killed_at is not None:
                self.restart(restart, killed_at)
        self.meter_and_settle()

    def stop(self) -> None:
        if self.net is not None:
            self.net.down()


def check_agreement(demo: Demo) -> int:
    """Every node's head at the same height has the same hash; returns that height."""
    heights = [c.status()["height"] for c in demo.clients]
    height = min(heights)
    hashes = {c.get(f"/block/{height}", txs="hashes")["hash"] for c in demo.clients}
    if len(hashes) != 1:
        raise DemoError(f"the nodes disagree at height {height}: {hashes}")
    return height

