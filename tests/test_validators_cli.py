"""`flexledger validators ...` against a real dev node: add a validator, a proposal below the quorum,
its approval by id, the effective heights printed, and every refusal's exact message."""
import re

from tests.chainkit import wait_until


def _show(dev_node, name: str) -> tuple[str, str]:
    out = dev_node.cli("keys", "show", name).stdout
    return out.split("address:")[1].split()[0], out.split("public key:")[1].split()[0]


def _height(dev_node) -> int:
    return dev_node.client.status()["height"]


def test_add_a_validator_then_a_proposal_approved_by_id(dev_node):
    node_home = str(dev_node.home / "node")
    dev_node.cli("keys", "new", "agg1")
    agg1, agg1_key = _show(dev_node, "agg1")
    dso = dev_node.client.status()["validators"][0]["address"]
    added = dev_node.cli("validators", "propose-add", "--name", "agg1", "--public-key", agg1_key, "--power", "4",
                         "--role", "aggregator", "--node-home", node_home).stdout
    block, effective = map(int, re.fullmatch(r"add_validator: applied in block (\d+); the new validator set signs "
                                             r"from height (\d+)\n", added).groups())
    assert effective == block + 2
    listed = dev_node.cli("validators", "list").stdout
    assert f"scheduled change, effective at height {effective}:" in listed or _height(dev_node) >= effective
    wait_until(lambda: _height(dev_node) >= effective, 10)
    listed = dev_node.cli("validators", "list").stdout.splitlines()
    assert re.fullmatch(r"validators signing block \d+ \(power 14, quorum 10\):", listed[0])
    assert listed[1:] == [f"  dso          {dso}  power 10     dso", f"  agg1         {agg1}  power 4      aggregator",
                          "open proposals: none"]

    proposed = dev_node.cli("validators", "propose-power", "--address", dso, "--power", "20", "--key", "agg1").stdout
    ident = re.fullmatch(r"set_power: proposal ([0-9a-f]{64}), approved by 1 validator\(s\) with power 4 of the 10 "
                         r"needed; the others run: flexledger validators approve \1\n", proposed).group(1)
    assert dev_node.cli("validators", "proposals").stdout == (
        f"{ident}  set_power(address=dso, power=20)\n    approved by agg1: power 4 of the 10 needed\n")
    again = dev_node.cli("validators", "approve", ident, "--key", "agg1", check=False)
    assert again.stderr.startswith("error [already_approved]: transaction ")
    assert again.stderr.endswith(" failed: this validator already approved the proposal\n")
    approved = dev_node.cli("validators", "approve", ident, "--node-home", node_home).stdout
    assert re.fullmatch(r"set_power: applied in block \d+; the new validator set signs from height \d+\n", approved)
    assert dev_node.cli("validators", "proposals").stdout == "no open proposals\n"


def test_refusals_name_the_flag_and_the_fix(dev_node):
    node_home = str(dev_node.home / "node")
    status = dev_node.client.status()
    dso, dso_key = status["validators"][0]["address"], status["validators"][0]["public_key"]
    stranger = "0x" + "33" * 20

    def refused(*args: str) -> str:
        result = dev_node.cli("validators", *args, "--node-home", node_home, check=False)
        assert result.returncode != 0 and result.stdout == ""
        return result.stderr

    assert refused("approve", "ab" * 32) == (f"error: no open proposal {'ab' * 32!r}: see 'flexledger validators "
                                             f"proposals' (an applied proposal is no longer open)\n")
    assert refused("propose-remove", "--address", stranger) == \
        f"error: --address {stranger} is not a validator (see 'flexledger validators list')\n"
    assert refused("propose-power", "--address", stranger, "--power", "5") == \
        f"error: --address {stranger} is not a validator (see 'flexledger validators list')\n"
    assert refused("propose-remove", "--address", dso) == \
        f"error: --address {dso} is dso, the last dso validator: add another dso validator first\n"
    assert refused("propose-add", "--name", "again", "--public-key", dso_key, "--power", "1", "--role", "dso") == \
        f"error: --public-key {dso_key[:16]}… is already a validator's key\n"
    assert refused("propose-add", "--name", "x", "--public-key", "zz", "--power", "1", "--role", "dso").endswith(
        "error: argument --public-key: must be the validator's ed25519 public key, 64 hex digits (as "
        "'flexledger node show-id' prints it), not 'zz'\n")
    assert refused("propose-power", "--address", dso, "--power", "0").endswith(
        "error: argument --power: must be a positive whole number of voting power, not '0'\n")
    assert refused("propose-power", "--address", "0xAB", "--power", "1").endswith(
        "error: argument --address: must be a validator address, 0x and 40 lowercase hex digits, not '0xAB'\n")
    assert refused("propose-add", "--name", "x", "--public-key", "ab" * 32, "--power", "1", "--role", "boss").endswith(
        "error: argument --role: invalid choice: 'boss' (choose from 'dso', 'aggregator')\n")
    dev_node.cli("keys", "new", "outsider")
    outsider = _show(dev_node, "outsider")[0]
    assert dev_node.cli("validators", "propose-power", "--address", dso, "--power", "5", "--key", "outsider",
                        check=False).stderr == (
        f"error [account_not_permitted]: account {outsider} is not admitted to this chain: it must be a validator, "
        f"the grid oracle, a registered participant or on the allow list\n")
