"""`make demo` runs the interim demo: it must finish, and every node must agree at the end."""
import subprocess
import sys


def test_demo_runs_to_the_end():
    result = subprocess.run([sys.executable, "-m", "testnet.devdemo"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "(all four agree)" in result.stdout and "demo finished" in result.stdout
    assert "sent 40.250000 to" in result.stdout
