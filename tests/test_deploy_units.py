"""deploy/*.service (issue 11): each unit is accepted by systemd-analyze, runs a valid `flexledger`
command as a dedicated user, gets its password as a credential file, and is hardened."""
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli.main import build_parser

REPO = Path(__file__).resolve().parent.parent
UNITS = {"flexledger-node.service": ("node", "start"), "flexledger-oracle.service": ("oracle", "start")}
HOME = "/var/lib/flexledger"


def unit_settings(path: Path) -> dict[str, list[str]]:
    """``section.Key`` -> its values in order (systemd allows a key more than once)."""
    settings, section = {}, None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key}", []).append(value)
    return settings


@pytest.mark.parametrize("unit, command", UNITS.items())
def test_the_unit_runs_a_valid_flexledger_command_line(unit, command):
    (exec_start,) = unit_settings(REPO / "deploy" / unit)["Service.ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0] == "/opt/flexledger/bin/flexledger"
    args = build_parser().parse_args(argv[1:])
    assert (args.command, args.action) == command
    home = args.node_home if args.command == "node" else args.oracle_home
    assert str(home).startswith(HOME + "/")


@pytest.mark.parametrize("unit", UNITS)
def test_the_unit_is_hardened_and_reads_its_password_from_a_credential(unit):
    settings = unit_settings(REPO / "deploy" / unit)
    single = {key: values[-1] for key, values in settings.items()}
    assert single["Service.User"] == single["Service.Group"] == "flexledger"
    assert single["Service.Restart"] == "on-failure"
    assert single["Service.NoNewPrivileges"] == "yes" and single["Service.ProtectSystem"] == "strict"
    assert single["Service.ReadWritePaths"] == HOME and single["Service.ProtectHome"] == "yes"
    assert int(single["Service.LimitNOFILE"]) >= 4096 and single["Service.UMask"] == "0077"
    assert single["Service.LoadCredential"].startswith("password:/etc/flexledger/")
    assert "FLEXLEDGER_PASSWORD_FILE=%d/password" in settings["Service.Environment"]
    assert not any("FLEXLEDGER_PASSWORD=" in value for value in settings["Service.Environment"])
    assert single["Install.WantedBy"] == "multi-user.target"


def test_nothing_in_deploy_assumes_a_loopback_address():
    assert [p.name for p in (REPO / "deploy").iterdir() if "127.0.0.1" in p.read_text()] == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    """As installed, except that ExecStart points at this checkout's flexledger (it must exist)."""
    flexledger = Path(sys.executable).parent / "flexledger"
    for unit in UNITS:
        text = (REPO / "deploy" / unit).read_text().replace("/opt/flexledger/bin/flexledger", str(flexledger))
        (tmp_path / unit).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *(str(tmp_path / u) for u in UNITS)],
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
