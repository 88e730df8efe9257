"""The grid oracle process: follow the chain, validate every cleared session, attest, drive regimes.

It runs beside the DSO's node and talks to the chain only through the node's API, signing
with the oracle key (the genesis ``MarketConfig.oracle``, admitted with the ``dso`` role so
that it may open flexibility requests).  Each step (every ``poll_secs``, and only when the
head has moved) reads the sessions from the journal's watermark on and acts on every
session that names the oracle as its attestor:

- a flexibility request the oracle opened, in ``clearing``: it clears it;
- a session in ``grid_validation_pending``: its positions are validated (``validate``) on top
  of the feeder's other sessions already accepted for the same MTUs (``ChainView.background``);
  - **approved**: ``market.attest`` with the approved report;
  - **violated**, an energy session, its feeder GREEN, the flexibility policy on and a
    flexibility need (``flexneed``) whose window starts after the request's phases: the
    feeder goes **YELLOW** for the violated MTUs and the oracle posts a flexibility
    request; the session waits.  When the request is cleared, the energy positions plus
    the awarded flexibility are validated again: within limits, both sessions are attested
    approved and the feeder goes back to **GREEN**; otherwise the RED path below;
  - **violated** otherwise (or flexibility not enough): the feeder goes **RED**, the
    session is attested violated with the curtailment as the market will apply it to the
    trades (``applied.py``: in Wh, counterparties included, confirmed by a power flow of
    the trades it leaves), the devices whose positions it changes get direct-control
    setpoints, and, if those trades are within the limits (less the DSO's safety margin),
    the feeder goes back to **GREEN**; if not it stays RED for the DSO.
  Every regime change carries its reason and the input hash of the validation it rests on.
- other sessions: nothing (their attestation is on chain, or they are still trading).

Exactly once: before each transaction the oracle checks the chain (the session's
attestation, the feeder's regime and its attestation hash, an open flexibility request for
the same window), so a crash at any point and a restart never repeat an action; the
journal (``journal.py``) keeps the watermark and the episodes in progress.

While the node is unreachable the oracle logs it and retries; the chain does not wait for
the oracle (trades stay in ``grid_validation_pending``).
"""
from __future__ import annotations

import logging
import threading

from gridoracle.applied import applied_curtailment
from gridoracle.chainview import ChainView, merge
from gridoracle.config import OracleConfig, OracleHome
from gridoracle.feeder import load_feeder
from gridoracle.flexneed import FlexNeed, flex_need
from gridoracle.forecast import load_forecast
from gridoracle.journal import Journal
from gridoracle.snapshot import save_snapshot
from gridoracle.validate import GridValidator, PositionError, Verdict
from market import sources
from market.attestation import Report, build_report
from market.client import MarketClient, MarketError
from node.client import ClientError, NodeClient
from node.keys import KeyPair
from node.keystore import Keystore

log = logging.getLogger("flexledger.oracle")

DONE_PHASES = ("delivery", "settled")
WAITING_PHASES = ("commit", "gate_closure", "reveal", "clearing")
MAX_SETPOINTS = 500


def load_validator(home: OracleHome, config: OracleConfig) -> GridValidator:
    model = load_feeder(home.resolve(config.feeder))
    return GridValidator(model, load_forecast(model, home.resolve(config.forecast)), config.limits)


def _describe(violation) -> str:
    """One violation for people: ``line:Line R1-R2 at 130.4 % (20:00)``."""
    if violation.kind in ("line_loading", "trafo_loading"):
        value = f"{violation.value / 100:.1f} %"
    elif violation.kind == "nonconvergence":
        value = "no power-flow solution"
    else:
        value = f"{violation.value / 1e6:.3f} p.u."
    minute = (violation.mtu % 96) * 15
    return f"{violation.element} at {value} ({minute // 60:02d}:{minute % 60:02d})"


