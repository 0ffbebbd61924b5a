"""Translation-coverage linter for multilingual Rasa bots.

A multilingual bot fails quietly: a response without a Spanish variation falls back to
English, an intent with three Arabic examples is guessed, an English sentence pasted
into `es.yml` teaches the classifier the wrong thing. This lints the domain and the NLU
data for those gaps, per language, with Rasa's own loaders:

    python -m cs_transformer.lint [--domain domain.yml] [--data data] [--config config.yml]
                                  [--languages en,es] [--min-examples 10] [--json PATH]
                                  [--page-texts bot/static/locales] [--heldout benchmarks/heldout]
                                  [--word-lists actions/language_names.yml]
                                  [--fail-on error|warning]

The bot's languages come from `languages:` of `cs_transformer.LanguageDetector` in the
config; the first (or its `default_language`) is the language of the response variation
without condition. An example's language is its file's name (`data/nlu/es.yml`) when that
is a bot language, else the detected one (as the bot would read it). The wrong-language
checks are warnings, and stricter than the bot's detector: they skip texts too short to
tell (see LINT_MIN_LETTERS). Beyond the responses it checks that every bot language is a value
of the `language` slot, that every intent with examples is in the domain's `intents:` and used
by a rule or story (or a slot mapping), that the word lists the components read
(cs_transformer/data/) have every bot language, that the chat page's texts (one
`<language>.json` per bot language) have every key of the default language's file, and that
every intent has held-out sentences for `make eval` (one `<language>.yml` per bot language).
The page texts and held-out checks run when their folder exists, and `--word-lists` files
(the names customers give the languages) when they exist (the CLI's defaults are the demo
bot's). Exit status: 1 when an issue at or above `--fail-on` was found, 2 when
the inputs cannot be read, else 0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from rasa.shared.core.events import UserUttered
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.data import get_data_files, is_nlu_file
from rasa.shared.exceptions import RasaException
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.utils.io import read_yaml_file

from cs_common.plurals import OTHER, languages_needing, plural_categories, split_plural
from cs_common.variations import LANGUAGE_SLOT, variation_language
from cs_transformer.languages import LEXICON_FILE, SCRIPT_LANGUAGES, LanguageGuess, LanguageIdentifier, script_profile

ERROR = "error"
WARNING = "warning"
SEVERITY_RANK: Dict[str, int] = {WARNING: 1, ERROR: 2}

# Every check's stable code and severity, in the order the report lists them.
CHECKS: Dict[str, str] = {
    "missing-response-variation": ERROR,
    "too-few-examples": ERROR,
    "duplicate-example": ERROR,
    "example-wrong-language": WARNING,
    "response-wrong-language": WARNING,
    "language-not-in-slot": ERROR,
    "intent-not-in-domain": ERROR,
    "intent-not-used": WARNING,
    "missing-word-list": ERROR,
    "missing-page-text": ERROR,
    "missing-heldout": WARNING,
}

DETECTOR_NAMES = ("cs_transformer.LanguageDetector", "cs_transformer.language_detector.LanguageDetector")
# Response placeholders ("{order_number}") are English identifiers inside any language.
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
# The wrong-language checks trust a Latin-script language guess only on texts with this
# many Latin letters. On the demo bot's ~2,600 examples the bot's detector called 61
# shorter texts "reliably" another bot language ("was kostet das porto" -> en, "carte
# cadeau" -> es, and by its short-word lexicon "hi" or Swiss "merci vielmal" in de.yml),
# and none longer. Non-Latin scripts (Han, Arabic) are trusted at any length.
LINT_MIN_LETTERS = 35
TABLE_TEXT_CHARS = 60
# The lists the bot's components read. Named here, not imported: cs_transformer.frustration
# (DEFAULT_PROFANITY_FILE) loads TensorFlow, and the linter should start in seconds.
PROFANITY_FILE = Path(__file__).parent / "data" / "profanity.yml"
FRUSTRATION_NAMES = ("cs_transformer.FrustrationScorer", "cs_transformer.frustration.FrustrationScorer")
DEFAULT_PAGE_TEXTS = Path("bot/static/locales")
DEFAULT_HELDOUT = Path("benchmarks/heldout")
DEFAULT_WORD_LISTS = [Path("actions/language_names.yml")]


class LintError(Exception):
    """The inputs cannot be linted (missing file, no languages): a usage problem, exit 2."""


@dataclass(frozen=True)
class Issue:
    """One finding; `subject` says whether `name` is an intent or a response."""

    code: str
    language: str
    subject: str  # "intent", "response", "slot", "word_list", "page_text" or "heldout"
    name: str
    text: Optional[str]
    message: str

    @property
    def severity(self) -> str:
        return CHECKS[self.code]

    def to_json(self) -> Dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "language": self.language,
            self.subject: self.name,
            "text": self.text,
            "message": self.message,
        }


@dataclass(frozen=True)
class Example:
    """A training example with the language it is filed under."""

    text: str
    intent: str  # the full key for retrieval intents: faq/shipping_cost
    language: str
    path: Path
    named: bool  # True: language from the file name; False: detected


@dataclass(frozen=True)
class Bot:
    """What the checks read: languages, domain responses and NLU examples."""

    languages: List[str]
    default_language: str
    responses: Dict[str, List[Dict[str, Any]]]
    examples: List[Example]
    files: Dict[str, Path]  # language -> the NLU file named after it
    domain: Path
    domain_data: Dict[str, Any]
    used_intents: Set[str]  # by a rule, a story or a slot mapping

    @property
    def nlu_folder(self) -> Path:
        """Where a new language's NLU file goes: beside the other languages' files."""
        named = sorted(self.files.values())
        return named[0].parent if named else Path("data/nlu")

    def nlu_file(self, language: str) -> Path:
        return self.files.get(language, self.nlu_folder / f"{language}.yml")


@dataclass(frozen=True)
class Report:
    """All issues of one run, in report order."""

    languages: List[str]
    issues: List[Issue]

    def counts(self) -> Dict[str, Dict[str, int]]:
        """Issues per language and code, every code present (zeros included)."""
        counter = Counter((issue.language, issue.code) for issue in self.issues)
        return {lang: {code: counter[lang, code] for code in CHECKS} for lang in self.languages}

    def totals(self) -> Dict[str, int]:
        severities = Counter(issue.severity for issue in self.issues)
        return {"errors": severities[ERROR], "warnings": severities[WARNING]}

    def failed(self, fail_on: str) -> bool:
        return any(SEVERITY_RANK[issue.severity] >= SEVERITY_RANK[fail_on] for issue in self.issues)

    def to_json(self) -> Dict[str, Any]:
        by_code = Counter(issue.code for issue in self.issues)
        return {
            "languages": self.languages,
            "issues": [issue.to_json() for issue in self.issues],
            "summary": {
                **self.totals(),
                "by_code": {code: by_code[code] for code in CHECKS},
                "by_language": self.counts(),
            },
        }


# --------------------------------------------------------------------------- inputs


def read_languages(config_path: Path) -> Tuple[List[str], str]:
    """The LanguageDetector's languages and default: exactly what the bot answers in."""
    config = read_yaml_file(config_path) or {}
    for component in config.get("pipeline") or []:
        if component.get("name") in DETECTOR_NAMES and component.get("languages"):
            languages = [str(language) for language in component["languages"]]
            return languages, str(component.get("default_language") or languages[0])
    raise LintError(
        f"{config_path} has no {DETECTOR_NAMES[0]} with `languages:` in its pipeline; "
        "add it, or pass --languages en,es"
    )


