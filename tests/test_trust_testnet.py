"""Governance and verified reads on a real 4-validator testnet: a validator added and another
removed through `flexledger validators`, each vote at its own node with its own node key, while a
wallet that started from the genesis file verifies a balance before and after both changes, following
the validator set each time."""
import json
import re
from pathlib import Path

from cli.main import main as cli_main
from testnet.layout import add_node
from tests.testnetkit import issuer_key, running_testnet


def flexledger(capsys, *args: str) -> str:
    assert cli_main(list(args)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_validators_added_and_removed_by_cli_while_a_wallet_verifies(tmp_path, capsys, monkeypatch):
    with running_testnet(tmp_path) as net:
        monkeypatch.setenv("FLEXLEDGER_PASSWORD", net.layout.password())
        monkeypatch.delenv("FLEXLEDGER_PASSWORD_FILE", raising=False)
        wallet = ["--home", str(tmp_path / "prosumer")]
        genesis = str(Path(net.layout.node("dso").home) / "genesis.json")

        def vote(name: str, *args: str) -> str:
            return flexledger(capsys, "--node", net.client(name).url, "validators", *args,
                              "--node-home", net.layout.node(name).home)

        def verify(name: str) -> str:
            return flexledger(capsys, *wallet, "--node", net.client(name).url, "wallet", "balance",
                              "0x" + "44" * 20, "--verify", "--genesis", genesis)

        dso = net.client("dso")
        sent = dso.call(issuer_key(net), dso.contracts()["token"], "transfer", ["0x" + "44" * 20, 1])
        assert re.fullmatch(r"0x(44){20} 0\.000001: verified by [34] of 4 validators \(power [34]0 of 40\) at "
                            r"height \d+\n", verify("agg3"))
        entry, key = add_node(net.layout, "agg4")
        proposed = vote("dso", "propose-add", "--name", "agg4", "--public-key", key.public_key.hex(),
                        "--power", "10", "--role", "aggregator")
        ident = re.search(r"proposal ([0-9a-f]{64}), approved by 1 validator\(s\) with power 10 of the 27 needed",
                          proposed).group(1)
        assert ident in flexledger(capsys, "--node", net.client("agg2").url, "validators", "proposals")
        vote("agg1", "approve", ident)
        applied = vote("agg2", "approve", ident)
        effective = int(re.fullmatch(r"add_validator: applied in block \d+; the new validator set signs from "
                                     r"height (\d+)\n", applied).group(1))
        net.start("agg4")
        net.wait_for_height(effective + 2, 30, ["dso", "agg4"])
        assert " of 5 validators (power " in verify("agg2")

        agg1 = net.layout.node("agg1").address
        proposed = vote("agg4", "propose-remove", "--address", agg1)
        ident = re.search(r"proposal ([0-9a-f]{64}), approved by 1 validator\(s\) with power 10 of the 34 needed",
                          proposed).group(1)
        vote("dso", "approve", ident)
        vote("agg2", "approve", ident)
        applied = vote("agg3", "approve", ident)
        effective = int(re.search(r"signs from height (\d+)", applied).group(1))
        net.wait_for_height(effective + 2, 30, ["dso", "agg4"])
        net.kill("agg1")
        assert re.search(r": verified by [34] of 4 validators \(power [34]0 of 40\) at height \d+\n$", verify("agg4"))
        listed = flexledger(capsys, "--node", net.client("dso").url, "validators", "list")
        assert "agg4" in listed and agg1 not in listed
        old_tx = json.loads(flexledger(capsys, *wallet, "--node", net.client("agg4").url, "chain", "tx",
                                       sent["tx_hash"], "--verify"))  # signed by the genesis set, trusted still
        assert re.fullmatch(rf"verified by [34] of 4 validators \(power [34]0 of 40\) at height "
                            rf"{sent['receipt']['height']}", old_tx["verified"])
