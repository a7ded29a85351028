"""Shared pytest fixtures: the real daemon on a temp SQLite file."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# scripts/pgcluster.py: throwaway PostgreSQL clusters, shared with the demo
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts"))

from daemon import TEST_BINARY, Daemon  # noqa: E402


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path).start()
    yield d
    if d.proc:
        assert d.stop() == 0, d.log()


@pytest.fixture
def tdaemon(tmp_path):
    """The daemon linked with the test replication engine (cutoverd-test)."""
    d = Daemon(tmp_path, binary=TEST_BINARY).start()
    yield d
    if d.proc:
        assert d.stop() == 0, d.log()


@pytest.fixture
def api(daemon):
    """A requests session bound to the daemon, validating every response
    against the OpenAPI contract when the contract module is available."""
    try:
        from contract import ContractSession
        s = ContractSession(daemon.url)
    except ImportError:  # pragma: no cover - contract module missing
        import requests
        s = requests.Session()
        s.base_url = daemon.url
    return s


@pytest.fixture
def rd(tmp_path):
    """The daemon built with the test replication engine (cutoverd-test)."""
    d = Daemon(tmp_path, binary=TEST_BINARY).start()
    yield d
    if d.proc:
        assert d.stop() == 0, d.log()