def nlu_files(paths: Sequence[Path]) -> List[Path]:
    """The NLU files under `paths`, as Rasa finds them (stories and rules are skipped)."""
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise LintError(f"no such data file or folder: {', '.join(missing)}")
    files = [_relative(Path(name)) for name in get_data_files([str(path) for path in paths], is_nlu_file)]
    if not files:
        raise LintError(f"no Rasa NLU data in {', '.join(map(str, paths))}")
    return files


def _relative(path: Path) -> Path:
    """Paths in messages as the user would type them (Rasa returns some absolute)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:  # outside the working directory
        return path


def load_examples(
    files: Sequence[Path], languages: Sequence[str], identifier: LanguageIdentifier
) -> Tuple[List[Example], Dict[str, Path]]:
    """Every intent example, filed under its file's language or, failing that, the detected one."""
    examples: List[Example] = []
    named_files: Dict[str, Path] = {}
    for path in files:
        file_language = path.stem if path.stem in languages else None
        if file_language:
            named_files.setdefault(file_language, path)
        for message in load_data(str(path)).intent_examples:
            text = message.get(TEXT)
            examples.append(
                Example(
                    text=text,
                    intent=message.get(INTENT_RESPONSE_KEY) or message.get(INTENT),
                    language=file_language or identifier.identify(text).language,
                    path=path,
                    named=file_language is not None,
                )
            )
    return examples, named_files


