"""`wallet balance --verify` and `chain tx --verify` against a real node process, and against a
node that forges its answers (a proxy in front of the real node rewriting them)."""
import contextlib
import http.server
import json
import re
import threading
import urllib.request

from node.encoding import encode
from tests.chainkit import wait_until


def _issuer(dev_node) -> str:
    return dev_node.cli("keys", "show", "issuer").stdout.split("address:")[1].split()[0]


def _genesis(dev_node) -> str:
    return str(dev_node.home / "node" / "genesis.json")


@contextlib.contextmanager
def forging_proxy(node_url: str, forge):
    """An HTTP server passing every GET to ``node_url`` and answering with ``forge(path, answer)``."""
    class Forger(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            try:
                with urllib.request.urlopen(node_url + self.path, timeout=10) as response:
                    status, answer = response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                status, answer = error.code, json.loads(error.read())
            body = json.dumps(forge(self.path, answer)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Forger)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _rich_balance(path, answer):
    if path.startswith("/light/state"):
        answer["entries"][0]["value"] = encode(10**15).hex()
    return answer


def test_balance_and_transfer_verified_against_the_genesis_validators(dev_node):
    issuer = _issuer(dev_node)
    sent = dev_node.cli("wallet", "send", "0x" + "22" * 20, "2.5", "--key", "issuer").stdout
    tx_hash = sent.split("(tx ")[1].rstrip(")\n")
    first = dev_node.cli("wallet", "balance", issuer, "--verify", "--genesis", _genesis(dev_node)).stdout
    assert first.startswith(f"{issuer} ") and ": verified by 1 of 1 validators (power 10 of 10) at height " in first
    kept = json.loads((dev_node.home / "trusted-validators.json").read_text())["trusted_sets"]
    assert [(s["chain_id"], s["height"]) for s in kept] == [("flexledger-dev", 0)]
    again = dev_node.cli("wallet", "balance", "0x" + "22" * 20, "--verify").stdout  # the kept trust is enough
    assert again.startswith("0x" + "22" * 20 + " 2.500000: verified by 1 of 1 validators")
    proven = json.loads(dev_node.cli("chain", "tx", tx_hash, "--verify").stdout)
    assert proven["receipt"]["status"] == "ok" and proven["tx"]["payload"]["args"][1] == 2_500_000
    assert proven["verified"].startswith("verified by 1 of 1 validators (power 10 of 10) at height ")


def test_a_node_serving_a_forged_balance_is_refused(dev_node):
    issuer = _issuer(dev_node)
    wait_until(lambda: dev_node.client.status()["height"] >= 1, 10)
    with forging_proxy(dev_node.url, _rich_balance) as forger:
        refused = dev_node.cli("--node", forger, "wallet", "balance", issuer, "--verify", "--genesis",
                               _genesis(dev_node), check=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error [bad_proof]: not verified: the proof of state key b'stor:")
    assert re.search(r"does not lead from the value given to the state root of block [0-9]+\n$", refused.stderr)
    assert not (dev_node.home / "trusted-validators.json").exists()  # nothing learnt from a refused answer


def test_a_node_serving_another_root_or_chain_is_refused(dev_node):
    issuer = _issuer(dev_node)
    wait_until(lambda: dev_node.client.status()["height"] >= 1, 10)
    with forging_proxy(dev_node.url, lambda path, answer: {**answer, "state_root": "ab" * 32}) as forger:
        refused = dev_node.cli("--node", forger, "wallet", "balance", issuer, "--verify", "--genesis",
                               _genesis(dev_node), check=False)
    assert refused.stderr.startswith("error [root_mismatch]: not verified: the proof is against state root "
                                     "abababababababab…, block ")
    genesis = json.loads((dev_node.home / "node" / "genesis.json").read_text())
    other = dev_node.home / "other-genesis.json"
    other.write_text(json.dumps({**genesis, "chain_id": "another-chain"}))
    refused = dev_node.cli("wallet", "balance", issuer, "--verify", "--genesis", str(other), check=False)
    assert refused.stderr == ("error [chain_id_mismatch]: not verified: the node serves chain 'flexledger-dev', "
                              "the wallet trusts chain 'another-chain'\n")


def test_verify_flags_are_checked(dev_node):
    refused = dev_node.cli("wallet", "balance", "issuer", "--verify", check=False)
    assert refused.stderr == (f"error [no_trusted_validators]: not verified: no trusted validator set in "
                              f"{dev_node.home / 'trusted-validators.json'}: give the chain's genesis file once with "
                              f"--genesis FILE (check its hash with your consortium)\n")
    refused = dev_node.cli("wallet", "balance", "issuer", "--genesis", _genesis(dev_node), check=False)
    assert refused.stderr == "error: --genesis is read only with --verify: add --verify, or leave --genesis out\n"
    refused = dev_node.cli("chain", "tx", "12ab", "--verify", check=False)
    assert refused.stderr == "error: HASH must be a tx hash of 64 hex digits (with or without 0x), not '12ab'\n"
