"""Real servers for end-to-end tests: the action server and `rasa run`, on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Optional

import requests

from tests.conftest import REPO

BIN = Path(sys.executable).parent
MODEL = REPO / "models" / "shop.tar.gz"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-4000:]}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not come up in {timeout} s:\n{log.read_text()[-4000:]}")


@contextmanager
def process(args: list, log: Path, env: Dict[str, str]) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def server_env(store_url: str, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    return {
        **os.environ,
        "CS_STORE_URL": store_url,
        "SANIC_HOST": "127.0.0.1",
        "RASA_TELEMETRY_ENABLED": "false",
        "PYTHONPATH": str(REPO),
        **(extra or {}),
    }


@contextmanager
def running_bot(
    tmp: Path,
    store_url: str,
    extra_env: Optional[Dict[str, str]] = None,
    credentials: Path = REPO / "credentials.yml",
    extra_endpoints: str = "",
    model: Path = MODEL,
) -> Iterator[str]:
    """Starts the action server and Rasa with the trained model; yields Rasa's base URL.

    `credentials` selects the channels (a test may write its own file, e.g. with a
    stand-in server's URL); `extra_env` reaches both servers (secrets, stand-in URLs);
    `extra_endpoints` is YAML added to endpoints.yml (e.g. a `tracker_store:` section);
    `model` is the trained bot to serve (benchmarks pass another one)."""
    if not model.exists():
        raise FileNotFoundError(f"{model} is missing: run `make train` (make test does it first).")
    actions_port, rasa_port = free_port(), free_port()
    endpoints = tmp / "endpoints.yml"
    endpoints.write_text(f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n{extra_endpoints}')
    env = server_env(store_url, extra_env)
    actions_cmd = [str(BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(actions_port)]
    rasa_cmd = [
        str(BIN / "rasa"), "run", "--enable-api", "-i", "127.0.0.1", "-p", str(rasa_port),
        "-m", str(model), "--endpoints", str(endpoints), "--credentials", str(credentials),
    ]
    with process(actions_cmd, tmp / "actions.log", env) as actions, process(rasa_cmd, tmp / "rasa.log", env) as rasa:
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions, tmp / "actions.log")
        base = f"http://127.0.0.1:{rasa_port}"
        wait_until_up(f"{base}/status", rasa, tmp / "rasa.log")
        yield base
