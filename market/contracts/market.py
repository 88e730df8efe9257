"""FlexLedger market sessions (contract language): sealed orders, escrow, clearing, settlement.

A DSO opens a session: a local energy market (``open_energy``), a flexibility request
(``request_flex``, escrowing the most it may pay) or published feeder capacity
(``publish_capacity``).  Phases follow block time (chain.time, seconds):

    commit          [opened, gate)            commit(session, sha256 commitment, deposit)
    gate_closure    [gate, reveal)            nothing is accepted
    reveal          [reveal, reveal_end)      reveal(session, seq, order, salt)
    clearing        from reveal_end           anyone calls clear(session)
    grid_validation_pending                   only with an attestor (the genesis grid oracle key):
                                              attest(session, report), once
    delivery                                  awaiting meter data; anyone calls settle(session)
    settled                                   payouts made (release(session) for big ones)

The deposit is pulled into escrow with token.transfer_from (approve the market first).  A
commitment is sha256 of the canonical order text (``commitment_of``) followed by the 32
salt bytes; orders stay unreadable until revealed.  A commitment not (validly) revealed
by the end of the reveal phase forfeits its whole deposit to the session's operator (the
DSO that opened it).  Settlement pays every escrowed micro-unit back out: to traders,
to the operator, or as forfeits; the token supply never changes.

Clearing and settlement rules live in the stateless library contracts (energy_clearing,
flex_clearing, capacity_clearing, settlement); see docs/market.md.

Grid regimes (the grid contract, per feeder) gate the sessions: see _refusal and
docs/market.md, "Grid regimes and attestations".  GREEN: energy open, flexibility closed;
YELLOW: energy closed for the affected MTUs (checked at reveal; at commit only when every
MTU of the session is affected), flexibility open; RED: energy and flexibility closed,
override() of cleared trades; BLACK: opening, commit, reveal, clear, attest, override,
settle and release of the feeder's sessions are paused.  A commitment the regime refuses
may be withdrawn (deposit back) in the reveal phase.

init(config) runs at genesis: config {token, registry, grid, meter, energy_clearing,
flex_clearing, capacity_clearing, settlement (addresses), phases {commit, gate, reveal,
settle} (default seconds), max_orders (commitments per session), max_entries (revealed
order MTUs per session: bounds the gas of clear and settle)}.

Storage layout (<sid> = session id, 8 digits; <seq>, <n> zero-padded):
    "<contract name>"        addresses from the config; "phases", "max_orders"
    "sessions"               number of sessions opened
    "s:<sid>"                session record
    "n:<sid>"                number of commitments in the session
    "e:<sid>"                order MTUs revealed in the session (see _entries)
    "c:<sid>:<seq>"          commitment {seq, trader, commitment, deposit, order (None until revealed)}
    "y:<sid>"                clearing summary
    "r:<sid>:<n>"            clearing rows (chunks of ROWS_PER_ENTRY), by kind:
                             energy [mtu, bid_seq, offer_seq, qty, buyer_pays, seller_gets],
                             flex [seq, qty], capacity [mtu, seq, qty]
    "a:<sid>"                attestation {report, attestor, height, changes}
    "o:<sid>", "o:<sid>:<n>" number of RED overrides; override {reason, by, height, changes}
                             (changes: [mtu, bid_seq, offer_seq, old_qty, new_qty, old_pays,
                             new_pays, old_gets, new_gets])
    "l:<sid>:<n>"            settlement lines (see the settlement contract)
    "q:<sid>:<n>"            payouts [address, amount], by address
Grid validation: a session with an attestor waits in grid_validation_pending after
clearing until the oracle key attests; a violated report's curtailment reduces the energy
clearing rows in place (a row cut to 0 Wh stays, and settlement skips it).

Events: SessionOpened, Committed, Revealed, Withdrawn, Cleared, Attested, Overridden,
Settled, Released.
"""

ENERGY_RULES = ("uniform", "pay_as_bid")
CAPACITY_RULES = ("premium", "pro_rata", "fcfs")
DIRECTIONS = ("up", "down")
BUYING_TYPES = ("load", "storage", "ev_charger", "heat_pump")
SELLING_TYPES = ("generation", "storage")
ORDER_FIELDS = ("side", "device", "price", "qty", "min_qty", "mtus", "baseline")
CONTRACTS = ("token", "registry", "grid", "meter", "energy_clearing", "flex_clearing", "capacity_clearing", "settlement")
HEX_DIGITS = "0123456789abcdef"
ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789._-"
ORDER_DOMAIN = "flexledger-order-v1"
MAX_MTUS = 96
MAX_BUSES = 64
MAX_BASELINE_DAYS = 28
PAGE = 1000
ROWS_PER_ENTRY = 250
MAX_PAGE = 200
MAX_VIOLATIONS = 1000
MAX_CURTAILMENT = 8000
REPORT_FIELDS = ("session", "mtus", "input_hash", "verdict", "violations", "curtailment")


# -- small helpers ----------------------------------------------------------------------

def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(value):
    return isinstance(value, str) and 1 <= len(value) <= 64 and all([ch in ID_CHARS for ch in value])


def _is_hex(value, digits):
    return isinstance(value, str) and len(value) == digits and all([d in HEX_DIGITS for d in value])


def _is_address(value):
    return is_address(value)


def _int_of(value, what, low, high):
    if high is None:
        require(_is_int(value) and value >= low, what + " must be an int >= " + str(low))
    else:
        require(_is_int(value) and low <= value <= high,
                what + " must be an int between " + str(low) + " and " + str(high))
    return value


def _pad(number, width):
    text = str(number)
    return "0" * (width - len(text)) + text


def _key(table, sid):
    return table + ":" + _pad(sid, 8)


