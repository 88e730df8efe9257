"""Mempool admission and bounds: every rejection has its own code; accepted txs are reaped in
nonce order; gapped transactions cannot crowd out ready ones; old ones expire (injected clock)."""
import pytest

from consensus.types import Validator, ValidatorSet

from node import mempool as mp, statekeys
from node.admission import ALLOWED_ACCOUNTS, DEPLOYERS
from node.encoding import encode
from node.errors import ApiError
from node.execution import account_nonce
from node.keys import KeyPair
from node.mempool import Mempool
from node.params import ChainParams
from node.state import Overlay
from node.tx import CallPayload, DeployPayload, Transaction

CHAIN = "test-chain"
TOKEN = "0x" + "11" * 20
PARAMS = ChainParams()


class _Nothing:
    def get(self, key):
        return None

    def scan(self, prefix, start_after=None):
        return iter(())


class Head(Overlay):
    """A head state in memory: account nonces and the allow and deployer lists."""

    def __init__(self):
        super().__init__(_Nothing())
        validator = Validator("dso", KeyPair.generate().public_key, 10, "dso")
        self.set(statekeys.VALIDATORS, encode(ValidatorSet((validator,)).to_list()))

    def admit(self, *keys: KeyPair) -> "Head":
        for key in keys:
            ALLOWED_ACCOUNTS.add(self, key.address, 0)
        return self

    def set_nonce(self, key: KeyPair, nonce: int) -> None:
        self.set(statekeys.account(key.address), encode(nonce))

    def nonce_of(self, address: str) -> int:
        return account_nonce(self, address)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_tx(key, nonce=0, gas=100_000, chain=CHAIN, args=None):
    return Transaction(chain, key.public_key, nonce, gas, CallPayload(TOKEN, "transfer", args or [key.address, 1])).signed(key)


def rejection(pool, tx_or_bytes):
    data = tx_or_bytes if isinstance(tx_or_bytes, bytes) else tx_or_bytes.to_bytes()
    with pytest.raises(ApiError) as info:
        pool.admit(data, PARAMS)
    return info.value.code


def admit(pool, *txs):
    for tx in txs:
        pool.admit(tx.to_bytes(), PARAMS)


@pytest.fixture
def key():
    return KeyPair.generate()


@pytest.fixture
def head(key):
    return Head().admit(key)


def test_accepts_and_reaps_consecutive_nonces(key, head):
    pool = Mempool(CHAIN, head)
    admit(pool, *(make_tx(key, nonce) for nonce in (1, 0, 3)))
    assert [tx.nonce for tx in pool.reap(head.nonce_of, 100)] == [0, 1]  # 3 waits for 2
    assert pool.next_nonce(key.address, 0) == 2
    assert pool.gapped_count == 1
    head.set_nonce(key, 2)
    pool.remove_committed(head.nonce_of)
    assert len(pool) == 1 and pool.gapped_count == 1
    admit(pool, make_tx(key, 2))
    assert pool.gapped_count == 0  # 2 filled the gap: 3 is ready too
    assert [tx.nonce for tx in pool.reap(head.nonce_of, 100)] == [2, 3]


def test_each_rejection_has_its_code(key, head):
    pool = Mempool(CHAIN, head, capacity=2)
    good = make_tx(key, 0)
    assert rejection(pool, good.to_bytes()[:-3]) == "malformed_tx"
    assert rejection(pool, b"\xff" * 10) == "malformed_tx"
    assert rejection(pool, make_tx(key, chain="other")) == "wrong_chain_id"
    assert rejection(pool, make_tx(KeyPair.generate())) == "account_not_permitted"
    forged = Transaction(CHAIN, key.public_key, 0, 100_000, good.payload, KeyPair.generate().sign(good.signing_bytes()))
    assert rejection(pool, forged) == "bad_signature"
    assert rejection(pool, make_tx(key, 65)) == "nonce_too_high"
    assert rejection(pool, make_tx(key, gas=PARAMS.max_tx_gas + 1)) == "gas_limit_too_high"
    assert rejection(pool, make_tx(key, gas=10)) == "gas_limit_too_low"
    assert rejection(pool, make_tx(key, args=["x" * PARAMS.max_tx_bytes])) == "tx_too_large"
    deploy = Transaction(CHAIN, key.public_key, 0, 20_000_000, DeployPayload("def f():\n    return 1\n")).signed(key)
    assert rejection(pool, deploy) == "deploy_not_permitted"
    admit(pool, good)
    assert rejection(pool, good) == "already_known"
    assert rejection(pool, make_tx(key, 0, gas=200_000)) == "nonce_taken"
    admit(pool, make_tx(key, 1))
    other = KeyPair.generate()
    head.admit(other)
    assert rejection(pool, make_tx(other, 0)) == "mempool_full"
    head.set_nonce(key, 5)
    assert rejection(pool, make_tx(key, 0, gas=300_000)) == "nonce_too_low"


def test_a_listed_deployer_may_deploy(key, head):
    DEPLOYERS.add(head, key.address, 0)
    deploy = Transaction(CHAIN, key.public_key, 0, 20_000_000, DeployPayload("def f(:\n")).signed(key)
    admit(Mempool(CHAIN, head), deploy)  # the mempool does not compile: node/deploycheck.py does, off the loop


