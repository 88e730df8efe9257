"""Shared fixtures."""
import pytest

from gridoracle.feeder import load_feeder
from gridoracle.forecast import load_forecast
from gridoracle.validate import GridValidator

from testnet.devnode import DevNode
from tests.chainkit import LocalChain


@pytest.fixture
def chain(tmp_path):
    test_chain = LocalChain(tmp_path / "node")
    yield test_chain
    test_chain.close()


@pytest.fixture(scope="session")
def model():
    """The default CIGRE LV feeder model (read-only in tests)."""
    return load_feeder()


@pytest.fixture(scope="session")
def forecast(model):
    return load_forecast(model)


@pytest.fixture(scope="session")
def validator(model, forecast):
    return GridValidator(model, forecast)


@pytest.fixture
def dev_node(tmp_path):
    """A single-authority node process (0.1 s blocks) in a temp dir, killed afterwards."""
    node = DevNode(tmp_path, block_interval=0.1)
    node.init()
    node.start()
    yield node
    node.kill()
