"""What to train and test on: the corpus by language, the held-out set, and the runs of each
mode (one held-out model, or one model per cross-validation fold)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
from rasa.shared.data import get_data_files, is_nlu_file
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.model_selection import StratifiedKFold

from cs_transformer.evaluate.results import EvaluationError


@dataclass(frozen=True)
class Corpus:
    """The training data by language, and what every language shares."""

    examples: Dict[str, List[Message]]  # language -> intent examples of <data>/<language>.yml
    shared: TrainingData  # regexes, lookup tables and synonyms of every NLU file


@dataclass(frozen=True)
class Run:
    """One model to train and the sentences to test it on, by language."""

    name: str
    train: TrainingData
    tests: Dict[str, TrainingData]


def stratified_folds(labels: Sequence[str], folds: int, seed: int) -> List[List[int]]:
    """The test indices of each fold, every intent (each FAQ key) spread over all folds."""
    counts = Counter(labels)
    rarest = min(counts, key=lambda label: (counts[label], label))
    if counts[rarest] < folds:
        raise EvaluationError(f"{rarest} has {counts[rarest]} example(s), fewer than --folds {folds}: "
                              "add examples or use fewer folds")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [sorted(test.tolist()) for _, test in splitter.split(np.zeros(len(labels)), labels)]


def read_corpus(data: Path, languages: Sequence[str]) -> Corpus:
    """Examples of `<data>/<language>.yml` for `languages`, shared data of every NLU file."""
    if not data.exists():
        raise EvaluationError(f"no such data folder: {data}")
    files = [Path(name) for name in sorted(get_data_files([str(data)], is_nlu_file))]
    loaded = {path: load_data(str(path)) for path in files}
    examples = {p.stem: list(t.intent_examples) for p, t in loaded.items() if p.stem in languages}
    missing = [language for language in languages if language not in examples]
    if missing:
        raise EvaluationError(f"no training data for {', '.join(missing)}: expected "
                              + ", ".join(str(data / f"{language}.yml") for language in missing))
    shared = TrainingData().merge(*(TrainingData(
        regex_features=t.regex_features, lookup_tables=t.lookup_tables, entity_synonyms=t.entity_synonyms
    ) for t in loaded.values()))
    return Corpus(examples, shared)


def read_heldout(folder: Path, languages: Sequence[str]) -> Dict[str, TrainingData]:
    """`<folder>/<language>.yml` for each test language."""
    paths = {language: folder / f"{language}.yml" for language in languages}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise EvaluationError(f"no held-out test data: {', '.join(missing)}")
    return {language: load_data(str(path)) for language, path in paths.items()}


def training_data(corpus: Corpus, examples: List[Message]) -> TrainingData:
    return TrainingData(
        training_examples=examples,
        regex_features=corpus.shared.regex_features,
        lookup_tables=corpus.shared.lookup_tables,
        entity_synonyms=corpus.shared.entity_synonyms,
    )


def plan_heldout(corpus: Corpus, train_languages: Sequence[str], tests: Dict[str, TrainingData]) -> List[Run]:
    """One model on all the training data of the train languages."""
    examples = [m for language in train_languages for m in corpus.examples[language]]
    return [Run("held-out", training_data(corpus, examples), tests)]


def plan_crossval(
    corpus: Corpus, train_languages: Sequence[str], test_languages: Sequence[str], folds: int, seed: int
) -> List[Run]:
    """Fold k: train on the other folds of the train languages, test fold k of the test languages."""
    split = {}
    for language in dict.fromkeys([*train_languages, *test_languages]):
        try:
            split[language] = stratified_folds(
                [m.get_full_intent() for m in corpus.examples[language]], folds, seed)
        except EvaluationError as error:
            raise EvaluationError(f"{language}: {error}") from None
    runs = []
    for k in range(folds):
        held_back = {language: set(split[language][k]) for language in train_languages}
        train = [
            m for language in train_languages for i, m in enumerate(corpus.examples[language])
            if i not in held_back[language]
        ]
        tests = {
            language: TrainingData(training_examples=[corpus.examples[language][i] for i in split[language][k]])
            for language in test_languages
        }
        runs.append(Run(f"fold {k + 1}/{folds}", training_data(corpus, train), tests))
    return runs