def test_rejection_messages_are_explicit(key, head):
    pool = Mempool(CHAIN, head, capacity=0)
    with pytest.raises(ApiError, match=r"mempool is full \(0 transactions\); retry later") as info:
        pool.admit(make_tx(key).to_bytes(), PARAMS)
    assert info.value.status == 503
    head.set_nonce(key, 4)
    with pytest.raises(ApiError, match="nonce 0 was already used; the account's next nonce is 4"):
        Mempool(CHAIN, head).admit(make_tx(key).to_bytes(), PARAMS)
    stranger = KeyPair.generate()
    with pytest.raises(ApiError, match=f"account {stranger.address} is not admitted") as info:
        Mempool(CHAIN, head).admit(make_tx(stranger).to_bytes(), PARAMS)
    assert info.value.status == 403


def test_per_sender_cap(key, head):
    pool = Mempool(CHAIN, head)
    admit(pool, *(make_tx(key, n) for n in range(mp.MAX_PENDING_PER_SENDER)))
    with pytest.raises(ApiError) as info:
        pool.admit(make_tx(key, mp.MAX_PENDING_PER_SENDER).to_bytes(), PARAMS)
    assert (info.value.code, info.value.status) == ("too_many_pending", 429)


def test_outsiders_sending_gapped_nonces_are_refused_before_anything_else():
    honest = KeyPair.generate()
    head = Head().admit(honest)
    pool = Mempool(CHAIN, head)
    for attacker in (KeyPair.generate() for _ in range(160)):
        assert rejection(pool, make_tx(attacker, 1)) == "account_not_permitted"
    admit(pool, make_tx(honest, 0))
    assert len(pool) == 1


def test_gap_attack_by_admitted_senders_leaves_room_for_ready_senders():
    """160 admitted keys send nonces 1..64 (never 0): once gapped txs fill their share the rest
    are refused, and an honest sender's ready txs still get in, even into a full mempool."""
    attackers = [KeyPair(bytes([i % 256, i // 256]) * 16) for i in range(160)]
    honest = [KeyPair.generate() for _ in range(3)]
    head = Head().admit(*attackers, *honest)
    pool = Mempool(CHAIN, head, capacity=1_000)
    codes: dict[str, int] = {}
    for attacker in attackers:
        for nonce in range(1, 65):
            try:
                pool.admit(make_tx(attacker, nonce).to_bytes(), PARAMS)
                codes["accepted"] = codes.get("accepted", 0) + 1
            except ApiError as exc:
                codes[exc.code] = codes.get(exc.code, 0) + 1
    limit = 1_000 // mp.GAPPED_SHARE_DIVISOR
    assert codes == {"accepted": limit, "nonce_gap_full": 160 * 64 - limit}
    fillers = [KeyPair.generate() for _ in range(11)]
    head.admit(*fillers)
    for filler in fillers:  # ready txs fill most of the rest of the mempool
        admit(pool, *(make_tx(filler, n) for n in range(63)))
    assert len(pool) == limit + 11 * 63
    admit(pool, *(make_tx(honest[0], n) for n in range(1_000 - len(pool))))
    assert len(pool) == 1_000
    oldest_gapped = make_tx(attackers[0], 1).hash
    assert oldest_gapped in pool
    admit(pool, make_tx(honest[1], 0))  # full: a ready tx takes the place of the longest-gapped one
    assert len(pool) == 1_000 and oldest_gapped not in pool
    assert rejection(pool, make_tx(honest[2], 1)) == "mempool_full"  # a gapped one never evicts
    attacker_addresses = {a.address for a in attackers}
    assert not any(tx.sender_address in attacker_addresses for tx in pool.reap(head.nonce_of, 10_000))


def test_gapped_transactions_are_evicted_after_the_gap_timeout(key, head):
    clock = Clock()
    pool = Mempool(CHAIN, head, clock=clock)
    admit(pool, make_tx(key, 2), make_tx(key, 3))
    clock.now += mp.GAP_TIMEOUT_S - 1
    pool.evict_stale()
    assert len(pool) == 2
    clock.now += 1
    pool.evict_stale()
    assert len(pool) == 0


def test_a_filled_gap_saves_its_transactions_from_eviction(key, head):
    clock = Clock()
    pool = Mempool(CHAIN, head, clock=clock)
    admit(pool, make_tx(key, 1))
    clock.now += mp.GAP_TIMEOUT_S - 1
    admit(pool, make_tx(key, 0))
    clock.now += mp.GAP_TIMEOUT_S
    pool.evict_stale()
    assert len(pool) == 2 and pool.gapped_count == 0


def test_a_gap_left_by_a_commit_elsewhere_starts_the_timeout_then(key, head):
    """Nonce 1 committed without passing this mempool: 3 is still gapped (2 is missing)."""
    clock = Clock()
    pool = Mempool(CHAIN, head, clock=clock)
    admit(pool, make_tx(key, 0), make_tx(key, 1), make_tx(key, 3))
    clock.now += mp.GAP_TIMEOUT_S - 1
    head.set_nonce(key, 2)
    pool.remove_committed(head.nonce_of)
    assert len(pool) == 1 and pool.gapped_count == 1
    clock.now += 1
    pool.evict_stale()
    assert len(pool) == 0


def test_transactions_expire_after_the_ttl(key, head):
    clock = Clock()
    pool = Mempool(CHAIN, head, clock=clock)
    admit(pool, make_tx(key, 0))
    clock.now += mp.TX_TTL_S / 2
    admit(pool, make_tx(key, 1))
    clock.now += mp.TX_TTL_S / 2
    pool.evict_stale()
    assert [tx.nonce for tx in pool.reap(head.nonce_of, 10)] == []  # 0 expired: 1 now waits behind a gap
    assert len(pool) == 1 and pool.gapped_count == 1
    clock.now += mp.GAP_TIMEOUT_S
    admit(pool, make_tx(key, 0))  # admitting sweeps first: 1 was gapped too long
    assert [tx.nonce for tx in pool.reap(head.nonce_of, 10)] == [0]