# --------------------------------------------------------------------------- checks


def check_response_variations(bot: Bot) -> List[Issue]:
    """A response without a variation in some language falls back to the default language.

    A plural form (`<base>_<category>` beside `<base>_other`, cs_common/plurals.py) is
    needed only in the languages with that category, and in each of those it must exist.
    """
    issues = []
    for name, variations in bot.responses.items():
        present = {variation_language(v, bot.default_language) for v in variations}
        fallback = next((v.get("text") for v in variations if v.get("text")), None)
        for language in languages_needing(name, bot.responses, bot.languages):
            if language not in present:
                issues.append(
                    Issue("missing-response-variation", language, "response", name, fallback,
                          _missing_variation_fix(name, language, bot.default_language))
                )
    for base in sorted({plural[0] for plural in map(split_plural, bot.responses) if plural}):
        if f"{base}_{OTHER}" not in bot.responses:
            continue
        for language in bot.languages:
            for category in sorted(plural_categories(language) - {OTHER}):
                name = f"{base}_{category}"
                if name not in bot.responses:
                    issues.append(
                        Issue("missing-response-variation", language, "response", name, None,
                              f"{language} has a '{category}' plural form: add the response {name} "
                              f"with a {language} variation (see cs_common/plurals.py)")
                    )
    return issues


def _missing_variation_fix(name: str, language: str, default_language: str) -> str:
    if language == default_language:
        return f"no {language} variation: add one without `condition` to {name} in the domain"
    return (
        f"no {language} variation: add a translation to {name} in the domain with "
        f"`condition: [{{type: slot, name: {LANGUAGE_SLOT}, value: {language}}}]`"
    )


def check_example_counts(bot: Bot, min_examples: int) -> List[Issue]:
    """Every intent (retrieval intents per key) needs `min_examples` in every language."""
    counts = Counter((example.language, example.intent) for example in bot.examples)
    intents = sorted({example.intent for example in bot.examples})
    issues = []
    for language in bot.languages:
        where = bot.files.get(language) or f"{bot.nlu_file(language)} (create it)"
        for intent in intents:
            count = counts[language, intent]
            if count < min_examples:
                issues.append(
                    Issue("too-few-examples", language, "intent", intent, None,
                          f"{count} {language} example(s), minimum {min_examples}: "
                          f"add {min_examples - count} more to {where}")
                )
    return issues


