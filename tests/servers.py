"""Real servers for tests, on 127.0.0.1: the action server and `rasa run` for end-to-end tests,
and one channel's blueprint in a Sanic app of this process (`serving_channel`) for its unit tests."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Optional

import requests

from tests.conftest import REPO

BIN = Path(sys.executable).parent
MODEL = REPO / "models" / "shop.tar.gz"
# Generous: on two busy cores, several servers loading torch and the model at once take minutes.
START_TIMEOUT_S = 300
ACTION_SERVER_KEEP_ALIVE_S = 75
# Secrets of this test run, as `make run` keeps them in var/secrets.env: tests that need the
# HTTP API pass API_TOKEN (`?token=`); tests/client.py reads web sessions with the secret.
API_TOKEN = secrets.token_urlsafe(32)
WEB_SESSION_SECRET = secrets.token_urlsafe(32)
ACTION_SERVER_TOKEN = secrets.token_urlsafe(32)
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = START_TIMEOUT_S) -> None:
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
def process(args: list, log: Path, env: Dict[str, str], cwd: Path = REPO) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        stop(proc, timeout=20)


def stop(proc: subprocess.Popen, timeout: float) -> None:
    """Asks `proc` to end; kills it if it has not within `timeout` s."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def server_env(store_url: str, extra: Optional[Dict[str, str]] = None, root: Path = REPO) -> Dict[str, str]:
    """`root`: the checkout whose code the servers run (benchmarks compare another revision)."""
    return {
        **os.environ,
        "CS_STORE_URL": store_url,
        "SANIC_HOST": "127.0.0.1",
        "RASA_TELEMETRY_ENABLED": "false",
        "PYTHONPATH": str(root),
        "CS_WEB_SESSION_SECRET": WEB_SESSION_SECRET,
        "CS_ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN,
        **(extra or {}),
    }


def action_endpoint(root: Path = REPO) -> str:
    """The `action_endpoint:` block of `root`'s endpoints.yml as it is (selective domain, events
    window, the token header), with the URL of the test's action server."""
    block: List[str] = []
    for line in (root / "endpoints.yml").read_text(encoding="utf-8").splitlines():
        if block and not line.startswith(" "):
            break
        if block or line.startswith("action_endpoint:"):
            block.append(re.sub(r"^  url: .*$", "  url: ${CS_ACTION_SERVER_URL}", line))
    return "\n".join(block).rstrip() + "\n"


# endpoints.yml's action endpoint, with the URL of the test's action server.
ACTION_ENDPOINT = action_endpoint()


