"""Issue 11: four organisations make a consortium with the CLI alone, each on its own address.

The DSO and three aggregators each run `node init` in their own directory, bound to their own
loopback address (127.0.0.2 to 127.0.0.5); the DSO, as coordinator, assembles the genesis
from the four `node show-id --json` files; every party installs the file and the hashes it
prints agree; the nodes find each other from the genesis alone. Then, on the running chain:
an idle chain makes heartbeat blocks only; links from a key outside the set, and a changed
handshake, are refused; an observer on 127.0.0.6 syncs and relays a wallet transfer that
commits; `wallet balance --verify` holds against the observer and refuses a forging node; a
validator is added and another removed through `flexledger validators` while transfers commit.
"""
import asyncio
import json
import re
import shutil
import threading
import time

import pytest

from node.client import ClientError, NodeClient
from node.config import NodeHome
from node.keys import KeyPair
from node.keystore import Keystore
from node.p2p import PeerInfo
from node.tx import CallPayload, Transaction
from tests.consortiumkit import PASSWORD, Party, printed_hash, wait_for_height
from tests.oraclekit import wait_for
from tests.linkkit import LinkNode, until
from tests.tamperproxy import TamperProxy, flip_byte
from tests.test_verify_node import forging_proxy
from testnet.devnode import free_port

FOUNDERS = [("dso", "dso", "127.0.0.2"), ("agg1", "aggregator", "127.0.0.3"), ("agg2", "aggregator", "127.0.0.4"),
            ("agg3", "aggregator", "127.0.0.5")]
POLICY = ("--block-time", "0.3", "--empty-blocks", "off", "--empty-block-interval", "2")
HEARTBEAT = 2.0
CHAIN = "westgrid"


@pytest.fixture(scope="module")
def consortium(tmp_path_factory):
    root = tmp_path_factory.mktemp("consortium")
    parties = {name: Party(name, host, root / name) for name, _, host in FOUNDERS}
    extra: list[Party] = []
    started = time.monotonic()
    try:
        ids = {name: party.init_node(*POLICY) for name, party in parties.items()}
        dso = parties["dso"]
        for name, identity in ids.items():  # what each party mails to the coordinator
            (dso.root / f"{name}.id.json").write_text(json.dumps(identity))
        issuer = re.search(r"0x[0-9a-f]{40}", dso.run("keys", "new", "issuer").stdout).group(0)
        dso.run("oracle", "init", "--oracle-home", str(dso.root / "oracle"))
        draft = str(dso.root / "draft.json")
        dso.run("genesis", "new", "--chain-id", CHAIN, "--draft", draft)
        for name, role, _ in FOUNDERS:
            dso.run("genesis", "add-validator", "--draft", draft, "--name", name, "--role", role,
                    "--id", str(dso.root / f"{name}.id.json"))
        dso.run("genesis", "set-issuer", "--draft", draft, "--address", issuer, "--supply", "1000000000")
        dso.run("genesis", "set-oracle", "--draft", draft, "--key-file", str(dso.root / "oracle/keys/oracle.json"))
        finalized = dso.run("genesis", "finalize", "--draft", draft, "--out", str(dso.root / "genesis.json")).stdout
        hashes = {}
        for name, party in parties.items():  # each party receives the file and checks the hash
            shutil.copy(dso.root / "genesis.json", party.root / "received-genesis.json")
            installed = party.run("node", "install-genesis", "--node-home", str(party.home), "--genesis",
                                  str(party.root / "received-genesis.json")).stdout
            hashes[name] = printed_hash(installed)
        for party in parties.values():
            party.start()
        wait_for_height(list(parties.values()), 1, 60)
        first_block = time.monotonic() - started
        yield {"parties": parties, "ids": ids, "issuer": issuer, "coordinator_hash": printed_hash(finalized),
               "hashes": hashes, "first_block": first_block, "root": root, "extra": extra}
    finally:
        for party in [*parties.values(), *extra]:
            party.stop()


def _founders(consortium) -> list[Party]:
    return list(consortium["parties"].values())


