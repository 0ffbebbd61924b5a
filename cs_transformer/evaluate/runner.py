"""Training each run's model with Rasa and parsing its test sentences as the bot reads them."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any, Dict, List, Sequence

from rasa.core.agent import Agent
from rasa.model_training import train_nlu

from cs_transformer import grading
from cs_transformer.evaluate.corpus import Run
from cs_transformer.evaluate.results import EvaluationError
from cs_transformer.grading import Outcome


def nlu_config(config: Dict[str, Any]) -> Dict[str, Any]:
    """The NLU pipeline as configured (FallbackClassifier kept), without the policies."""
    pipeline = list(config.get("pipeline") or [])
    if not [c for c in pipeline if c.get("name") != grading.FALLBACK_CLASSIFIER]:
        raise EvaluationError("the config has no NLU pipeline")
    return {**config, "pipeline": pipeline, "policies": []}


def execute(runs: Sequence[Run], config: Path, domain: Path, workdir: Path) -> List[Dict[str, List[Outcome]]]:
    """Trains each run's model with Rasa and tests it; the outcomes per run and language.

    The domain gives the FAQ answers (`utter_faq/...`), as in `rasa train`: without them Rasa
    warns about every FAQ example.
    """
    outcomes = []
    for index, run in enumerate(runs):
        data = workdir / f"data-{index}"
        data.mkdir()
        (data / "nlu.yml").write_text(run.train.nlu_as_yaml(), encoding="utf-8")
        progress(f"[{run.name}] training on {len(run.train.intent_examples)} examples")
        # Rasa prints where it saved the (temporary) model: progress, not a result.
        with contextlib.redirect_stdout(sys.stderr):
            model = train_nlu(str(config), str(data), str(workdir / "models"), fixed_model_name=f"run-{index}",
                              domain=str(domain))
        if model is None:
            raise EvaluationError(f"[{run.name}] training failed")
        agent = Agent.load(model)
        outcomes.append(asyncio.run(test_model(agent, run)))
    return outcomes


async def test_model(agent: Agent, run: Run) -> Dict[str, List[Outcome]]:
    """Each test sentence through the whole pipeline, as the bot reads it (`rasa test nlu`
    would undo the fallback's predictions)."""
    by_language = {}
    for language, test in run.tests.items():
        progress(f"[{run.name}] testing {language}: {len(test.intent_examples)} sentences")
        by_language[language] = [
            await grading.parse(agent, m.get("text"), m.get("intent"), m.get("intent_response_key") or None)
            for m in test.intent_examples
        ]
    return by_language


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pool(language: str, per_run: Sequence[Dict[str, List[Outcome]]]) -> List[Outcome]:
    return [o for outcomes in per_run for o in outcomes[language]]
