"""Language identification of the LanguageDetector, both backends, in under a minute.

Grades `cs_transformer.languages.LanguageIdentifier` as the detector is configured (scripts,
lexicon, statistics, calibrated `reliable`) with `backend: py3langid` and `backend: langdetect`,
beside plain py3langid restricted to the same languages (top-1 always trusted, the issue's
reference), on:

- `tests/cs_transformer/short_messages.tsv`: 112 short customer messages in the demo bot's six
  languages and 10 without a language ("ok", "👍", "12345"), written for the tests;
- xSID dev sentences (`../shared/data/xsid-dev/train`, public, not written by us): the bot's
  six languages where they overlap (en, de, zh, ar), and all 11 xSID languages with a detector
  configured for them.

"right": reliable and correct; "wrong": reliable and another language (a wrong switch);
the rest is silent (the conversation keeps its language). The stock Rasa pipeline has no
language identification, so the comparison is between the backends.

    .venv/bin/python benchmarks/langid.py [--xsid DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from py3langid.langid import MODEL_FILE  # noqa: E402
from py3langid.langid import LanguageIdentifier as Py3langidModel  # noqa: E402

from benchmarks.hardware import describe_hardware  # noqa: E402
from cs_transformer.languages import BACKENDS, LanguageIdentifier  # noqa: E402

BOT = ["en", "es", "de", "fr", "zh", "ar"]
SHORT_MESSAGES = REPO / "tests" / "cs_transformer" / "short_messages.tsv"
# ../shared next to a clone, ../../shared next to a worktree under wt/.
XSID = next(
    (path for path in (REPO.parent / "shared/data/xsid-dev/train", REPO.parents[1] / "shared/data/xsid-dev/train")
     if path.is_dir()),
    REPO.parent / "shared/data/xsid-dev/train",
)

# text → (language, reliable)
Identify = Callable[[str], Tuple[str, bool]]


def short_messages() -> List[Tuple[str, str]]:
    lines = SHORT_MESSAGES.read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t", 1)) for line in lines if line.strip() and not line.startswith("#")]


def xsid(directory: Path, languages: List[str]) -> List[Tuple[str, str]]:
    return [
        (language, json.loads(line)["text"])
        for language in languages
        for line in (directory / f"{language}.jsonl").read_text(encoding="utf-8").splitlines()
    ]


def detector(languages: List[str], backend: str) -> Identify:
    identifier = LanguageIdentifier(languages, languages[0], backend=backend)

    def identify(text: str) -> Tuple[str, bool]:
        guess = identifier.identify(text)
        return guess.language, guess.reliable

    return identify


def plain_py3langid(languages: List[str]) -> Identify:
    model = Py3langidModel.from_pickled_model(MODEL_FILE, norm_probs=True)
    model.set_languages(languages)
    return lambda text: (str(model.classify(text)[0]), True)


def grade(identify: Identify, messages: List[Tuple[str, str]]) -> Dict[str, float]:
    right = wrong = 0
    start = time.perf_counter()
    for language, text in messages:
        found, reliable = identify(text)
        right += reliable and found == language
        wrong += reliable and found != language
    elapsed = time.perf_counter() - start
    in_a_language = sum(language != "none" for language, _ in messages)
    return {
        "right": right / in_a_language,
        "wrong": wrong / len(messages),
        "ms": 1000 * elapsed / len(messages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xsid", type=Path, default=XSID, help="xSID dev data directory (train/*.jsonl)")
    args = parser.parse_args()
    xsid_languages = sorted(path.stem for path in args.xsid.glob("*.jsonl"))
    if not xsid_languages:
        parser.error(f"no xSID files in {args.xsid}: pass --xsid <xsid-dev>/train")
    sets = [
        ("short messages, 6 bot languages", BOT, short_messages()),
        ("xSID en/de/zh/ar, 6 bot languages", BOT, xsid(args.xsid, [lang for lang in BOT if lang in xsid_languages])),
        (f"xSID, all {len(xsid_languages)} languages", xsid_languages, xsid(args.xsid, xsid_languages)),
    ]
    print(f"# Language identification ({describe_hardware()})")
    print("| set | messages | identifier | right | wrong switches | ms/message |")
    print("|---|---|---|---|---|---|")
    for name, languages, messages in sets:
        identifiers = {f"LanguageDetector `backend: {backend}`": detector(languages, backend) for backend in BACKENDS}
        # Plain py3langid knows no "none" and no Serbian in Latin script: graded as it is.
        identifiers["plain py3langid, restricted, top-1"] = plain_py3langid(languages)
        for label, identify in identifiers.items():
            scores = grade(identify, messages)
            print(f"| {name} | {len(messages)} | {label} | {scores['right']:.1%} | {scores['wrong']:.1%} "
                  f"| {scores['ms']:.2f} |")
    baseline = grade(detector(BOT, "langdetect"), short_messages())["right"]
    default = grade(detector(BOT, "py3langid"), short_messages())["right"]
    print(f"\nshort messages, right: py3langid / langdetect = {default / baseline:.3f}")


if __name__ == "__main__":
    main()