def _issuer_key(consortium) -> KeyPair:
    return Keystore(consortium["parties"]["dso"].root / "wallet" / "keys").load("issuer", PASSWORD)


def test_every_party_installed_the_same_genesis_and_the_nodes_found_each_other(consortium):
    assert set(consortium["hashes"].values()) == {consortium["coordinator_hash"]}
    for party in _founders(consortium):
        config = NodeHome(party.home).load_config()
        assert sorted(p["address"] for p in config.peers) == sorted(
            i["address"] for n, i in consortium["ids"].items() if n != party.name)
        assert not any("127.0.0.1" in p["p2p"] for p in config.peers)
        status = party.client().status()
        assert len(status["consensus"]["peers"]) == 3, (party.name, status["consensus"])
    print(f"four fresh homes to the first finalized block: {consortium['first_block']:.1f} s")


def test_an_idle_chain_makes_heartbeat_blocks_only(consortium):
    dso = consortium["parties"]["dso"]
    start = dso.height()
    time.sleep(3 * HEARTBEAT)
    end = dso.height()
    assert 1 <= end - start <= 4, f"{end - start} blocks in {3 * HEARTBEAT:g} s with a {HEARTBEAT:g} s heartbeat"
    assert all(dso.client().get(f"/block/{h}", txs="hashes")["txs"] == [] for h in range(start + 1, end + 1))


def test_links_from_a_key_outside_the_set_and_a_changed_handshake_are_refused(consortium):
    dso = consortium["parties"]["dso"]
    dso_address = consortium["ids"]["dso"]["address"]
    p2p_url = f"http://{dso.host}:{dso.p2p_port}"
    outsider = KeyPair.generate()

    async def dial(key: KeyPair, url: str) -> list[str]:
        node = LinkNode(key, lambda public_key: True, chain=CHAIN)
        await node.start([PeerInfo(dso_address, url)])
        try:
            await asyncio.sleep(1.5)
            return node.network.connected()
        finally:
            await node.stop()

    assert asyncio.run(dial(outsider, p2p_url)) == []
    wait_for(lambda: f"key {outsider.address} is not allowed" in dso.log(), 5, "the refusal in the DSO's log")

    async def through_tamper_proxy() -> list[str]:
        proxy, port = TamperProxy(p2p_url, flip_byte("to_acceptor", 1)), free_port()
        await proxy.start("127.0.0.1", port)
        try:
            return await dial(KeyPair(b"\x07" * 32), f"http://127.0.0.1:{port}")
        finally:
            await proxy.stop()

    member = KeyPair(b"\x07" * 32)  # a key the chain admits, so that only the changed byte can refuse it
    dso.run("participant", "admit", member.address, "--name", "link prober", "--role", "prosumer",
            "--public-key", member.public_key.hex(), "--key", "issuer")
    assert asyncio.run(through_tamper_proxy()) == []
    wait_for(lambda: "the auth message failed authentication" in dso.log(), 5, "the tampered handshake refused")


def test_an_observer_syncs_and_relays_a_wallet_transfer(consortium):
    dso, root = consortium["parties"]["dso"], consortium["root"]
    observer = Party("observer", "127.0.0.6", root / "observer")
    consortium["extra"].append(observer)
    observer.run("node", "init", "--node-home", str(observer.home), "--p2p-listen",
                 f"{observer.host}:{observer.p2p_port}", "--api-listen", f"{observer.host}:{observer.api_port}",
                 "--genesis", str(dso.root / "genesis.json"), *POLICY)
    identity = json.loads(observer.run("node", "show-id", "--node-home", str(observer.home), "--json").stdout)
    dso.run("participant", "admit", identity["address"], "--name", "observer", "--role", "prosumer",
            "--public-key", identity["public_key"], "--key", "issuer")
    synced_from = time.monotonic()
    observer.start()
    head = max(p.height() for p in _founders(consortium))
    wait_for_height([observer], head, 60)
    print(f"observer synced {head} blocks in {time.monotonic() - synced_from:.1f} s (process start included)")
    recipient = "0x" + "33" * 20
    sent = dso.run("--node", observer.api_url, "wallet", "send", recipient, "12.5", "--key", "issuer").stdout
    assert sent.startswith(f"sent 12.500000 to {recipient} in block ")
    assert dso.run("wallet", "balance", recipient).stdout.strip() == f"{recipient} 12.500000"


