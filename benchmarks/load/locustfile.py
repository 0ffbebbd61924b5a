"""Locust user: one customer conversation over Rasa's REST channel.

Each simulated user is a new customer (own sender id) who writes a short support
conversation in one of the bot's languages, with a human-like pause between messages.
The conversations come from the JSON file in $LOAD_CONVERSATIONS (written by
benchmarks/load/run.py from the held-out test sentences). A reply that is not a
non-empty JSON list counts as a failure: every message of these scripts gets an answer.
"""

from __future__ import annotations

import json
import os
import random
import uuid

from locust import HttpUser, between, task

with open(os.environ["LOAD_CONVERSATIONS"], encoding="utf-8") as source:
    CONVERSATIONS = json.load(source)


class Customer(HttpUser):
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.sender = f"load-{uuid.uuid4().hex[:12]}"
        self.messages = random.choice(CONVERSATIONS)
        self.turn = 0

    @task
    def write(self) -> None:
        text = self.messages[self.turn % len(self.messages)]
        self.turn += 1
        with self.client.post(
            "/webhooks/rest/webhook",
            json={"sender": self.sender, "message": text},
            name="/webhooks/rest/webhook",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return
            try:
                replies = response.json()
            except ValueError:
                response.failure("reply is not JSON")
                return
            if not isinstance(replies, list) or not replies:
                response.failure(f"no reply to {text!r}")