def normalise(text: str) -> str:
    """Case- and whitespace-insensitive form: what the classifier cannot tell apart."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def check_duplicates(bot: Bot) -> List[Issue]:
    """The same text under two intents teaches the classifier both; flag every later one."""
    first_seen: Dict[str, Example] = {}
    issues = []
    for example in bot.examples:
        owner = first_seen.setdefault(normalise(example.text), example)
        if owner.intent != example.intent:
            issues.append(
                Issue("duplicate-example", example.language, "intent", example.intent, example.text,
                      f"also an example of {owner.intent} ({owner.path.name}): keep it under one intent")
            )
    return issues


def trusted_guess(identifier: LanguageIdentifier, text: str) -> Optional[LanguageGuess]:
    """The guess when it is evidence enough to call a text misfiled, else None.

    Stricter than switching a conversation's language: a short Latin text is often a
    loanword or too little for langdetect (see LINT_MIN_LETTERS).
    """
    guess = identifier.identify(text)
    latin = not any(guess.language in languages for languages in SCRIPT_LANGUAGES.values())
    too_short = script_profile(text).get("latin", 0) < LINT_MIN_LETTERS
    return guess if guess.reliable and not (latin and too_short) else None


def check_example_languages(bot: Bot, identifier: LanguageIdentifier) -> List[Issue]:
    """An example that reliably reads as another bot language is filed in the wrong file."""
    issues = []
    for example in bot.examples:
        guess = trusted_guess(identifier, example.text) if example.named else None
        if guess and guess.language != example.language:
            issues.append(
                Issue("example-wrong-language", example.language, "intent", example.intent, example.text,
                      f"reads as {guess.language} (confidence {guess.confidence:.2f}): translate it to "
                      f"{example.language} or move it to the {guess.language} data")
            )
    return issues


def check_response_languages(bot: Bot, identifier: LanguageIdentifier) -> List[Issue]:
    """A variation that reliably reads as another language answers customers in the wrong one."""
    issues = []
    for name, variations in bot.responses.items():
        for variation in variations:
            text = variation.get("text")
            language = variation_language(variation, bot.default_language)
            if not text or language not in bot.languages:
                continue
            guess = trusted_guess(identifier, PLACEHOLDER.sub(" ", text))
            if guess and guess.language != language:
                issues.append(
                    Issue("response-wrong-language", language, "response", name, text,
                          f"the {language} variation reads as {guess.language} "
                          f"(confidence {guess.confidence:.2f}): translate it or fix its condition value")
                )
    return issues


def check_language_slot(bot: Bot) -> List[Issue]:
    """A language missing from the slot's `values` is never set: the bot answers in the default."""
    slot = (bot.domain_data.get("slots") or {}).get(LANGUAGE_SLOT) or {}
    values = [str(value) for value in slot.get("values") or []]
    return [
        Issue("language-not-in-slot", language, "slot", LANGUAGE_SLOT, None,
              f"{language} is not a value of the `{LANGUAGE_SLOT}` slot: add it to `values:` "
              f"of slots.{LANGUAGE_SLOT} in {bot.domain}")
        for language in bot.languages
        if language not in values
    ]


def base_intent(intent: str) -> str:
    """The domain's name of an intent: `faq` for the retrieval intent key `faq/shipping_cost`."""
    return intent.split("/")[0]


def check_intents(bot: Bot) -> List[Issue]:
    """An intent with examples must be in `intents:` (else training fails or ignores it) and
    something must answer it: a rule, a story, or a slot mapping of a form."""
    declared = {str(next(iter(entry))) if isinstance(entry, dict) else str(entry)
                for entry in bot.domain_data.get("intents") or []}
    first_example: Dict[str, Example] = {}
    for example in bot.examples:
        first_example.setdefault(base_intent(example.intent), example)
    issues = []
    for intent, example in sorted(first_example.items()):
        if intent not in declared:
            issues.append(Issue("intent-not-in-domain", bot.default_language, "intent", intent, None,
                                f"has examples ({example.path}) but is not in `intents:` of {bot.domain}: add it there"))
        elif intent not in bot.used_intents:
            issues.append(Issue("intent-not-used", bot.default_language, "intent", intent, None,
                                "no rule or story starts from it: add one to the rules or stories "
                                f"(e.g. {bot.nlu_folder.parent / 'rules.yml'}) so the bot knows what to answer"))
    return issues


def check_word_lists(bot: Bot, lists: Dict[Path, Sequence[str]]) -> List[Issue]:
    """Every list the components read per language (`lists`: file -> languages that need an
    entry) has one for each of those languages; a missing one silently means no words."""
    issues = []
    for path, languages in lists.items():
        entries = (read_yaml_file(path) or {}) if path.is_file() else {}
        for language in languages:
            if not entries.get(language):
                issues.append(Issue("missing-word-list", language, "word_list", path.name, None,
                                    f"no {language} words: add `{language}: [...]` to {_relative(path)}"))
    return issues


def word_lists(bot: Bot, config: Dict[str, Any]) -> Dict[Path, List[str]]:
    """The lexicon (languages without a script of their own: the others are told by script)
    and, when the FrustrationScorer runs, its profanity list (every bot language)."""
    own_script = {language for languages in SCRIPT_LANGUAGES.values() for language in languages}
    lists = {LEXICON_FILE: [language for language in bot.languages if language not in own_script]}
    for component in config.get("pipeline") or []:
        if component.get("name") in FRUSTRATION_NAMES:
            lists[Path(component.get("profanity_file") or PROFANITY_FILE)] = list(bot.languages)
    return lists


