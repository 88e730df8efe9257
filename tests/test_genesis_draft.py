"""The genesis draft: each change refuses bad values with an error naming the field (the CLI
names the flag), a hand-edited draft is held to the same checks, and finalize refuses what
a chain cannot start without."""
import json

import pytest

from cli.main import main
from market.ceremony import check_market_setting, finalize, set_setting
from node.genesisdraft import (DraftError, add_participant, add_validator, check_complete, new_draft, replay,
                               set_issuer, set_oracle)
from node.keys import KeyPair

KEYS = [KeyPair.generate() for _ in range(6)]
DSO, AGG, ISSUER, ORACLE, ALICE, BOB = KEYS


def pk(key: KeyPair) -> str:
    return key.public_key.hex()


@pytest.fixture
def draft():
    d = new_draft("westgrid", 1_767_225_600_000)
    d = add_validator(d, "dso", pk(DSO), 10, "dso", "dso.example.org:26656")
    d = add_validator(d, "agg1", pk(AGG), 10, "aggregator", "198.51.100.4:26656")
    d = set_issuer(d, ISSUER.address, 10**12)
    d = set_oracle(d, "dso grid oracle", pk(ORACLE), 10**12)
    return add_participant(d, ALICE.address, "alice", ["prosumer"], pk(ALICE), 5 * 10**6)


def refused(change) -> str:
    with pytest.raises(DraftError) as error:
        change()
    return str(error.value)


def test_a_complete_draft_finalizes_to_a_genesis_the_chain_accepts(draft):
    draft = set_setting(draft, "market.commit", "1800")
    draft = set_setting(draft, "params.block_gas_limit", "300000000")
    genesis = finalize(draft)
    assert genesis.chain_id == "westgrid" and [v.name for v in genesis.validators.validators] == ["dso", "agg1"]
    assert genesis.p2p == {DSO.address: "dso.example.org:26656", AGG.address: "198.51.100.4:26656"}
    assert genesis.params.block_gas_limit == 300_000_000
    assert genesis.allowed_accounts == (ISSUER.address,) and genesis.deployers == (ISSUER.address,)
    minted = {call.args[0]: call.args[1] for call in genesis.calls if call.function == "mint"}
    assert minted == {ISSUER.address: 10**12, ORACLE.address: 10**12, ALICE.address: 5 * 10**6}
    admitted = [call.args[:3] for call in genesis.calls if call.function == "admit"]
    assert admitted == [[ORACLE.address, "dso grid oracle", ["dso"]], [ALICE.address, "alice", ["prosumer"]]]


def test_replaying_a_draft_gives_it_back(draft):
    assert replay(json.loads(json.dumps(draft)), check_market_setting) == draft


