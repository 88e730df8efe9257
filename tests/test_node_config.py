"""A node's config: HOST:PORT and ADDRESS@HOST:PORT as operators write them, every config field
checked on load with an error naming the file and the field, older layouts still read, and the
plain node_id.json checked against the encrypted key."""
import json

import pytest

from node.config import ConfigError, NodeConfig, NodeHome
from node.keys import KeyPair
from node.netaddr import HostPort, parse_host_port, parse_peer

ADDRESS = "0x" + "ab" * 20


@pytest.mark.parametrize("text, parsed", [
    ("127.0.0.2:26656", HostPort("127.0.0.2", 26656)),
    ("node1.example.org:1", HostPort("node1.example.org", 1)),
    ("[2001:db8::1]:26656", HostPort("2001:db8::1", 26656)),
])
def test_host_port_parses(text, parsed):
    assert parse_host_port(text) == parsed and str(parsed) == text


@pytest.mark.parametrize("text, message", [
    ("26656", "'26656' is not HOST:PORT (e.g. 203.0.113.7:26656 or node1.example.org:26656)"),
    ("host:0", "'host:0': the port must be a number from 1 to 65535"),
    ("host:65536", "'host:65536': the port must be a number from 1 to 65535"),
    ("bad host:1", "'bad host:1': 'bad host' is not a host name or IP address"),
    ("2001:db8::1:80", "'2001:db8::1:80': write an IPv6 host in brackets, e.g. [2001:db8::1]:26656"),
    ("[nope]:80", "'[nope]:80': 'nope' is not an IPv6 address"),
])
def test_bad_host_port_says_why(text, message):
    with pytest.raises(ValueError) as error:
        parse_host_port(text)
    assert str(error.value) == message


def test_peer_address_parses_and_refuses():
    peer = parse_peer(f"{ADDRESS}@203.0.113.7:26656")
    assert (peer.address, str(peer.endpoint), str(peer)) == (ADDRESS, "203.0.113.7:26656",
                                                             f"{ADDRESS}@203.0.113.7:26656")
    with pytest.raises(ValueError) as error:
        parse_peer("203.0.113.7:26656")
    assert str(error.value) == ("'203.0.113.7:26656' is not ADDRESS@HOST:PORT (the peer's node address as "
                                "'flexledger node show-id' prints it, e.g. 0x1f…9a@203.0.113.7:26656)")
    with pytest.raises(ValueError) as error:
        parse_peer("0xAB@h:1")
    assert str(error.value) == "'0xAB@h:1': '0xAB' is not a node address (0x and 40 lowercase hex digits)"


def test_defaults_listen_for_peers_everywhere_and_serve_the_api_locally():
    config = NodeConfig()
    assert (config.p2p_listen, config.api_listen, config.p2p_address) == ("0.0.0.0:26656", "127.0.0.1:26657",
                                                                          "0.0.0.0:26656")
    assert NodeConfig(external_address="198.51.100.4:30000").p2p_address == "198.51.100.4:30000"


def _load_with(tmp_path, **fields) -> NodeConfig:
    home = NodeHome(tmp_path)
    home.save_config(NodeConfig())
    doc = json.loads(home.config_file.read_text())
    home.config_file.write_text(json.dumps({**doc, **fields}))
    return home.load_config()


@pytest.mark.parametrize("fields, message", [
    ({"colour": "blue"}, "unknown field 'colour' (known fields: api_listen, "),
    ({"p2p_listen": "0.0.0.0"}, "p2p_listen: '0.0.0.0' is not HOST:PORT"),
    ({"api_listen": "localhost:99999"}, "api_listen: 'localhost:99999': the port must be a number from 1 to 65535"),
    ({"external_address": "x y:1"}, "external_address: 'x y:1': 'x y' is not a host name or IP address"),
    ({"peers": [{"address": "0x12", "p2p": "h:1"}]}, "peers[0].address is not a node address: '0x12'"),
    ({"peers": [{"address": ADDRESS, "p2p": "h"}]}, "peers[0].p2p: 'h' is not HOST:PORT"),
    ({"peers": [{"address": ADDRESS, "p2p": "h:1"}, {"address": ADDRESS, "p2p": "g:1"}]},
     f"peers[1].address {ADDRESS} is listed twice"),
    ({"peers": ["h:1"]}, "peers[0] must be {\"address\": \"0x…\", \"p2p\": \"HOST:PORT\"}, not 'h:1'"),
    ({"timeouts": {"propose": -1}}, "timeouts.propose must be a number of seconds, zero or more, not -1"),
    ({"timeouts": {"lunch": 1}}, "timeouts: unknown timeout 'lunch' (known: propose, "),
    ({"mempool_capacity": 0}, "mempool_capacity must be a whole number of at least 1, not 0"),
    ({"query_timeout": 0}, "query_timeout must be a number of seconds above zero, not 0"),
    ({"dev": "yes"}, "dev must be of type bool, not 'yes'"),
])
def test_a_bad_config_field_is_named_with_its_file(tmp_path, fields, message):
    with pytest.raises(ConfigError) as error:
        _load_with(tmp_path, **fields)
    assert str(error.value).startswith(f"{tmp_path / 'config.json'}: {message}")


def test_an_older_config_layout_still_loads(tmp_path):
    home = NodeHome(tmp_path)
    home.path.mkdir(exist_ok=True)
    home.config_file.write_text(json.dumps({
        "api_host": "127.0.0.1", "api_port": 40001, "p2p_host": "127.0.0.1", "p2p_port": 40002, "dev": False,
        "peers": [{"address": ADDRESS, "p2p_url": "http://127.0.0.1:40004", "api_url": "http://127.0.0.1:40003"}]}))
    config = home.load_config()
    assert (config.api_listen, config.p2p_listen) == ("127.0.0.1:40001", "127.0.0.1:40002")
    assert config.peers == [{"address": ADDRESS, "p2p": "127.0.0.1:40004"}]


def test_with_peers_keeps_what_is_listed_and_adds_the_rest():
    config = NodeConfig(peers=[{"address": ADDRESS, "p2p": "old.example.org:1"}])
    other = "0x" + "cd" * 20
    added = config.with_peers([parse_peer(f"{ADDRESS}@new.example.org:2"), parse_peer(f"{other}@h:3")])
    assert added.peers == [{"address": ADDRESS, "p2p": "old.example.org:1"}, {"address": other, "p2p": "h:3"}]


def test_node_id_must_name_the_encrypted_key(tmp_path):
    home, key = NodeHome(tmp_path), KeyPair.generate()
    home.save_key(key, "pw")
    assert home.load_key("pw") == key  # an older home: node_id.json is written on first unlock
    assert home.load_node_id() == {"address": key.address, "public_key": key.public_key.hex()}
    home.save_node_id(KeyPair.generate())
    with pytest.raises(ConfigError) as error:
        home.load_key("pw")
    assert str(error.value) == (f"{home.node_id_file} names another key than {home.key_file}: restore the files "
                                f"of this home from its backup (the node key is the one that counts)")
