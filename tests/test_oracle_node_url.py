"""The grid oracle's node URL (issue 11): from oracle.json, overridden by ``oracle start|status --node``,
checked with errors that name the field or flag; no loopback address assumed anywhere in the oracle."""
from pathlib import Path

import pytest

from cli.main import main
from gridoracle.config import ConfigError, OracleHome, check_node_url, parse_config
from gridoracle.setup import create_oracle_home

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "oracle-test-password"


@pytest.mark.parametrize("url", ["http://10.0.0.5:26657", "https://node.dso.example", "http://[fd00::5]:26657/"])
def test_a_node_url_on_any_host_is_accepted(url):
    assert check_node_url(url) == url
    assert parse_config({"node": url}).node == url


@pytest.mark.parametrize("url", ["10.0.0.5:26657", "ftp://10.0.0.5", "http://", "http://10.0.0.5:99999",
                                 "http://10.0.0.5:0", "http://10.0.0.5:26657/status", "http://h?x=1", None, 26657])
def test_a_bad_node_url_is_refused_naming_the_field(url):
    with pytest.raises(ConfigError) as error:
        parse_config({"node": url})
    assert str(error.value) == ("node must be the URL of a node's API, http(s)://HOST:PORT "
                                f"(e.g. http://10.0.0.5:26657), got {url!r}")


@pytest.fixture
def oracle_home(tmp_path, monkeypatch):
    monkeypatch.setenv("FLEXLEDGER_PASSWORD", PASSWORD)
    monkeypatch.delenv("FLEXLEDGER_PASSWORD_FILE", raising=False)
    create_oracle_home(tmp_path / "oracle", "http://10.0.0.5:26657", PASSWORD)
    return tmp_path / "oracle"


def test_the_flag_overrides_the_configured_node(oracle_home):
    assert OracleHome(oracle_home).load_config().node == "http://10.0.0.5:26657"
    assert OracleHome(oracle_home, "https://dso-node.example:8443").load_config().node == \
        "https://dso-node.example:8443"


def test_oracle_status_follows_the_node_given_by_the_flag(oracle_home, capsys):
    unreachable = "http://127.0.0.9:9"  # nothing listens there
    assert main(["oracle", "status", "--oracle-home", str(oracle_home), "--node", unreachable, "--json"]) == 0
    assert f'"node": "{unreachable}"' in capsys.readouterr().out


@pytest.mark.parametrize("action", ["start", "status"])
def test_a_bad_node_flag_is_refused_with_the_flag_named(oracle_home, capsys, action):
    assert main(["oracle", action, "--oracle-home", str(oracle_home), "--node", "dso-node:26657"]) == 1
    assert capsys.readouterr().err == ("error: --node must be the URL of a node's API, http(s)://HOST:PORT "
                                       "(e.g. http://10.0.0.5:26657), got 'dso-node:26657'\n")


def test_oracle_init_refuses_a_bad_node_url(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FLEXLEDGER_PASSWORD", PASSWORD)
    assert main(["--node", "10.0.0.5", "oracle", "init", "--oracle-home", str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err == ("error: --node must be the URL of a node's API, http(s)://HOST:PORT "
                                       "(e.g. http://10.0.0.5:26657), got '10.0.0.5'\n")
    assert not (tmp_path / "o").exists()


def test_nothing_in_the_oracle_assumes_a_loopback_node():
    sources = [*sorted((REPO / "gridoracle").glob("*.py")), REPO / "cli" / "oracle_cmd.py"]
    assert [str(p.relative_to(REPO)) for p in sources if "127.0.0.1" in p.read_text()
            or "localhost" in p.read_text()] == []


@pytest.mark.parametrize("action", ["start", "status"])
def test_the_oracle_checks_an_https_node_against_the_ca_file_given(oracle_home, tmp_path, capsys, action):
    missing = tmp_path / "consortium-ca.pem"
    assert main(["--ca-file", str(missing), "oracle", action, "--oracle-home", str(oracle_home),
                 "--node", "https://dso-node.example:26657"]) == 1
    assert capsys.readouterr().err == f"error [bad_ca_file]: --ca-file: {missing} does not exist\n"