def action_server_command(port: int, root: Path = REPO) -> List[str]:
    """Our entry point (actions/server.py): 127.0.0.1, and only requests with ACTION_SERVER_TOKEN.

    A checkout from before it (a benchmark's baseline) runs its actions as it did then."""
    if not (root / "actions" / "server.py").exists():
        return [str(BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(port)]
    return [sys.executable, "-m", "actions.server", "--port", str(port)]


def redacting_trackers(database: Path) -> str:
    """The endpoints.yml section that keeps trackers in the RedactingTrackerStore, in SQLite at `database`."""
    return f"tracker_store:\n  type: bot.tracker_store.RedactingTrackerStore\n  store: sql\n  dialect: sqlite\n  db: {database}\n"


def seeded_store(tmp: Path) -> str:
    """A fresh SQLite store in `tmp` holding the demo customers; returns its URL."""
    from cs_common.store.seed import reset

    store_url = f"sqlite:///{tmp / 'store.db'}"
    reset(store_url)
    return store_url


@contextmanager
def running_bot(
    tmp: Path,
    store_url: str,
    extra_env: Optional[Dict[str, str]] = None,
    credentials: Path = REPO / "credentials.yml",
    extra_endpoints: str = "",
    model: Path = MODEL,
    root: Path = REPO,
) -> Iterator[str]:
    """Starts the action server and Rasa with the trained model; yields Rasa's base URL.

    Rasa's HTTP API needs `?token=API_TOKEN`; the demo sign-in is on only with
    `extra_env={"CS_DEMO_SIGN_IN": "1"}`.

    `credentials` selects the channels (a test may write its own file, e.g. with a
    stand-in server's URL); `extra_env` reaches both servers (secrets, stand-in URLs);
    `extra_endpoints` is YAML added to endpoints.yml (e.g. a `tracker_store:` section);
    `model` is the trained bot to serve and `root` the checkout whose code runs it (benchmarks
    pass others)."""
    with running_replicas(
        tmp, store_url, 1, extra_env=extra_env, credentials=credentials, extra_endpoints=extra_endpoints, model=model,
        root=root,
    ) as (base,):
        yield base


@contextmanager
def running_replicas(
    tmp: Path,
    store_url: str,
    replicas: int,
    endpoints: Optional[Path] = None,
    extra_env: Optional[Dict[str, str]] = None,
    credentials: Path = REPO / "credentials.yml",
    extra_endpoints: str = "",
    model: Path = MODEL,
    root: Path = REPO,
) -> Iterator[List[str]]:
    """One action server and `replicas` Rasa servers started together; yields their base URLs.

    `endpoints` (default: the action server only, so trackers stay in each process, plus
    `extra_endpoints`) reaches the action server through `${CS_ACTION_SERVER_URL}`, which is
    set for every server."""
    if not model.exists():
        raise FileNotFoundError(f"{model} is missing: run `make train` (make test does it first).")
    actions_port = free_port()
    if endpoints is None:
        endpoints = tmp / "endpoints.yml"
        endpoints.write_text(action_endpoint(root) + extra_endpoints)
    env = server_env(store_url, {"CS_ACTION_SERVER_URL": f"http://127.0.0.1:{actions_port}/webhook", **(extra_env or {})}, root)
    actions_cmd = action_server_command(actions_port, root)
    # A replica busy with NLU may write its request seconds after connecting; Sanic closes
    # connections silent for 5 s (docs/deployment.md, *Layout*).
    actions_env = {**env, "SANIC_KEEP_ALIVE_TIMEOUT": str(ACTION_SERVER_KEEP_ALIVE_S)}
    with ExitStack() as servers:
        actions = servers.enter_context(process(actions_cmd, tmp / "actions.log", actions_env, root))
        started = []
        for replica in range(replicas):
            port = free_port()
            log = tmp / ("rasa.log" if replicas == 1 else f"rasa-{replica}.log")
            rasa_cmd = [
                str(BIN / "rasa"), "run", "--enable-api", f"--auth-token={API_TOKEN}",  # one word: a token may start with "-"
                "-i", "127.0.0.1", "-p", str(port),
                "-m", str(model), "--endpoints", str(endpoints), "--credentials", str(credentials),
            ]
            started.append((f"http://127.0.0.1:{port}", servers.enter_context(process(rasa_cmd, log, env, root)), log))
        # Ask them all to stop at once, not one after the other: each takes seconds to shut down.
        for server in (rasa for _, rasa, _ in started):
            servers.callback(server.terminate)
        servers.callback(actions.terminate)
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", actions, tmp / "actions.log")
        for base, rasa, log in started:
            wait_until_up(f"{base}/status", rasa, log)
        yield [base for base, _, _ in started]


@contextmanager
def serving_channel(
    channel: Any, on_new_message: Optional[Callable[[Any], Awaitable[Any]]] = None
) -> Iterator[str]:
    """Serves a Rasa `InputChannel`'s blueprint under `/webhooks/<name>` as `rasa run` mounts it,
    in a Sanic app of its own on a free port of 127.0.0.1 (its before_server_start listeners run);
    yields the base URL. There is no Rasa agent on the app: this is for what a channel answers itself."""
    from sanic import Sanic

    async def ignore(message: Any) -> None:
        """The channel handed a message to Rasa; there is no Rasa here."""

    # Sanic rewrites its request handler in place when an app starts; test mode keeps the
    # original, so that every test's app can start in this one process.
    Sanic.test_mode = True
    app = Sanic(f"channel_{uuid.uuid4().hex}")
    app.blueprint(channel.blueprint(on_new_message or ignore), url_prefix=f"/webhooks/{channel.name()}")
    port = free_port()
    loop = asyncio.new_event_loop()
    started: Dict[str, Any] = {}
    up = threading.Event()

    async def start() -> None:
        server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
        await server.startup()
        await server.before_start()
        await server.after_start()
        started["server"] = server

    def serve() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        except Exception as error:  # raised in the test's thread below
            started["error"] = error
        finally:
            up.set()
        loop.run_forever()

    async def shut_down() -> None:
        server = started["server"]
        await server.before_stop()
        await server.close()
        await server.after_stop()

    thread = threading.Thread(target=serve, name="channel-server", daemon=True)
    thread.start()
    up.wait(START_TIMEOUT_S)
    if "server" not in started:
        loop.call_soon_threadsafe(loop.stop)
        raise RuntimeError(f"{channel.name()}'s Sanic app did not start on 127.0.0.1:{port}") from started.get("error")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(shut_down(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
