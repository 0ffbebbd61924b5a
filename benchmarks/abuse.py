"""`make bench-abuse`: how long a concurrent `GET /` waits while the bot handles abusive requests.

Two bots serve the same trained model (`models/shop.tar.gz`), one after the other, on 127.0.0.1:

- this bot: its channels (web, Rasa's REST behind our input contract, SMS), the redacting
  tracker store and log filter of endpoints.yml, and the server-wide limits of bot/http_limits.py;
- stock Rasa: Rasa's own `rest` and `twilio` channels, Sanic's default limits, no redaction.

For each, while one abusive request is handled, a second client sends `GET /` back to back;
the figure is the worst wait of those probes (over `ROUNDS` rounds):

- a 40,000-character message on the REST webhook;
- an unsigned 10 MB SMS form of about a million fields (our `/webhooks/sms/webhook`, stock
  Rasa's `/webhooks/twilio/webhook`).

The goal for this bot is a worst wait of at most 0.5 s. Not a test (timings depend on the machine).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import requests  # noqa: E402

from benchmarks.hardware import describe_hardware  # noqa: E402
from tests.servers import running_bot, seeded_store  # noqa: E402

ROUNDS = 3
GOAL_S = 0.5
LONG_MESSAGE_CHARS = 40_000
FORM_BYTES = 10 * 1024 * 1024
ACCOUNT_SID = "AC" + "0" * 32
SECRETS = {"TWILIO_AUTH_TOKEN": "bench-abuse-auth-token", "TWILIO_ACCOUNT_SID": ACCOUNT_SID}
THIS_BOT = """\
bot.rest.GuestRestInput:
bot.web.WebChatInput:
bot.sms.TwilioSmsInput:
  auth_token: ${TWILIO_AUTH_TOKEN}
"""
STOCK_RASA = """\
rest:
twilio:
  account_sid: ${TWILIO_ACCOUNT_SID}
  auth_token: ${TWILIO_AUTH_TOKEN}
  twilio_number: "+15005550006"
"""
REDACTING_STORE = "tracker_store:\n  type: bot.tracker_store.RedactingTrackerStore\n  store: memory\n  pii_rules: pii.yml\n"
Abuse = Callable[[str], None]


def long_message(base: str) -> None:
    text = ("where is my order " * (LONG_MESSAGE_CHARS // 18 + 1))[:LONG_MESSAGE_CHARS]
    requests.post(f"{base}/webhooks/rest/webhook", json={"sender": f"abuse-{time.time_ns()}", "message": text}, timeout=600)


def huge_form(path: str) -> Abuse:
    fields = b"&".join(b"f%d=1" % n for n in range(FORM_BYTES // 9))[:FORM_BYTES]

    def post(base: str) -> None:
        try:
            requests.post(f"{base}{path}", data=fields, headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=600)
        except requests.ConnectionError:
            pass  # refused (413) and closed before the client finished sending: the point of the limit

    return post


def worst_wait(base: str, abuse: Abuse) -> float:
    """The longest `GET /` while `abuse` runs; probes go back to back on their own connection."""
    waits: List[float] = []
    done = threading.Event()

    def probe() -> None:
        with requests.Session() as session:
            while not done.is_set():
                started = time.perf_counter()
                session.get(f"{base}/", timeout=600)
                waits.append(time.perf_counter() - started)

    prober = threading.Thread(target=probe)
    prober.start()
    time.sleep(0.2)
    try:
        abuse(base)
        time.sleep(0.2)  # the server may still be busy after answering
    finally:
        done.set()
        prober.join()
    return max(waits)


@contextmanager
def bot(name: str, credentials: str, extra_endpoints: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix=f"bench-abuse-{name}-") as folder:
        tmp = Path(folder)
        (tmp / "credentials.yml").write_text(credentials)
        with running_bot(tmp, seeded_store(tmp), extra_env=SECRETS, credentials=tmp / "credentials.yml", extra_endpoints=extra_endpoints) as base:
            for _ in range(3):
                requests.get(f"{base}/", timeout=60)
            yield base


def measure(base: str, abuses: Dict[str, Abuse]) -> Dict[str, Tuple[float, float]]:
    """Per abuse: (worst wait, median of the rounds' worst waits) in seconds."""
    results = {}
    for label, abuse in abuses.items():
        rounds = [worst_wait(base, abuse) for _ in range(ROUNDS)]
        results[label] = (max(rounds), statistics.median(rounds))
    return results


def main() -> None:
    print(describe_hardware())
    ours_abuses = {"40,000-character REST message": long_message, "unsigned 10 MB SMS form": huge_form("/webhooks/sms/webhook")}
    stock_abuses = {"40,000-character REST message": long_message, "unsigned 10 MB SMS form": huge_form("/webhooks/twilio/webhook")}
    with bot("ours", THIS_BOT, REDACTING_STORE) as base:
        ours = measure(base, ours_abuses)
    with bot("stock", STOCK_RASA, "") as base:
        stock = measure(base, stock_abuses)
    print(f"\nWorst wait of a concurrent GET / (max over {ROUNDS} rounds; median of the rounds' worst in brackets)")
    print(f"{'abusive request':32} {'this bot':>16} {'stock Rasa':>16} {'stock / this':>13}  goal <= {GOAL_S} s")
    for label in ours:
        (our_worst, our_median), (stock_worst, stock_median) = ours[label], stock[label]
        verdict = "met" if our_worst <= GOAL_S else "MISSED"
        print(
            f"{label:32} {our_worst:7.2f} s ({our_median:4.2f}) {stock_worst:7.2f} s ({stock_median:4.2f}) "
            f"{stock_worst / our_worst:12.1f}x  {verdict}"
        )


if __name__ == "__main__":
    main()
