"""Shared fixtures."""
import pytest

from tests.chainkit import LocalChain


@pytest.fixture
def chain(tmp_path):
    test_chain = LocalChain(tmp_path / "node")
    yield test_chain
    test_chain.close()