def check_page_texts(bot: Bot, folder: Path) -> List[Issue]:
    """One `<language>.json` per bot language with every key of the default language's file.
    A missing key is shown in the default language (bot/page_locales.py), like a response."""
    default_file = folder / f"{bot.default_language}.json"
    if not default_file.is_file():
        return [Issue("missing-page-text", bot.default_language, "page_text", default_file.name, None,
                      f"create {default_file}: the page texts every other language falls back to")]
    keys = json.loads(default_file.read_text(encoding="utf-8"))
    issues = []
    for language in bot.languages:
        path = folder / f"{language}.json"
        texts = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        if texts is None:
            issues.append(Issue("missing-page-text", language, "page_text", path.name, None,
                                f"create {path} with a translation of every key of {default_file}"))
            continue
        for key in keys:
            if not texts.get(key):
                issues.append(Issue("missing-page-text", language, "page_text", key, keys[key],
                                    f"shown in {bot.default_language}: add \"{key}\" to {path}"))
    return issues


def check_heldout(bot: Bot, folder: Path) -> List[Issue]:
    """Every intent (retrieval intents per key) needs held-out sentences in every language, or
    `make eval` cannot tell how well it is recognised (benchmarks/heldout/<language>.yml)."""
    intents = sorted({example.intent for example in bot.examples})
    issues = []
    for language in bot.languages:
        path = folder / f"{language}.yml"
        tested = {message.get(INTENT_RESPONSE_KEY) or message.get(INTENT)
                  for message in load_data(str(path)).intent_examples} if path.is_file() else set()
        for intent in intents:
            if intent not in tested:
                issues.append(Issue("missing-heldout", language, "heldout", intent, None,
                                    f"no held-out sentence: add a few (not copies of training examples) "
                                    f"under `- intent: {intent}` in {path}" + ("" if path.is_file() else " (create it)")))
    return issues


def used_intents(data: Sequence[Path], domain_data: Dict[str, Any]) -> Set[str]:
    """Intents a rule or story starts from (Rasa's own story reader), or a slot mapping reads."""
    used: Set[str] = set()
    story_files = get_data_files([str(path) for path in data], YAMLStoryReader.is_stories_file)
    for path in story_files:
        for step in YAMLStoryReader().read_from_file(path):
            for event in step.events:
                alternatives = event if isinstance(event, list) else [event]  # `or:` steps
                used.update(e.intent_name for e in alternatives if isinstance(e, UserUttered) and e.intent_name)
    for slot in (domain_data.get("slots") or {}).values():
        for mapping in (slot or {}).get("mappings") or []:
            named = mapping.get("intent") or []
            used.update([named] if isinstance(named, str) else named)
    return used


# --------------------------------------------------------------------------- run


def lint(
    domain: Path,
    data: Sequence[Path],
    config: Path,
    languages: Optional[List[str]] = None,
    min_examples: int = 10,
    page_texts: Optional[Path] = None,
    heldout: Optional[Path] = None,
    extra_word_lists: Sequence[Path] = (),
) -> Report:
    """Runs every check; `languages` (first = default) overrides the config's. The page texts
    and held-out checks run only when given their folder; `extra_word_lists` are YAML files
    (language -> words) that need an entry for every bot language."""
    bot_languages, default_language = (languages, languages[0]) if languages else read_languages(config)
    identifier = LanguageIdentifier(bot_languages, default_language)
    examples, files = load_examples(nlu_files(data), bot_languages, identifier)
    domain_data = _read_domain(domain)
    bot = Bot(bot_languages, default_language, domain_data.get("responses") or {}, examples, files,
              domain, domain_data, used_intents(data, domain_data))
    issues = [
        *check_response_variations(bot),
        *check_example_counts(bot, min_examples),
        *check_duplicates(bot),
        *check_example_languages(bot, identifier),
        *check_response_languages(bot, identifier),
        *check_language_slot(bot),
        *check_intents(bot),
        *check_word_lists(bot, {**word_lists(bot, (read_yaml_file(config) or {}) if config.is_file() else {}),
                                **{path: list(bot_languages) for path in extra_word_lists}}),
        *(check_page_texts(bot, page_texts) if page_texts else []),
        *(check_heldout(bot, heldout) if heldout else []),
    ]
    return Report(bot_languages, _in_report_order(issues, bot_languages))


