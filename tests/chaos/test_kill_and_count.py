"""The short kill-and-count run, inside `make test`: every kind of fault once under a few hundred
field operations, then every copy counted (tests/chaos/kill_and_count.py; `make chaos` runs the
long profile). It runs last in the suite: it restarts this machine's RabbitMQ and PostgreSQL."""
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.fleet import Faults

HARNESS = Path(__file__).with_name("kill_and_count.py")


@pytest.mark.skipif(bool(Faults.missing_tools()),
                    reason="needs rabbitmqctl and pg_ctlcluster to break the local broker and "
                           "database")
def test_every_copy_is_exact_after_every_kind_of_fault():
    done = subprocess.run([sys.executable, str(HARNESS), "--profile", "short"],
                          capture_output=True, text=True, timeout=900)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr[-5000:]
    assert "RESULT: every figure exact" in done.stdout
