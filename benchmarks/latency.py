"""`make bench-latency`: one-message NLU latency of the trained bot, in a minute.

Loads `models/shop.tar.gz` (what `make run` serves) and parses 200 held-out messages of the
six languages one at a time through `Agent.parse_message` — the whole NLU pipeline: language
detection, regexes, classifier, frustration score, fallback — after 10 warm-up parses.
`make bench-nlu` does the same for stock DIET in the same run; this is the quick check.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rasa.core.agent import Agent  # noqa: E402
from rasa.shared.nlu.training_data.loading import load_data  # noqa: E402
from rasa.utils.common import configure_logging_and_warnings  # noqa: E402
from rasa.utils.log_utils import configure_structlog  # noqa: E402

from benchmarks.hardware import describe_hardware  # noqa: E402

LANGUAGES = ["en", "es", "de", "fr", "zh", "ar"]
MESSAGES = 200


async def measure(model: Path) -> None:
    texts = [
        m.get("text") for language in LANGUAGES
        for m in load_data(str(REPO / "benchmarks" / "heldout" / f"{language}.yml")).intent_examples
    ]
    texts = texts[:: max(1, len(texts) // MESSAGES)][:MESSAGES]
    agent = Agent.load(str(model))
    for text in texts[:10]:
        await agent.parse_message(text)
    timings = []
    for text in texts:
        started = time.perf_counter()
        await agent.parse_message(text)
        timings.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(timings, n=20)[18]
    print(f"{describe_hardware()}")
    print(f"{model.name}: {len(texts)} held-out messages, batch size 1, mean {statistics.mean(len(t) for t in texts):.0f} "
          f"characters: p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms")


def main() -> None:
    # Per-message debug logs would be timed too.
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    asyncio.run(measure(REPO / "models" / "shop.tar.gz"))


if __name__ == "__main__":
    main()
