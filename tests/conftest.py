"""Test set-up: eventlet first, then a private hub (own databases, exchange, ports) per test run.

Tests talk to the real PostgreSQL and RabbitMQ on 127.0.0.1; `make test` starts them if needed.
"""
import os

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")  # before psycopg is imported
# passwords hashed at Argon2's least cost in tests (a fifth of a second each at the default);
# tests/unit/test_passwords.py checks the default cost itself
os.environ.setdefault("HUB_ARGON2_TIME_COST", "1")
os.environ.setdefault("HUB_ARGON2_MEMORY_KIB", "1024")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))

from support.hub import RunningHub, cleanup_hub, test_settings  # noqa: E402


@pytest.fixture(scope="session")
def settings():
    s = test_settings()
    yield s
    cleanup_hub(s)


@pytest.fixture(scope="session")
def hub(settings):
    """intake and the gateway, running in this process for the whole session."""
    running = RunningHub(settings, ["intake", "gateway"], subscriptions={"probe": ["client.#"]})
    running.start()
    yield running
    running.stop()