def _scan_all(prefix):
    values = []
    last = None
    while True:
        page = storage.scan(prefix, last, PAGE)
        for key, value in page:
            values.append(value)
        if len(page) < PAGE:
            break
        last = page[-1][0]
    return values


def _write_rows(table, sid, rows):
    """Store rows in chunks; returns the number of chunks."""
    chunks = 0
    for start in range(0, len(rows), ROWS_PER_ENTRY):
        storage.set(_key(table, sid) + ":" + _pad(chunks, 6), rows[start:start + ROWS_PER_ENTRY])
        chunks += 1
    return chunks


def _read_rows(table, sid):
    rows = []
    for chunk in _scan_all(_key(table, sid) + ":"):
        rows.extend(chunk)
    return rows


def _participant(address):
    return call(storage.get("registry"), "participant", address)


# -- sessions ---------------------------------------------------------------------------

def init(config):
    for name in CONTRACTS:
        require(_is_address(config.get(name)), "config needs the address of " + name)
        storage.set(name, config[name])
    phases = config.get("phases")
    require(isinstance(phases, dict) and all([name in phases for name in ("commit", "gate", "reveal", "settle")]),
            "config needs default phases: commit, gate, reveal, settle")
    _phase_lengths(phases, phases)
    storage.set("phases", phases)
    storage.set("max_orders", _int_of(config.get("max_orders"), "max_orders", 1, None))
    storage.set("max_entries", _int_of(config.get("max_entries"), "max_entries", 1, None))


def _phase_lengths(phases, defaults):
    commit = _int_of(phases.get("commit", defaults["commit"]), "phases.commit", 1, None)
    gate = _int_of(phases.get("gate", defaults["gate"]), "phases.gate", 0, None)
    reveal = _int_of(phases.get("reveal", defaults["reveal"]), "phases.reveal", 1, None)
    settle = _int_of(phases.get("settle", defaults["settle"]), "phases.settle", 0, None)
    return [commit, gate, reveal, settle]


def _common(kind, spec):
    require(isinstance(spec, dict), "session spec must be a dict")
    participant = _participant(chain.caller)
    require(participant is not None and "dso" in participant["roles"], "only a DSO may open a market session")
    require(_is_id(spec.get("feeder")), "feeder must be 1 to 64 characters from a-z 0-9 . _ -")
    phases = spec.get("phases", {})
    require(isinstance(phases, dict), "phases must be a dict of seconds")
    commit, gate, reveal, settle = _phase_lengths(phases, storage.get("phases"))
    attestor = spec.get("attestor")
    require(attestor is None or _is_address(attestor), "attestor must be an address or None")
    require(attestor is None or attestor == call(storage.get("grid"), "oracle"),
            "the attestor must be the grid oracle key")
    now = chain.time
    first_mtu = _int_of(spec.get("first_mtu"), "first_mtu", 0, None)
    require(first_mtu * 900 > now, "the session's first MTU " + str(first_mtu) + " (" + _utc_text(first_mtu * 900)
            + " UTC) has already started")
    times = {"opened": now, "gate": now + commit, "reveal": now + commit + gate,
             "reveal_end": now + commit + gate + reveal, "settle_by": now + commit + gate + reveal + settle}
    return {"kind": kind, "operator": chain.caller, "feeder": spec["feeder"], "first_mtu": first_mtu,
            "n_mtus": _int_of(spec.get("n_mtus"), "n_mtus", 1, MAX_MTUS),
            "min_deposit": _int_of(spec.get("min_deposit", 0), "min_deposit", 0, None),
            "attestor": attestor, "times": times, "status": "open", "escrow": 0}