def test_wallet_verify_holds_against_the_observer_and_refuses_a_forging_node(consortium):
    observer = consortium["extra"][0]
    genesis = str(consortium["parties"]["dso"].root / "genesis.json")
    recipient = "0x" + "33" * 20
    verified = observer.run("wallet", "balance", recipient, "--verify", "--genesis", genesis).stdout
    assert verified.startswith(f"{recipient} 12.500000: verified by ") and "of 4 validators" in verified

    def richer(path, answer):
        if path.startswith("/light/state"):
            answer["entries"][0]["value"] = "ff" * 8
        return answer

    with forging_proxy(observer.api_url, richer) as forger:
        refused = observer.run("--node", forger, "wallet", "balance", recipient, "--verify", check=False)
    assert refused.returncode == 1 and "not verified" in refused.stderr, refused.stderr


def _transfers(consortium, stop: threading.Event, done: list) -> None:
    """Transfers from the issuer through the DSO's and agg1's nodes, one at a time, until stopped."""
    key, parties = _issuer_key(consortium), consortium["parties"]
    clients = [parties["dso"].client(), parties["agg1"].client()]
    nonce = clients[0].account(key.address)["nonce"]
    token = clients[0].contracts()["token"]
    while not stop.is_set():
        tx = Transaction(CHAIN, key.public_key, nonce, 30_000,
                         CallPayload(token, "transfer", ["0x" + "44" * 20, 1])).signed(key)
        try:
            receipt = NodeClient(clients[nonce % 2].url, timeout=20).submit(tx, wait="commit", timeout=15)
        except ClientError as exc:
            done.append(exc.code)
            return
        done.append(receipt["receipt"]["status"])
        nonce += 1


def _validators(party: Party) -> list[dict]:
    return party.client().get("/governance/proposals")["validators"]


def _vote(party: Party, *argv: str) -> str:
    return party.run("validators", *argv, "--node-home", str(party.home)).stdout


def test_a_validator_added_and_another_removed_while_transfers_commit(consortium):
    parties, root = consortium["parties"], consortium["root"]
    agg4 = Party("agg4", "127.0.0.7", root / "agg4")
    consortium["extra"].append(agg4)
    identity = agg4.init_node(*POLICY)
    agg4.run("node", "install-genesis", "--node-home", str(agg4.home), "--genesis",
             str(parties["dso"].root / "genesis.json"))
    agg4.start()
    stop, done = threading.Event(), []
    sender = threading.Thread(target=_transfers, args=(consortium, stop, done))
    sender.start()
    try:
        proposed = _vote(parties["dso"], "propose-add", "--name", "agg4", "--public-key", identity["public_key"],
                         "--power", "10", "--role", "aggregator")
        proposal = re.search(r"proposal (\S+),", proposed).group(1)
        _vote(parties["agg1"], "approve", proposal)
        added = _vote(parties["agg2"], "approve", proposal)
        assert "the new validator set signs from height" in added, added
        wait_for(lambda: any(v["name"] == "agg4" for v in _validators(parties["dso"])), 30, "agg4 in the validator set")
        agg3 = consortium["ids"]["agg3"]["address"]
        proposal = re.search(r"proposal (\S+),", _vote(parties["dso"], "propose-remove", "--address", agg3)).group(1)
        for name in ("agg1", "agg2"):
            _vote(parties[name], "approve", proposal)
        removed = _vote(agg4, "approve", proposal)
        assert "the new validator set signs from height" in removed, removed
        parties["agg3"].stop()
        remaining = [parties["dso"], parties["agg1"], parties["agg2"], agg4]
        wait_for_height(remaining, max(p.height() for p in remaining) + 3, 30)
    finally:
        stop.set()
        sender.join(60)
    assert done and set(done) == {"ok"}, done
    listed = parties["dso"].run("validators", "list").stdout
    assert "agg4" in listed and "agg3" not in listed, listed