def _summary(verdict: Verdict, limit: int = 2) -> str:
    """The worst violation of the first ``limit`` elements, and how many more there are."""
    worst: dict[str, object] = {}
    for v in verdict.violations:
        beyond = abs(v.value - v.limit)
        if v.element not in worst or beyond > abs(worst[v.element].value - worst[v.element].limit):
            worst[v.element] = v
    shown = sorted(worst.values(), key=lambda v: -abs(v.value - v.limit) / max(v.limit, 1))[:limit]
    more = len(verdict.violations) - len(shown)
    return ", ".join(_describe(v) for v in shown) + (f" and {more} more violations" if more > 0 else "")


class Oracle:
    def __init__(self, home: OracleHome, config: OracleConfig, key: KeyPair, validator: GridValidator,
                 client: NodeClient | None = None):
        self.home, self.config, self.key, self.validator = home, config, key, validator
        self.market = MarketClient(client or NodeClient(config.node))
        self.view = ChainView(self.market, validator.model, config)
        self.journal: Journal | None = None
        self.actions = 0

    @classmethod
    def open(cls, home: OracleHome, password: str, ca_file: str | None = None) -> "Oracle":
        """``ca_file``: what an https:// node's certificate is checked against (None: $FLEXLEDGER_CA_FILE
        or the system's CAs)."""
        config = home.load_config()
        key = Keystore(home.keys).load(config.key, password)
        return cls(home, config, key, load_validator(home, config), NodeClient(config.node, ca_file=ca_file))

    @property
    def address(self) -> str:
        return self.key.address

    # -- the loop -------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        log.info("grid oracle %s following %s (model %s, poll %.1f s)", self.address, self.config.node,
                 self.validator.model.name, self.config.poll_secs)
        seen, unreachable = -1, False
        while not stop.is_set():
            try:
                head = self.market.node.status()["height"]
                if unreachable:
                    log.info("node %s reachable again at height %d", self.config.node, head)
                    unreachable = False
                if head != seen:
                    self.step(head)
                    seen = head
            except MarketError:
                pass  # logged where it was refused; tried again at the next block
            except (ClientError, OSError) as exc:
                if not unreachable:
                    log.warning("node %s unreachable (%s); retrying", self.config.node, exc)
                unreachable = True
            stop.wait(self.config.poll_secs)

    def _journal(self) -> Journal:
        if self.journal is None:
            chain_id = self.market.node.status()["chain_id"]
            oracle = self.market.query(sources.GRID, "oracle")
            if oracle != self.address:
                log.warning("this chain's grid oracle key is %s, not %s: its sessions will not name this oracle",
                            oracle, self.address)
            self.journal = Journal.open(self.home.state_file, chain_id, self.address)
        return self.journal

    def step(self, head: int | None = None) -> None:
        """Act on every session from the watermark on (see the module docstring)."""
        journal = self._journal()
        head = self.market.node.status()["height"] if head is None else head
        sessions = self.market.pages(sources.MARKET, "sessions", cursor="id", start=journal.watermark - 1)
        lowest_open = None
        for session in sessions:
            if session["attestor"] == self.address and not self._handle(session) and lowest_open is None:
                lowest_open = session["id"]
        journal.watermark = lowest_open or (sessions[-1]["id"] + 1 if sessions else journal.watermark)
        journal.height = head
        journal.save()

    def _handle(self, session: dict) -> bool:
        """Act on one session; True when it needs nothing more from the oracle."""
        sid, phase = session["id"], session["phase"]
        episode = self._journal().episodes.get(str(sid))
        if episode is not None and episode["stage"] == "red":
            self._finish_red(session, episode)
            return True
        if phase in DONE_PHASES:
            if episode is not None:  # attested before a crash: finish the episode (GREEN), then forget it
                return self._continue_episode(session, episode)
            self._forget(sid)
            return True
        if phase == "clearing" and session["operator"] == self.address:
            self._send(sources.MARKET, "clear", sid)
            log.info("cleared flexibility request %d", sid)
            return False
        if phase != "grid_validation_pending" or self._episode_of_flex(sid):
            return False
        try:
            if episode is not None:
                return self._continue_episode(session, episode)
            if self._attested_on_chain(session):
                self._forget(sid)
                return True
            return self._validate(session)
        except PositionError as exc:
            if self._journal().errors.get(str(sid)) != str(exc):
                log.error("session %d cannot be validated: %s", sid, exc)
                self._journal().errors[str(sid)] = str(exc)
            return False

    def _forget(self, sid: int) -> None:
        """A session the oracle is done with: no episode and no error kept for it."""
        journal = self._journal()
        had_episode = journal.episodes.pop(str(sid), None) is not None
        had_error = journal.errors.pop(str(sid), None) is not None
        if had_episode or had_error:
            journal.save()

    def _episode_of_flex(self, sid: int) -> bool:
        return any(e.get("flex") == sid for e in self._journal().episodes.values())  # RED plans have none

    # -- validation -----------------------------------------------------------------------
    def _validate(self, session: dict) -> bool:
        background = self.view.background(session, {session["id"]})
        verdict = self._verdict(session, self.view.positions(session), "cleared", background)
        if verdict.approved:
            self._attest(session, verdict)
            return True
        need = self._flex_need(session, verdict)
        if need is None:
            self._red(session, verdict, f"session {session['id']}: {_summary(verdict)}", background)
            return True
        self._start_episode(session, verdict, need)
        return False

    def _verdict(self, session: dict, positions, stage: str, background) -> Verdict:
        """Validate ``positions`` over the session's MTUs on top of the ``background``."""
        verdict = self.validator.validate(positions, self.view.mtus(session), background)
        save_snapshot(self.home.latest_file, self.validator, verdict, session, stage)
        log.info("session %d (%s, feeder %s, %s): %s%s", session["id"], session["kind"], session["feeder"], stage,
                 "approved" if verdict.approved else "violated: ", "" if verdict.approved else _summary(verdict))
        return verdict

    def _flex_need(self, session: dict, verdict: Verdict) -> FlexNeed | None:
        policy = self.config.flexibility
        if session["kind"] != "energy" or not policy.enabled:
            return None
        regime = self._regime(session["feeder"])
        started = regime["state"] == "YELLOW" and regime["attestation"] == verdict.input_hash  # before a crash
        if regime["state"] != "GREEN" and not started:
            return None
        need = flex_need(self.validator, verdict, policy.margin_pct)
        if need is None:
            return None
        chain_time = self.market.node.status()["head_time_ms"] // 1000
        ready = chain_time + policy.commit_secs + policy.gate_secs + policy.reveal_secs
        return need if need.first_mtu * 900 >= ready else None

    # -- flexibility episodes -------------------------------------------------------------
    def _start_episode(self, session: dict, verdict: Verdict, need: FlexNeed) -> None:
        feeder, sid = session["feeder"], session["id"]
        violated = sorted({v.mtu for v in verdict.violations})
        self._set_regime(feeder, "YELLOW", violated, f"session {sid}: {_summary(verdict)}", verdict.input_hash)
        flex = self._find_flex_request(session, need) or self._request_flex(session, need)
        self._journal().episodes[str(sid)] = {"feeder": feeder, "flex": flex, "input_hash": verdict.input_hash,
                                              "mtus": violated, "stage": "flexibility requested"}
        self._journal().save()

    def _flex_spec(self, session: dict, need: FlexNeed) -> dict:
        policy = self.config.flexibility
        return {"feeder": session["feeder"], "buses": sorted(self.view.chain_bus(b) for b in need.buses),
                "direction": need.direction, "power": need.power_w, "first_mtu": need.first_mtu,
                "n_mtus": need.n_mtus, "max_price": policy.max_price, "attestor": self.address,
                "phases": {"commit": policy.commit_secs, "gate": policy.gate_secs, "reveal": policy.reveal_secs,
                           "settle": policy.settle_secs}}

    def _find_flex_request(self, session: dict, need: FlexNeed) -> int | None:
        """A request this oracle already opened for the same window (after a crash)."""
        spec = self._flex_spec(session, need)
        for other in self.market.pages(sources.MARKET, "sessions", cursor="id", start=session["id"]):
            if (other["kind"] == "flex" and other["operator"] == self.address and other["feeder"] == spec["feeder"]
                    and other["first_mtu"] == spec["first_mtu"] and other["n_mtus"] == spec["n_mtus"]
                    and not self._episode_of_flex(other["id"])):
                return other["id"]
        return None

    def _request_flex(self, session: dict, need: FlexNeed) -> int:
        spec = self._flex_spec(session, need)
        escrow = self.market.query(sources.MARKET, "flex_escrow", spec["power"], spec["max_price"], spec["n_mtus"])
        self.market.ensure_allowance(self.key, escrow)
        receipt = self._send(sources.MARKET, "request_flex", spec)
        log.info("flexibility request %d: %s %d W on feeder %s, MTUs %d-%d, buses %s", receipt["result"],
                 need.direction, need.power_w, spec["feeder"], need.first_mtu, need.first_mtu + need.n_mtus - 1,
                 ",".join(spec["buses"]) or "all")
        return receipt["result"]

    def _continue_episode(self, session: dict, episode: dict) -> bool:
        flex = self.market.session(episode["flex"])
        if flex["phase"] not in ("grid_validation_pending", *DONE_PHASES):
            return False
        awarded = self.view.positions(flex)
        positions = merge(self.view.positions(session) + awarded, self.view.mtus(session))
        background = self.view.background(session, {session["id"], flex["id"]})
        verdict = self._verdict(session, positions, "with flexibility", background)
        self._attest_flex(flex, positions, {session["id"], flex["id"]})
        if not verdict.approved:
            self._red(session, verdict, f"flexibility request {flex['id']} is not enough for session "
                                        f"{session['id']}: {_summary(verdict)}", merge(background + awarded))
            return True
        self._attest(session, verdict)
        self._set_regime(session["feeder"], "GREEN", [], f"flexibility request {flex['id']} resolves "
                         f"session {session['id']}", verdict.input_hash)
        del self._journal().episodes[str(session["id"])]
        self._journal().save()
        return True

    def _attest_flex(self, flex: dict, positions, exclude: set[int]) -> None:
        if self._attested_on_chain(flex):
            return
        mtus = self.view.mtus(flex)
        self._attest(flex, self.validator.validate(merge(positions, mtus), mtus, self.view.background(flex, exclude)))

    # -- RED ------------------------------------------------------------------------------
    def _red(self, session: dict, verdict: Verdict, reason: str, background) -> None:
        """Record the whole RED path in the journal first, then carry it out (``_finish_red``).

        ``background``: what is not curtailed (the other sessions, the awarded flexibility)."""
        curtailment, setpoints, resolves = (), [], False
        if session["kind"] == "energy" and verdict.curtailment:
            applied = applied_curtailment(self.validator, self.view.trades(session), verdict.curtailment,
                                          verdict.mtus, background)
            curtailment, resolves = [c.to_value() for c in applied.curtailment], applied.resolves
            setpoints = [[device, mtu, 4 * wh] for (mtu, device), wh in sorted(applied.kept_wh.items())
                         if self.view.device(device)["feeder"] == session["feeder"]]
        report = self._report(session, verdict, curtailment)
        episode = {"stage": "red", "feeder": session["feeder"], "reason": reason, "input_hash": verdict.input_hash,
                   "report": report.to_value(), "setpoints": setpoints,
                   "green": bool(report.curtailment) and resolves}
        self._journal().episodes[str(session["id"])] = episode
        self._journal().save()
        self._finish_red(session, episode)

    def _finish_red(self, session: dict, episode: dict) -> None:
        feeder, input_hash = episode["feeder"], episode["input_hash"]
        current = self._regime(feeder)
        if not (current["state"] == "GREEN" and current["attestation"] == input_hash):  # else done before a crash
            self._set_regime(feeder, "RED", [], episode["reason"], input_hash)
            if not self._attested_on_chain(session):
                self._send_report(session, Report.from_value(episode["report"]))
            self._setpoints(feeder, episode["setpoints"])
            if episode["green"]:
                self._set_regime(feeder, "GREEN", [], f"curtailment of session {session['id']} applied: "
                                 "within limits", input_hash)
            else:
                log.warning("feeder %s stays RED: curtailing session %d does not resolve every violation; "
                            "the DSO must act", feeder, session["id"])
        del self._journal().episodes[str(session["id"])]
        self._journal().save()

    def _setpoints(self, feeder: str, setpoints: list[list]) -> None:
        rows = [row for row in setpoints
                if (self.market.query(sources.GRID, "setpoint", row[0], row[1]) or {}).get("watts") != row[2]]
        for start in range(0, len(rows), MAX_SETPOINTS):
            self._send(sources.GRID, "set_setpoints", feeder, rows[start:start + MAX_SETPOINTS])
        if rows:
            log.info("direct control: %d setpoints on feeder %s", len(rows), feeder)

    # -- transactions (each checked on chain first) ---------------------------------------
    def _regime(self, feeder: str) -> dict:
        return self.market.query(sources.GRID, "regime", feeder)

    def _set_regime(self, feeder: str, state: str, mtus: list[int], reason: str, attestation: str) -> None:
        current = self._regime(feeder)
        if current["state"] == state and current["attestation"] == attestation:
            return
        self._send(sources.GRID, "set_regime", feeder, state, mtus, reason[:200], attestation)
        log.info("feeder %s: %s -> %s (%s)", feeder, current["state"], state, reason)

    def _attested_on_chain(self, session: dict) -> bool:
        record = self.market.query(sources.MARKET, "attestation", session["id"])
        if record is None:
            return False
        self._journal().attested.setdefault(str(session["id"]), {
            "verdict": record["report"]["verdict"], "input_hash": record["report"]["input_hash"],
            "height": record["height"], "violations": len(record["report"]["violations"])})
        return True

    def _report(self, session: dict, verdict: Verdict, curtailment=()) -> Report:
        """The report of a verdict's violations and of ``curtailment`` ([mtu, device, wh] rows)."""
        return build_report(session, verdict.input_hash, [(v.element, v.value, v.limit, v.mtu)
                                                          for v in verdict.violations], curtailment)

    def _attest(self, session: dict, verdict: Verdict) -> None:
        if not self._attested_on_chain(session):
            self._send_report(session, self._report(session, verdict))

    def _send_report(self, session: dict, report: Report) -> None:
        receipt = self._send(sources.MARKET, "attest", session["id"], report.to_value())
        self._journal().attested[str(session["id"])] = {
            "verdict": report.verdict, "input_hash": report.input_hash, "height": receipt["height"],
            "violations": len(report.violations), "curtailed_wh": sum(c.wh for c in report.curtailment)}
        self._journal().save()
        log.info("attested session %d: %s (%d violations, %d Wh curtailed)", session["id"], report.verdict,
                 len(report.violations), sum(c.wh for c in report.curtailment))

    def _send(self, contract: str, function: str, *args) -> dict:
        try:
            receipt = self.market.send(self.key, contract, function, *args)
        except MarketError as exc:
            log.error("%s.%s refused: %s", contract, function, exc)
            raise
        self.actions += 1
        return receipt


def run_forever(home: OracleHome, password: str) -> None:
    """``flexledger oracle start``: run until SIGTERM or Ctrl-C."""
    oracle = Oracle.open(home, password)
    stop = threading.Event()
    try:
        oracle.run(stop)
    except KeyboardInterrupt:
        stop.set()
    log.info("grid oracle stopped after %d transactions", oracle.actions)