def _read_domain(domain: Path) -> Dict[str, Any]:
    if not domain.is_file():
        raise LintError(f"no such domain file: {domain}")
    return read_yaml_file(domain) or {}


def _in_report_order(issues: List[Issue], languages: List[str]) -> List[Issue]:
    codes = list(CHECKS)
    return sorted(issues, key=lambda issue: (languages.index(issue.language), codes.index(issue.code)))


def format_report(report: Report, fail_on: str) -> str:
    """The human-readable table: per language, issue counts by code, then the issues."""
    lines = [f"Translation coverage for {', '.join(report.languages)}"]
    counts = report.counts()
    for language in report.languages:
        issues = [issue for issue in report.issues if issue.language == language]
        lines += ["", f"{language}: {_plural(len(issues), 'issue')}"]
        lines += [f"  {code:<28}{count:>4}" for code, count in counts[language].items()]
        lines += [_issue_line(issue) for issue in issues]
    totals = report.totals()
    verdict = "FAIL" if report.failed(fail_on) else "OK"
    lines += ["", f"{_plural(totals['errors'], 'error')}, {_plural(totals['warnings'], 'warning')} "
                  f"(--fail-on {fail_on}): {verdict}"]
    return "\n".join(lines)


def _issue_line(issue: Issue) -> str:
    text = ""
    if issue.text is not None:
        short = issue.text if len(issue.text) <= TABLE_TEXT_CHARS else issue.text[: TABLE_TEXT_CHARS - 1] + "…"
        text = f' "{short}"'
    return f"    {issue.severity:<8}{issue.code:<28}{issue.subject} {issue.name}{text}: {issue.message}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m cs_transformer.lint",
        description="Translation coverage of a multilingual Rasa bot: responses, examples, languages.",
    )
    parser.add_argument("--domain", type=Path, default=Path("domain.yml"))
    parser.add_argument("--data", type=Path, nargs="+", default=[Path("data")], help="NLU files or folders")
    parser.add_argument("--config", type=Path, default=Path("config.yml"))
    parser.add_argument("--languages", type=_language_list, help="e.g. en,es (the first is the default); "
                        "overrides the LanguageDetector's in --config")
    parser.add_argument("--min-examples", type=int, default=10, help="per intent and language")
    parser.add_argument("--page-texts", type=Path, default=DEFAULT_PAGE_TEXTS,
                        help="the chat page's <language>.json files (skipped when the folder does not exist)")
    parser.add_argument("--heldout", type=Path, default=DEFAULT_HELDOUT,
                        help="make eval's held-out <language>.yml files (skipped when the folder does not exist)")
    parser.add_argument("--word-lists", type=Path, nargs="*", default=DEFAULT_WORD_LISTS,
                        help="more YAML files mapping every bot language to words, e.g. the names customers "
                             "give the languages (those that do not exist are skipped)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--fail-on", choices=[WARNING, ERROR], default=ERROR)
    return parser.parse_args(argv)


def _language_list(value: str) -> List[str]:
    languages = [language.strip() for language in value.split(",") if language.strip()]
    if not languages:
        raise argparse.ArgumentTypeError("expected language codes, e.g. en,es")
    return languages


def _if_folder(path: Path) -> Optional[Path]:
    return path if path.is_dir() else None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """CLI entry point; returns the exit status."""
    args = parse_args(argv)
    try:
        report = lint(args.domain, args.data, args.config, args.languages, args.min_examples,
                      _if_folder(args.page_texts), _if_folder(args.heldout),
                      [path for path in args.word_lists if path.is_file()])
    except (LintError, RasaException) as error:
        print(f"cs_transformer.lint: {error}", file=sys.stderr)
        return 2
    print(format_report(report, args.fail_on))
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 1 if report.failed(args.fail_on) else 0


if __name__ == "__main__":
    sys.exit(main())