@pytest.mark.parametrize("change, message", [
    (lambda d: add_validator(d, "dso2", pk(DSO), 10, "dso", "h:1"), "public_key: already the key of validator 'dso'"),
    (lambda d: add_validator(d, "dso", pk(BOB), 10, "dso", "h:1"), "name: there is already a validator named 'dso'"),
    (lambda d: add_validator(d, "x", "ab", 10, "dso", "h:1"),
     "public_key: must be 64 hex digits (as 'flexledger node show-id' prints it), not 'ab'"),
    (lambda d: add_validator(d, "x", pk(BOB), 0, "dso", "h:1"), "power: must be a positive whole number, not 0"),
    (lambda d: add_validator(d, "x", pk(BOB), 1, "king", "h:1"), "role: must be one of dso, aggregator, not 'king'"),
    (lambda d: add_validator(d, "x", pk(BOB), 1, "dso", "h"),
     "p2p: 'h' is not HOST:PORT (e.g. 203.0.113.7:26656 or node1.example.org:26656)"),
    (lambda d: add_validator(d, "x", pk(BOB), 1, "dso", "0.0.0.0:26656"),
     "p2p: 0.0.0.0:26656 listens everywhere but cannot be dialled: give the host other validators reach this "
     "node at ('node init --external-address HOST:PORT')"),
    (lambda d: add_validator(d, "x", pk(ALICE), 1, "dso", "h:1"),
     f"public_key: {ALICE.address} is already participant 'alice' in this draft"),
    (lambda d: set_oracle(d, "oracle", pk(BOB), 1, ALICE.address),
     f"address: {ALICE.address} is not the address of public key {pk(BOB)} (that is {BOB.address})"),
    (lambda d: add_participant(d, BOB.address, "bob", ["prosumer"], pk(ALICE), 0),
     f"address: {BOB.address} is not the address of public key {pk(ALICE)} (that is {ALICE.address})"),
    (lambda d: add_participant(d, BOB.address, "bob", ["prosumer"], None, 0),
     "public_key: a participant with roles needs its public key: the registry keeps it"),
    (lambda d: add_participant(d, BOB.address, "alice", [], None, 1), "name: there is already a participant named 'alice'"),
    (lambda d: add_participant(d, ISSUER.address, "bob", [], None, 1),
     f"address: {ISSUER.address} is already the issuer in this draft"),
    (lambda d: add_participant(d, "0xAB", "bob", [], None, 1),
     "address: must be 0x and 40 lowercase hex digits, not '0xAB'"),
    (lambda d: set_issuer(d, BOB.address, 0), "supply: must be a positive number of micro-units, not 0"),
    (lambda d: set_setting(d, "market.colour", "1"), "market.colour: unknown setting (known: params.block_gas_limit,"),
    (lambda d: set_setting(d, "params.max_tx_gas", "-1"),
     "params.max_tx_gas: chain parameter max_tx_gas must be a positive integer"),
    (lambda d: set_setting(d, "market.authority", "me"),
     "market.authority: must be an address (0x and 40 lowercase hex digits), not 'me'"),
    (lambda d: set_setting(d, "market.gate", "0"), "market.gate: must be a whole number, at least 1, not 0"),
])
def test_a_bad_change_names_the_field(draft, change, message):
    assert refused(lambda: change(draft)).startswith(message)


def test_finalize_refuses_what_a_chain_cannot_start_without():
    d = new_draft("westgrid", 0)
    assert refused(lambda: check_complete(d)) == ("validators: none yet: add each validator with "
                                                  "'flexledger genesis add-validator'")
    d = add_validator(d, "agg1", pk(AGG), 10, "aggregator", "h:1")
    assert refused(lambda: finalize(d)) == ("validators: none has the role dso: the DSO runs a validator "
                                            "('flexledger genesis add-validator ... --role dso')")
    d = add_validator(d, "dso", pk(DSO), 10, "dso", "h:2")
    assert refused(lambda: finalize(d)) == ("issuer: not set: name the token issuer with "
                                            "'flexledger genesis set-issuer'")
    d = set_issuer(d, ISSUER.address, 1)
    assert refused(lambda: finalize(d)) == ("oracle: not set: name the DSO's grid oracle key with "
                                            "'flexledger genesis set-oracle'")


def test_finalize_refuses_a_draft_the_genesis_contracts_refuse(draft):
    draft = set_setting(draft, "market.council", BOB.address)
    draft = set_setting(draft, "market.threshold", "2")  # two votes of a council of one
    assert refused(lambda: finalize(draft)).startswith("market: the genesis contracts refuse this draft: genesis "
                                                       "contracts failed: ")


def test_a_hand_edited_draft_is_checked_by_replaying_it(draft):
    doc = json.loads(json.dumps(draft))
    doc["validators"][1]["public_key"] = doc["validators"][0]["public_key"]
    assert refused(lambda: replay(doc)) == "validators[1].public_key: already the key of validator 'dso'"
    doc = json.loads(json.dumps(draft))
    del doc["oracle"]["balance"]
    assert refused(lambda: replay(doc)) == ("draft: damaged entry (KeyError: 'balance'); rebuild it with the "
                                            "genesis commands")