def _utc_text(seconds):
    """Unix seconds (>= 0) as "YYYY-MM-DD HH:MM" in UTC (the civil calendar from days, in ints)."""
    days = seconds // 86400
    era = (days + 719468) // 146097
    day_of_era = days + 719468 - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    year = year_of_era + era * 400 + (1 if month <= 2 else 0)
    minutes = seconds % 86400 // 60
    return (str(year) + "-" + _pad(month, 2) + "-" + _pad(day, 2) + " " + _pad(minutes // 60, 2) + ":"
            + _pad(minutes % 60, 2))


def _limits(session, spec):
    session["min_price"] = _int_of(spec.get("min_price", 0), "min_price", 0, None)
    session["max_price"] = _int_of(spec.get("max_price"), "max_price", session["min_price"], None)
    session["min_qty"] = _int_of(spec.get("min_qty", 1), "min_qty", 1, None)
    session["max_qty"] = _int_of(spec.get("max_qty"), "max_qty", session["min_qty"], None)


def _create(session):
    regime = _regime(session)
    _not_paused(session, regime)
    if session["kind"] == "flex":
        refusal = _refusal(session, regime, None)
        require(refusal == "", refusal)
    sid = storage.get("sessions", 0) + 1
    session["id"] = sid
    if session["escrow"] > 0:
        call(storage.get("token"), "transfer_from", chain.caller, chain.self, session["escrow"])
    storage.set("sessions", sid)
    storage.set(_key("s", sid), session)
    emit("SessionOpened", {"session": sid, "kind": session["kind"], "operator": chain.caller,
                           "feeder": session["feeder"], "first_mtu": session["first_mtu"],
                           "n_mtus": session["n_mtus"]})
    return sid


def open_energy(spec):
    """A local energy market session: spec {feeder, first_mtu, n_mtus, min_price, max_price,
    min_qty, max_qty (Wh per MTU), rule (uniform | pay_as_bid), k_pct (uniform only: where
    in the competitive interval the price lies, 0..100, default 50), imbalance_price,
    min_deposit, phases, attestor}.  Returns the session id."""
    session = _common("energy", spec)
    _limits(session, spec)
    session["rule"] = spec.get("rule", "uniform")
    require(session["rule"] in ENERGY_RULES, "rule must be uniform or pay_as_bid")
    session["k_pct"] = _int_of(spec.get("k_pct", 50), "k_pct", 0, 100)
    require(session["rule"] == "uniform" or "k_pct" not in spec, "k_pct applies to the uniform rule only")
    session["imbalance_price"] = _int_of(spec.get("imbalance_price", session["max_price"]), "imbalance_price", 0, None)
    return _create(session)


def request_flex(spec):
    """A flexibility request: spec {feeder, buses (default: the whole feeder), direction
    (up | down), power (W), first_mtu, n_mtus, max_price (the cap), min_qty (W),
    penalty_price, tolerance_pct, baseline_days, min_deposit, phases, attestor}.  The DSO
    escrows ``flex_escrow``, the most the selection can cost."""
    session = _common("flex", spec)
    buses = spec.get("buses", [])
    require(isinstance(buses, list) and len(buses) <= MAX_BUSES and all([_is_id(bus) for bus in buses])
            and all([buses[k] < buses[k + 1] for k in range(len(buses) - 1)]),
            "buses must be a sorted list of distinct bus ids")
    session["buses"] = buses
    session["direction"] = spec.get("direction")
    require(session["direction"] in DIRECTIONS, "direction must be up or down")
    session["power"] = _int_of(spec.get("power"), "power", 1, None)
    session["min_price"] = 0
    session["max_price"] = _int_of(spec.get("max_price"), "max_price", 0, None)
    session["min_qty"] = _int_of(spec.get("min_qty", 1), "min_qty", 1, session["power"])
    session["max_qty"] = session["power"]
    session["penalty_price"] = _int_of(spec.get("penalty_price", session["max_price"]), "penalty_price", 0, None)
    session["tolerance_pct"] = _int_of(spec.get("tolerance_pct", 10), "tolerance_pct", 0, 100)
    session["baseline_days"] = _int_of(spec.get("baseline_days", 5), "baseline_days", 1, MAX_BASELINE_DAYS)
    session["escrow"] = flex_escrow(session["power"], session["max_price"], session["n_mtus"])
    return _create(session)


def flex_escrow(power, max_price, n_mtus):
    """What a DSO escrows for a flexibility request: the selection may overshoot the request
    by less than one offer, and offers are at most the request, so it costs less than
    max_price for 2 * power W (2 * power // 4 Wh) in each MTU."""
    require(all([_is_int(value) and value >= 0 for value in (power, max_price, n_mtus)]),
            "power, max_price and n_mtus must be ints >= 0")
    return n_mtus * (max_price * 2 * power // 4000)


def publish_capacity(spec):
    """Feeder capacity for a capacity market: spec {feeder, first_mtu, n_mtus, capacity (W
    per MTU, a list of n_mtus), rule (premium | pro_rata | fcfs), min_price, max_price
    (premium only; 0 otherwise), min_qty, max_qty (W), min_deposit, phases, attestor}."""
    session = _common("capacity", spec)
    capacity = spec.get("capacity")
    require(isinstance(capacity, list) and len(capacity) == session["n_mtus"]
            and all([_is_int(watts) and watts >= 0 for watts in capacity]),
            "capacity must list n_mtus ints >= 0 (W)")
    session["capacity"] = capacity
    session["rule"] = spec.get("rule", "premium")
    require(session["rule"] in CAPACITY_RULES, "rule must be premium, pro_rata or fcfs")
    if session["rule"] == "premium":
        _limits(session, spec)
    else:
        require(spec.get("min_price", 0) == 0 and spec.get("max_price", 0) == 0,
                "social-equity capacity is free: no prices")
        _limits(session, {"max_price": 0, "min_qty": spec.get("min_qty", 1), "max_qty": spec.get("max_qty")})
    return _create(session)


def _session(sid):
    require(_is_int(sid) and sid >= 1, "no such session")
    session = storage.get(_key("s", sid))
    require(session is not None, "no such session")
    return session


def _phase(session):
    if session["status"] != "open":
        return session["status"]
    times = session["times"]
    if chain.time < times["gate"]:
        return "commit"
    if chain.time < times["reveal"]:
        return "gate_closure"
    if chain.time < times["reveal_end"]:
        return "reveal"
    return "clearing"


def _in_phase(session, phase):
    current = _phase(session)
    require(current == phase, "not in the " + phase + " phase (the session is in " + current + ")")


# -- grid regimes (the traffic light, per feeder; see the grid contract) ---------------------

def _regime(session):
    return call(storage.get("grid"), "regime", session["feeder"])


def _not_paused(session, regime):
    require(regime["state"] != "BLACK", "feeder " + session["feeder"] + " is BLACK: everything on it is paused")


def _refusal(session, regime, order):
    """Why the feeder's regime refuses this session's orders ("" if it does not).  ``order``
    is None at commit (the device and MTUs are known only at reveal)."""
    state = regime["state"]
    feeder = session["feeder"]
    if state == "BLACK":
        return "feeder " + feeder + " is BLACK: everything on it is paused"
    if session["kind"] == "energy":
        if state == "RED":
            return "the local energy market is closed on feeder " + feeder + " (RED)"
        if state == "YELLOW":
            affected = regime["mtus"]
            if order is None:
                window = range(session["first_mtu"], session["first_mtu"] + session["n_mtus"])
                if all([mtu in affected for mtu in window]):
                    return ("the local energy market is closed on feeder " + feeder
                            + " for every MTU of the session (YELLOW)")
            else:
                for offset in order["mtus"]:
                    if session["first_mtu"] + offset in affected:
                        return ("the local energy market is closed on feeder " + feeder + " for MTU "
                                + str(session["first_mtu"] + offset) + " (YELLOW)")
    elif session["kind"] == "flex" and state != "YELLOW":
        return "the flexibility market is closed on feeder " + feeder + " (" + state + ")"
    return ""


def _gate(session, order):
    refusal = _refusal(session, _regime(session), order)
    require(refusal == "", refusal)


# -- orders -----------------------------------------------------------------------------

def commit(sid, commitment, deposit):
    """Commit to a sealed order with an escrow deposit; returns the commitment's seq."""
    session = _session(sid)
    _in_phase(session, "commit")
    _gate(session, None)
    participant = _participant(chain.caller)
    require(participant is not None, "not a registered participant")
    if session["kind"] == "flex":
        require("aggregator" in participant["roles"], "only aggregators may offer flexibility")
    else:
        require("aggregator" in participant["roles"] or "prosumer" in participant["roles"],
                "only prosumers and aggregators may trade")
    require(_is_hex(commitment, 64), "commitment must be 64 hex digits (sha256)")
    require(_is_int(deposit) and deposit >= 0, "deposit must be an int >= 0")
    require(deposit >= session["min_deposit"],
            "deposit too small: the session requires at least " + str(session["min_deposit"]))
    seq = storage.get(_key("n", sid), 0) + 1
    require(seq <= storage.get("max_orders"), "the session is full")
    if deposit > 0:
        call(storage.get("token"), "transfer_from", chain.caller, chain.self, deposit)
    storage.set(_key("n", sid), seq)
    storage.set(_key("c", sid) + ":" + _pad(seq, 8),
                {"seq": seq, "trader": chain.caller, "commitment": commitment, "deposit": deposit, "order": None})
    emit("Committed", {"session": sid, "seq": seq, "trader": chain.caller, "commitment": commitment,
                       "deposit": deposit})
    return seq


def _sides(kind):
    if kind == "energy":
        return ("buy", "sell")
    if kind == "flex":
        return ("offer",)
    return ("bid",)


def _check_shape(session, order):
    require(isinstance(order, dict), "order must be a dict")
    for field in ORDER_FIELDS:
        require(field in order, "order is missing " + field)
    require(len(order) == len(ORDER_FIELDS), "order has unknown fields")
    require(order["side"] in _sides(session["kind"]),
            "side must be " + " or ".join(_sides(session["kind"])) + " in this " + session["kind"] + " session")
    require(_is_id(order["device"]), "device must be a device id")
    for field in ("price", "qty", "min_qty"):
        require(_is_int(order[field]), field + " must be an int")
    require(isinstance(order["mtus"], list) and all([_is_int(m) for m in order["mtus"]]), "mtus must be a list of ints")
    require(order["baseline"] is None or _is_int(order["baseline"]), "baseline must be an int (Wh) or None")


def _canonical(session, trader, order):
    baseline = "-" if order["baseline"] is None else str(order["baseline"])
    return "|".join([ORDER_DOMAIN, chain.self, str(session["id"]), trader, order["side"], order["device"],
                     str(order["price"]), str(order["qty"]), str(order["min_qty"]),
                     ",".join([str(m) for m in order["mtus"]]), baseline])


def _commitment(session, trader, order, salt):
    return crypto.sha256(_canonical(session, trader, order).encode() + bytes(salt)).hex()


def _check_mtus(session, order):
    mtus = order["mtus"]
    if session["kind"] == "flex":
        require(len(mtus) == 0, "a flexibility offer covers the whole request window: mtus must be empty")
        return
    require(len(mtus) >= 1 and all([0 <= m < session["n_mtus"] for m in mtus])
            and all([mtus[k] < mtus[k + 1] for k in range(len(mtus) - 1)]),
            "mtus must be distinct offsets in ascending order within the session window")


def _collateral(session, order):
    """The least deposit an order needs: all it may have to pay (see docs/market.md)."""
    count = len(order["mtus"])
    if session["kind"] == "energy":
        if order["side"] == "buy":
            return count * (order["price"] * order["qty"] // 1000)
        return count * (session["imbalance_price"] * order["qty"] // 1000)
    if session["kind"] == "flex":
        return session["n_mtus"] * (session["penalty_price"] * (order["qty"] // 4) // 1000)
    if session["rule"] == "premium":
        return count * (order["price"] * order["qty"] // 4000)
    return 0


def _check_order(session, trader, order):
    """Everything reveal checks about an order's content; returns its collateral."""
    device = call(storage.get("registry"), "device", order["device"])
    require(device is not None, "unknown device")
    manager = device["aggregator"] if device["aggregator"] is not None else device["owner"]
    require(manager == trader, "device not in the trader's portfolio")
    require(device["feeder"] == session["feeder"], "device is not on the session's feeder")
    if session["kind"] == "energy":
        if order["side"] == "buy":
            require(device["type"] in BUYING_TYPES, "a " + device["type"] + " device cannot buy energy")
        else:
            require(device["type"] in SELLING_TYPES, "a " + device["type"] + " device cannot sell energy")
        require(order["qty"] <= device["max_power"] // 4,
                "quantity exceeds what the device can do in one MTU (" + str(device["max_power"] // 4) + " Wh)")
    else:
        require(order["qty"] <= device["max_power"], "quantity exceeds the device's maximum power")
    if session["kind"] == "flex":
        require(len(session["buses"]) == 0 or device["bus"] in session["buses"],
                "device is outside the requested buses")
        require(order["price"] <= session["max_price"], "offer price above the price cap")
    else:
        require(order["baseline"] is None, "only flexibility offers have a baseline")
    require(session["min_price"] <= order["price"] <= session["max_price"], "price outside the session limits")
    require(session["min_qty"] <= order["qty"] <= session["max_qty"], "quantity outside the session limits")
    require(1 <= order["min_qty"] <= order["qty"], "minimum quantity must be between 1 and the quantity")
    _check_mtus(session, order)
    return _collateral(session, order)


def _entries(session, order):
    """What a revealed order adds to the work of clearing and settling the session: one per
    MTU it covers; a flexibility offer also reads its meter history for each baseline day."""
    if session["kind"] != "flex":
        return len(order["mtus"])
    return session["n_mtus"] * (1 if order["baseline"] is not None else 1 + session["baseline_days"])


def check_order(sid, trader, order):
    """Check an order as reveal will (all but phase, commitment and deposit); returns the
    deposit it needs.  Wallets call this read-only before they commit."""
    session = _session(sid)
    _check_shape(session, order)
    collateral = _check_order(session, trader, order)
    _gate(session, order)
    return collateral


def commitment_of(sid, trader, order, salt):
    """The commitment (64 hex digits) for ``order`` by ``trader`` with ``salt`` (64 hex digits)."""
    session = _session(sid)
    _check_shape(session, order)
    require(_is_hex(salt, 64), "salt must be 64 hex digits")
    return _commitment(session, trader, order, salt)


def reveal(sid, seq, order, salt):
    """Reveal the order behind commitment ``seq``."""
    session = _session(sid)
    phase = _phase(session)
    require(phase not in ("commit", "gate_closure"), "not in the reveal phase (the session is in " + phase + ")")
    require(phase == "reveal", "reveal too late: the reveal phase is over")
    record = storage.get(_key("c", sid) + ":" + _pad(seq, 8)) if _is_int(seq) and seq >= 1 else None
    require(record is not None, "no such commitment")
    require(record["trader"] == chain.caller, "not your commitment")
    require(record["order"] is None, "order already revealed")
    _check_shape(session, order)
    require(_is_hex(salt, 64), "salt must be 64 hex digits")
    require(_commitment(session, chain.caller, order, salt) == record["commitment"],
            "reveal does not match the commitment")
    collateral = _check_order(session, chain.caller, order)
    _gate(session, order)
    require(record["deposit"] >= collateral, "deposit too small for this order: " + str(collateral) + " required")
    entries = storage.get(_key("e", sid), 0) + _entries(session, order)
    require(entries <= storage.get("max_entries"),
            "the session's order book is full (" + str(storage.get("max_entries")) + " order MTUs)")
    storage.set(_key("e", sid), entries)
    record["order"] = order
    storage.set(_key("c", sid) + ":" + _pad(seq, 8), record)
    emit("Revealed", {"session": sid, "seq": seq, "trader": chain.caller})
    return True


def withdraw(sid, seq, order, salt):
    """In the reveal phase, take back the deposit of a commitment whose valid order the
    feeder's regime refuses (YELLOW on its MTUs, RED, BLACK, or a flexibility market no longer
    open): the commitment is marked withdrawn, its deposit paid back, nothing forfeited."""
    session = _session(sid)
    _in_phase(session, "reveal")
    record = storage.get(_key("c", sid) + ":" + _pad(seq, 8)) if _is_int(seq) and seq >= 1 else None
    require(record is not None, "no such commitment")
    require(record["trader"] == chain.caller, "not your commitment")
    require(record["order"] is None and not record.get("withdrawn", False), "order already revealed or withdrawn")
    _check_shape(session, order)
    require(_is_hex(salt, 64), "salt must be 64 hex digits")
    require(_commitment(session, chain.caller, order, salt) == record["commitment"],
            "reveal does not match the commitment")
    _check_order(session, chain.caller, order)
    require(_refusal(session, _regime(session), order) != "",
            "the feeder's regime accepts this order: reveal it instead")
    refund = record["deposit"]
    if refund > 0:
        call(storage.get("token"), "transfer", chain.caller, refund)
    record["deposit"] = 0
    record["withdrawn"] = True
    record["refunded"] = refund
    storage.set(_key("c", sid) + ":" + _pad(seq, 8), record)
    emit("Withdrawn", {"session": sid, "seq": seq, "trader": chain.caller, "refunded": refund})
    return refund


# -- clearing ---------------------------------------------------------------------------

def _clear_energy(session, orders):
    entries = []
    for record in orders:
        order = record["order"]
        side = 0 if order["side"] == "buy" else 1
        for mtu in order["mtus"]:
            entries.append([mtu, side, order["price"], order["qty"], order["min_qty"], record["seq"]])
    summary = []
    rows = []
    for result in call(storage.get("energy_clearing"), "clear", entries, session["rule"], session["k_pct"]):
        summary.append([result["mtu"], result["price"], result["bid"], result["ask"], result["volume"],
                        len(result["trades"])])
        for trade in result["trades"]:
            rows.append([result["mtu"]] + trade)
    return summary, rows


def _clear_flex(session, orders):
    offers = [[r["seq"], r["order"]["price"], r["order"]["qty"], r["order"]["min_qty"]] for r in orders]
    result = call(storage.get("flex_clearing"), "select", offers, session["power"])
    summary = {"rule": result["rule"], "requested": session["power"], "offers": len(offers),
               "awarded": sum([award[1] for award in result["awards"]])}
    return summary, result["awards"]


def _clear_capacity(session, orders):
    bids = []
    for record in orders:
        order = record["order"]
        for mtu in order["mtus"]:
            bids.append([mtu, record["seq"], order["price"], order["qty"], order["min_qty"]])
    summary = []
    rows = []
    for result in call(storage.get("capacity_clearing"), "allocate", bids, session["capacity"], session["rule"]):
        summary.append([result["mtu"], result["capacity"], result["allocated"], len(result["awards"])])
        for seq, qty in result["awards"]:
            rows.append([result["mtu"], seq, qty])
    return summary, rows


def clear(sid):
    """Clear the session's revealed orders (anyone may call once the reveal phase is over)."""
    session = _session(sid)
    _in_phase(session, "clearing")
    _not_paused(session, _regime(session))
    orders = [record for record in _scan_all(_key("c", sid) + ":") if record["order"] is not None]
    if session["kind"] == "energy":
        summary, rows = _clear_energy(session, orders)
    elif session["kind"] == "flex":
        summary, rows = _clear_flex(session, orders)
    else:
        summary, rows = _clear_capacity(session, orders)
    session["chunks"] = {"results": _write_rows("r", sid, rows)}
    storage.set(_key("y", sid), summary)
    session["revealed"] = len(orders)
    session["status"] = "grid_validation_pending" if session["attestor"] is not None else "delivery"
    storage.set(_key("s", sid), session)
    emit("Cleared", {"session": sid, "orders": len(orders), "rows": len(rows), "status": session["status"]})
    return session["status"]


def _check_report(session, report):
    """The attestation report's shape (see docs/market.md, "Attestation reports")."""
    require(isinstance(report, dict) and len(report) == len(REPORT_FIELDS)
            and all([field in report for field in REPORT_FIELDS]),
            "report must be a dict with exactly: session, mtus, input_hash, verdict, violations, curtailment")
    require(report["session"] == session["id"], "the report is for another session")
    window = list(range(session["first_mtu"], session["first_mtu"] + session["n_mtus"]))
    require(report["mtus"] == window, "report mtus must be the session's MTUs, ascending")
    require(_is_hex(report["input_hash"], 64), "input_hash must be 64 hex digits")
    require(report["verdict"] in ("approved", "violated"), "verdict must be approved or violated")
    violations = report["violations"]
    curtailment = report["curtailment"]
    require(isinstance(violations, list) and len(violations) <= MAX_VIOLATIONS
            and all([isinstance(v, list) and len(v) == 4 and isinstance(v[0], str) and 1 <= len(v[0]) <= 64
                     and all([" " <= ch <= "~" for ch in v[0]]) and _is_int(v[1]) and _is_int(v[2])
                     and _is_int(v[3]) and v[3] in window for v in violations]),
            "violations must be at most 1000 [element, value, limit, mtu] rows (element id of 1 to 64 "
            + "printable ASCII characters, ints, an MTU of the report)")
    require(isinstance(curtailment, list) and len(curtailment) <= MAX_CURTAILMENT
            and all([isinstance(c, list) and len(c) == 3 and _is_int(c[0]) and c[0] in window and _is_id(c[1])
                     and _is_int(c[2]) and c[2] >= 1 for c in curtailment])
            and all([[curtailment[k][0], curtailment[k][1]] < [curtailment[k + 1][0], curtailment[k + 1][1]]
                     for k in range(len(curtailment) - 1)]),
            "curtailment must be at most 8000 [mtu, device, wh] rows, wh >= 1, sorted and distinct by (mtu, device)")
    if report["verdict"] == "approved":
        require(len(violations) == 0 and len(curtailment) == 0,
                "an approved report has no violations and no curtailment")
    else:
        require(len(violations) >= 1, "a violated report lists its violations")
        require(len(curtailment) == 0 or session["kind"] == "energy", "curtailment applies only to energy sessions")


def _reduce(rows, k, qty, changes, first):
    """Reduce trade row k to qty Wh; both payments shrink pro rata, each rounded down (the
    buyer keeps the rounding remainder in its escrow).  Appends the change."""
    row = rows[k]
    old = [row[3], row[4], row[5]]
    row[4] = row[4] * qty // row[3]
    row[5] = row[5] * qty // row[3]
    row[3] = qty
    changes.append([first + row[0], row[1], row[2], old[0], qty, old[1], row[4], old[2], row[5]])


def _devices(sid):
    devices = {}
    for record in _scan_all(_key("c", sid) + ":"):
        if record["order"] is not None:
            devices[record["seq"]] = record["order"]["device"]
    return devices


def _curtail(sid, session, curtailment):
    """Apply an attested curtailment: for each [mtu, device, wh] (in the report's order), the
    device's position in that MTU (Wh bought - sold) is reduced towards zero by wh, which
    must not exceed its size: the trades on the position's side (bought if it is positive,
    sold if negative) are reduced, the last (most marginal) trade first, until wh Wh are
    taken off; the counterparty of a reduced trade loses the same Wh.  Nothing to do for an
    empty curtailment (always the case outside energy sessions, whose rows are not trades)."""
    if len(curtailment) == 0:
        return []
    rows = _read_rows("r", sid)
    devices = _devices(sid)
    first = session["first_mtu"]
    index = {}
    for k in range(len(rows)):
        buyer = devices[rows[k][1]]
        seller = devices[rows[k][2]]
        if buyer != seller:
            for device, sign in ((buyer, 1), (seller, -1)):
                key = (first + rows[k][0], device)
                if key in index:
                    index[key].append([k, sign])
                else:
                    index[key] = [[k, sign]]
    changes = []
    for mtu, device, wh in curtailment:
        found = [pair for pair in index.get((mtu, device), []) if rows[pair[0]][3] > 0]
        require(len(found) > 0, "curtailment names no trade of " + device + " in MTU " + str(mtu))
        position = sum([sign * rows[k][3] for k, sign in found])
        require(wh <= abs(position), "curtailment of " + device + " in MTU " + str(mtu)
                + " exceeds its position of " + str(abs(position)) + " Wh")
        side = 1 if position > 0 else -1
        left = wh
        for k, sign in reversed(found):
            if left == 0:
                break
            if sign == side:
                cut = min(left, rows[k][3])
                _reduce(rows, k, rows[k][3] - cut, changes, first)
                left -= cut
    if len(changes) > 0:
        _write_rows("r", sid, rows)
    return changes


def attest(sid, report):
    """The grid oracle's verdict on a cleared session (only the genesis-configured oracle
    key, once per session).  An approved report lets the session settle as cleared; a
    violated one applies its curtailment to the trades first.  Returns the number of trade
    changes."""
    session = _session(sid)
    oracle = call(storage.get("grid"), "oracle")
    require(oracle is not None and chain.caller == oracle, "only the grid oracle key may attest")
    require(session.get("attestation") is None, "the session is already attested")
    require(session["status"] == "grid_validation_pending", "the session is not waiting for grid validation")
    _not_paused(session, _regime(session))
    _check_report(session, report)
    changes = _curtail(sid, session, report["curtailment"])
    storage.set(_key("a", sid), {"report": report, "attestor": chain.caller, "height": chain.height,
                                 "changes": changes})
    session = storage.get(_key("s", sid))
    session["status"] = "delivery"
    session["attestation"] = {"input_hash": report["input_hash"], "verdict": report["verdict"],
                              "violations": len(report["violations"]), "changes": len(changes),
                              "height": chain.height}
    storage.set(_key("s", sid), session)
    emit("Attested", {"session": sid, "attestor": chain.caller, "input_hash": report["input_hash"],
                      "verdict": report["verdict"], "violations": len(report["violations"]),
                      "changes": len(changes)})
    return len(changes)


def attestation(sid):
    """The attestation record {report, attestor, height, changes} of a session, or None.
    changes: [mtu, bid_seq, offer_seq, old_qty, new_qty, old_pays, new_pays, old_gets, new_gets]."""
    _session(sid)
    return storage.get(_key("a", sid))


def override(sid, trades, reason):
    """RED override (a grid operator, the feeder in RED): reduce listed trades of a cleared,
    unsettled energy session.  trades: [[mtu, bid_seq, offer_seq, qty], ...] with mtu
    absolute and qty the new quantity (0 voids the trade), below the current one.  Payments
    shrink as in an attested curtailment; the escrow they free is paid back at settlement
    and no penalty applies.  Returns the number of trades changed."""
    session = _session(sid)
    require(call(storage.get("grid"), "is_operator", chain.caller),
            "only the DSO or the grid oracle key may override trades")
    regime = _regime(session)
    _not_paused(session, regime)
    require(regime["state"] == "RED",
            "trades may be overridden only in RED (feeder " + session["feeder"] + " is " + regime["state"] + ")")
    require(session["kind"] == "energy", "only energy trades can be overridden")
    require(session["status"] in ("grid_validation_pending", "delivery"),
            "the session has no unsettled trades (it is in " + _phase(session) + ")")
    require(isinstance(reason, str) and 1 <= len(reason) <= 200, "reason must be 1 to 200 characters")
    require(isinstance(trades, list) and 1 <= len(trades) <= PAGE
            and all([isinstance(t, list) and len(t) == 4 and all([_is_int(x) for x in t]) for t in trades]),
            "trades must be 1 to 1000 [mtu, bid_seq, offer_seq, qty] rows of ints")
    rows = _read_rows("r", sid)
    first = session["first_mtu"]
    index = {}
    for k in range(len(rows)):
        index[(first + rows[k][0], rows[k][1], rows[k][2])] = k
    changes = []
    for mtu, bid, offer, qty in trades:
        key = (mtu, bid, offer)
        require(key in index, "no trade of bid " + str(bid) + " and offer " + str(offer) + " in MTU " + str(mtu))
        k = index[key]
        require(0 <= qty < rows[k][3], "an override must lower the trade's quantity (0 voids it)")
        _reduce(rows, k, qty, changes, first)
    _write_rows("r", sid, rows)
    count = storage.get(_key("o", sid), 0) + 1
    storage.set(_key("o", sid), count)
    storage.set(_key("o", sid) + ":" + _pad(count, 6), {"reason": reason, "by": chain.caller, "height": chain.height,
                                                        "changes": changes})
    emit("Overridden", {"session": sid, "by": chain.caller, "reason": reason, "changes": len(changes)})
    return len(changes)


def overrides(sid):
    """The RED overrides of a session, oldest first: {reason, by, height, changes}."""
    _session(sid)
    return _scan_all(_key("o", sid) + ":")


# -- settlement -------------------------------------------------------------------------

def _readings(session, keys, required):
    values = call(storage.get("meter"), "readings", [[key[0], key[1]] for key in keys])
    readings = {}
    missing = 0
    for k in range(len(keys)):
        if values[k] is None:
            missing += 1
        else:
            readings[keys[k]] = values[k]
    settle_by = session["times"]["settle_by"]
    require(not required or missing == 0 or chain.time >= settle_by,
            "meter data missing for " + str(missing) + " device MTUs: settlement waits for it until time "
            + str(settle_by))
    return readings


def _settle_energy(session, orders, deposits, rows):
    trades = []
    keys = {}
    for mtu, bid_seq, offer_seq, qty, pays, gets in rows:
        if qty == 0:
            continue   # voided by an attested curtailment or a RED override
        bid = orders[bid_seq]
        offer = orders[offer_seq]
        absolute = session["first_mtu"] + mtu
        trades.append([absolute, bid["trader"], bid["order"]["device"], offer["trader"], offer["order"]["device"],
                       qty, pays, gets])
        keys[(bid["order"]["device"], absolute)] = True
        keys[(offer["order"]["device"], absolute)] = True
    readings = _readings(session, list(keys.keys()), True)
    return call(storage.get("settlement"), "energy", trades, deposits, readings, session["imbalance_price"],
                session["operator"])


def _settle_flex(session, orders, deposits, rows):
    awards = []
    keys = {}
    history = {}
    first = session["first_mtu"]
    for seq, qty in rows:
        record = orders[seq]
        order = record["order"]
        awards.append([seq, record["trader"], order["device"], qty, order["price"], order["baseline"]])
        for mtu in range(first, first + session["n_mtus"]):
            keys[(order["device"], mtu)] = True
            if order["baseline"] is None:
                for day in range(1, session["baseline_days"] + 1):
                    history[(order["device"], mtu - 96 * day)] = True
    spec = {"first_mtu": first, "n_mtus": session["n_mtus"], "direction": session["direction"],
            "tolerance_pct": session["tolerance_pct"], "penalty_price": session["penalty_price"],
            "baseline_days": session["baseline_days"]}
    return call(storage.get("settlement"), "flex", awards, deposits, _readings(session, list(keys.keys()), True),
                _readings(session, list(history.keys()), False), spec, session["operator"])


def _settle_capacity(session, orders, deposits, rows):
    awards = []
    for mtu, seq, qty in rows:
        record = orders[seq]
        awards.append([session["first_mtu"] + mtu, seq, record["trader"], record["order"]["device"], qty,
                       record["order"]["price"]])
    return call(storage.get("settlement"), "capacity", awards, deposits, session["rule"], session["operator"])


def settle(sid):
    """Settle a cleared session against meter data and pay out its escrow.

    Waits for every reading it needs until the session's settle_by time; after that,
    missing readings are not assessed.  Pays the first ROWS_PER_ENTRY payouts; release()
    pays the rest of a big session."""
    session = _session(sid)
    phase = _phase(session)
    require(phase == "delivery", "not ready to settle (the session is in " + phase + ")")
    _not_paused(session, _regime(session))
    orders = {}
    deposits = {session["operator"]: session["escrow"]}
    escrow = session["escrow"]
    forfeited = 0
    for record in _scan_all(_key("c", sid) + ":"):
        escrow += record["deposit"]
        if record["order"] is None:
            forfeited += record["deposit"]
        else:
            orders[record["seq"]] = record
            deposits[record["trader"]] = deposits.get(record["trader"], 0) + record["deposit"]
    rows = _read_rows("r", sid)
    if session["kind"] == "energy":
        result = _settle_energy(session, orders, deposits, rows)
    elif session["kind"] == "flex":
        result = _settle_flex(session, orders, deposits, rows)
    else:
        result = _settle_capacity(session, orders, deposits, rows)
    payouts = result["payouts"]
    payouts[session["operator"]] = payouts.get(session["operator"], 0) + forfeited
    require(sum(payouts.values()) == escrow and all([amount >= 0 for amount in payouts.values()]),
            "settlement does not balance")
    paid = [[address, payouts[address]] for address in sorted(payouts.keys()) if payouts[address] > 0]
    session["chunks"]["lines"] = _write_rows("l", sid, result["lines"])
    session["chunks"]["payouts"] = _write_rows("q", sid, paid)
    session["released"] = 0
    session["status"] = "settled"
    session["forfeited"] = forfeited
    emit("Settled", {"session": sid, "escrow": escrow, "forfeited": forfeited, "payouts": len(paid)})
    _release(sid, session)
    return len(paid)


def _release(sid, session):
    chunk = session["released"]
    if chunk < session["chunks"]["payouts"]:
        token = storage.get("token")
        for address, amount in storage.get(_key("q", sid) + ":" + _pad(chunk, 6)):
            call(token, "transfer", address, amount)
        session["released"] = chunk + 1
        emit("Released", {"session": sid, "chunk": chunk, "of": session["chunks"]["payouts"]})
    storage.set(_key("s", sid), session)


def release(sid):
    """Pay the next chunk of a settled session's payouts (anyone may call)."""
    session = _session(sid)
    require(session["status"] == "settled", "the session is not settled")
    require(session["released"] < session["chunks"]["payouts"], "all payouts already released")
    _not_paused(session, _regime(session))
    _release(sid, session)
    return session["chunks"]["payouts"] - session["released"]


# -- queries ----------------------------------------------------------------------------

def _view(session):
    session["phase"] = _phase(session)
    session["commits"] = storage.get(_key("n", session["id"]), 0)
    return session


def session(sid):
    """The session record with its current phase and number of commitments."""
    return _view(_session(sid))


def sessions(start_after=0, limit=100):
    """Sessions with id > start_after, in id order, at most ``limit`` (<= 200)."""
    require(_is_int(start_after) and start_after >= 0, "start_after must be a session id")
    require(_is_int(limit) and 1 <= limit <= MAX_PAGE, "limit must be 1 to 200")
    start = None if start_after == 0 else _key("s", start_after)
    return [_view(record) for key, record in storage.scan("s:", start, limit)]


def commitments(sid, start_after=0, limit=100):
    """Commitments of a session with seq > start_after (orders included once revealed)."""
    _session(sid)
    require(_is_int(start_after) and start_after >= 0, "start_after must be a seq")
    require(_is_int(limit) and 1 <= limit <= MAX_PAGE, "limit must be 1 to 200")
    prefix = _key("c", sid) + ":"
    start = None if start_after == 0 else prefix + _pad(start_after, 8)
    return [record for key, record in storage.scan(prefix, start, limit)]


def results(sid):
    """The clearing summary (None before clearing); rows come from rows(sid, "results", n)."""
    _session(sid)
    return storage.get(_key("y", sid))


def rows(sid, table, chunk):
    """Chunk ``chunk`` of a session's "results", "lines" or "payouts" rows ([] past the end)."""
    _session(sid)
    tables = {"results": "r", "lines": "l", "payouts": "q"}
    require(table in tables, "table must be results, lines or payouts")
    require(_is_int(chunk) and chunk >= 0, "chunk must be an int >= 0")
    return storage.get(_key(tables[table], sid) + ":" + _pad(chunk, 6), [])
