"""The action server redacts personal data from its log lines; importing `actions` alone changes no logging."""
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# Logs one line with an email after importing the actions package, and one after building the
# app `python -m actions.server` serves.
SCRIPT = """
import logging, sys
logging.basicConfig(stream=sys.stdout, format="%(message)s", level=logging.INFO)
import actions.server as server
log = logging.getLogger("actions.orders")
log.info("imported: maria.garcia@example.com")
server.serving_app(server.argument_parser().parse_args([]))
log.info("serving: maria.garcia@example.com")
"""


@pytest.mark.timeout(300)
def test_the_served_app_redacts_log_lines_and_the_import_alone_does_not() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "CS_ACTION_SERVER_TOKEN": "t" * 40}
    completed = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=280)
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = [line for line in completed.stdout.splitlines() if line.startswith(("imported:", "serving:"))]
    assert lines == ["imported: maria.garcia@example.com", "serving: [email]"]
