"""Where a turn's time goes early and late in a long conversation (`make bench-load` measures, this explains).

    .venv/bin/python benchmarks/load/profile_turns.py

Starts the action server on 127.0.0.1 (fresh seeded SQLite store), loads the trained bot
in-process with the tracker store of endpoints.yml, has one customer write 52 turns (the load
benchmark's script over and over) and profiles turns 3–7 and 48–52 with cProfile. Prints, per
turn, the time inside each part of Rasa's handling; cProfile slows everything down alike, so
compare the two windows, not the absolute figures with the benchmark's.
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import sys
import tempfile
from pathlib import Path
from typing import Dict

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from rasa.core.agent import Agent  # noqa: E402
from rasa.core.tracker_store import TrackerStore  # noqa: E402
from rasa.shared.utils.io import read_yaml_file  # noqa: E402
from rasa.utils.endpoints import EndpointConfig  # noqa: E402

import bot  # noqa: E402,F401  (applies the pinned Rasa fixes, as in `rasa run`)
from benchmarks.load.run import LONG_TURNS, conversations, seeded_store  # noqa: E402
from tests.servers import ACTION_SERVER_TOKEN, MODEL, action_server_command, free_port, process, server_env, wait_until_up  # noqa: E402

WINDOWS = {"turns 3-7": range(3, 8), "turns 48-52": range(48, 53)}
# Rasa's functions (file suffix, function name) whose cumulative time makes up a turn.
PARTS = {
    "whole turn, Rasa process (waits excluded)": ("rasa/core/processor.py", "handle_message"),
    "NLU (parse_message)": ("rasa/core/processor.py", "parse_message"),
    "policies: tracker states (past_states)": ("rasa/shared/core/trackers.py", "past_states"),
    "custom action calls, Rasa side (RemoteAction.run)": ("rasa/core/actions/action.py", "run"),
    "JSON encoding (action calls, store)": ("json/encoder.py", "encode"),
    "tracker store: retrieve": ("bot/tracker_store.py", "retrieve"),
    "tracker store: save": ("bot/tracker_store.py", "save"),
}


def part_ms(stats: pstats.Stats, turns: int) -> Dict[str, float]:
    found = {name: 0.0 for name in PARTS}
    for (filename, _, function), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        for name, (suffix, wanted) in PARTS.items():
            if function == wanted and filename.endswith(suffix):
                found[name] = max(found[name], cumulative * 1000 / turns)
    return found


async def profile(action_url: str) -> Dict[str, Dict[str, float]]:
    endpoints = read_yaml_file(REPO / "endpoints.yml")
    store = TrackerStore.create(EndpointConfig.from_dict(endpoints["tracker_store"]))
    # endpoints.yml's action endpoint (selective domain, events window), at the test's server and token.
    endpoint = EndpointConfig.from_dict(
        {**endpoints["action_endpoint"], "url": action_url, "headers": {"Authorization": f"Bearer {ACTION_SERVER_TOKEN}"}}
    )
    agent = Agent.load(str(MODEL), tracker_store=store, action_endpoint=endpoint)
    script = conversations()[0]
    for turn in range(10):  # warm-up on another customer: the first parses load lazily
        await agent.handle_text(script[turn % len(script)], sender_id="warm-up")
    profiles = {name: cProfile.Profile() for name in WINDOWS}
    for turn in range(1, LONG_TURNS + 1):
        window = next((name for name, turns in WINDOWS.items() if turn in turns), None)
        if window:
            profiles[window].enable()
        await agent.handle_text(script[(turn - 1) % len(script)], sender_id="profile")
        if window:
            profiles[window].disable()
    return {name: part_ms(pstats.Stats(profiles[name]), len(WINDOWS[name])) for name in WINDOWS}


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="profile-turns-"))
    port = free_port()
    env = server_env(seeded_store(work, REPO))
    with process(action_server_command(port), work / "actions.log", env) as actions:
        wait_until_up(f"http://127.0.0.1:{port}/health", actions, work / "actions.log")
        results = asyncio.run(profile(f"http://127.0.0.1:{port}/webhook"))
    names = list(WINDOWS)
    print(f"| ms per turn (cProfile) | {' | '.join(names)} | ratio |")
    print("|---|" + "---:|" * (len(names) + 1))
    for part in PARTS:
        early, late = (results[name][part] for name in names)
        print(f"| {part} | {early:.1f} | {late:.1f} | {late / early if early else float('nan'):.1f}x |")


if __name__ == "__main__":
    main()