# -- the CLI: errors name the flag -------------------------------------------------------------
def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out, err.strip()


def test_genesis_cli_errors_name_the_flag(tmp_path, capsys):
    path = str(tmp_path / "draft.json")
    assert run(capsys, "genesis", "new", "--chain-id", "westgrid", "--draft", path, "--genesis-time",
               "2027-01-01T00:00:00")[2] == ("error: --genesis-time: '2027-01-01T00:00:00' has no time zone; add Z "
                                             "for UTC or an offset like +01:00")
    assert run(capsys, "genesis", "new", "--chain-id", "westgrid", "--draft", path, "--genesis-time",
               "1969-12-31T00:00:00Z")[2] == "error: --genesis-time: must be milliseconds since 1970, not -86400000"
    assert run(capsys, "genesis", "new", "--chain-id", "westgrid", "--draft", path, "--genesis-time",
               "2027-01-01T00:00:00Z")[0] == 0
    assert run(capsys, "genesis", "new", "--chain-id", "x", "--draft", path)[2] == (
        f"error: --draft: {path} exists already; remove it or choose another file")
    add = ("genesis", "add-validator", "--draft", path, "--name", "dso", "--role", "dso", "--p2p", "h:1")
    assert run(capsys, *add, "--public-key", "12")[2] == (
        "error: --public-key: must be 64 hex digits (as 'flexledger node show-id' prints it), not '12'")
    assert run(capsys, *add)[2] == "error: --public-key is missing: give it, or --id FILE"
    (tmp_path / "id.json").write_text(json.dumps({"public_key": pk(DSO)}))
    assert run(capsys, *add, "--id", tmp_path / "id.json")[2] == (
        f"error: --id: {tmp_path / 'id.json'} has no 'p2p_address' (expected the output of 'flexledger node show-id "
        f"--json')")
    assert run(capsys, "genesis", "set-oracle", "--draft", path, "--key-file", tmp_path / "none.json")[2] == (
        f"error: --key-file: cannot read {tmp_path / 'none.json'}: No such file or directory")
    assert run(capsys, *add, "--public-key", pk(DSO))[0] == 0
    assert run(capsys, *add, "--public-key", pk(DSO))[2] == "error: --name: there is already a validator named 'dso'"
    assert run(capsys, "genesis", "set-issuer", "--draft", path, "--address", ISSUER.address, "--supply", "-3")[2] == (
        "error: --supply: invalid amount '-3': use a positive number like 12 or 0.25")
    assert run(capsys, "genesis", "add-participant", "--draft", path, "--address", ALICE.address, "--name", "alice",
               "--roles", "prosumer,wizard", "--public-key", pk(ALICE))[2] == (
        "error: --roles: unknown role 'wizard' (roles: dso, tso, aggregator, prosumer, token_issuer, "
        "meter_data_manager)")
    assert run(capsys, "genesis", "set", "--draft", path, "market.commit")[2].startswith(
        "error: 'market.commit' is not KEY=VALUE (keys: params.block_gas_limit, ")
    assert run(capsys, "genesis", "finalize", "--draft", path, "--out", str(tmp_path / "g.json"))[2] == (
        f"error: cannot finalize {path}: issuer: not set: name the token issuer with 'flexledger genesis set-issuer'")
    (tmp_path / "other.json").write_text('{"chain_id": "x"}')
    assert run(capsys, "genesis", "show", "--draft", str(tmp_path / "other.json"))[2] == (
        f"error: {tmp_path / 'other.json'}: not a genesis draft (no \"draft\": \"flexledger-genesis-draft/1\")")
    doc = json.loads((tmp_path / "draft.json").read_text())
    doc["validators"][0]["p2p"] = "h"
    (tmp_path / "draft.json").write_text(json.dumps(doc))
    assert run(capsys, "genesis", "show", "--draft", path)[2] == (
        f"error: {path}: validators[0].p2p: 'h' is not HOST:PORT (e.g. 203.0.113.7:26656 or node1.example.org:26656)")
