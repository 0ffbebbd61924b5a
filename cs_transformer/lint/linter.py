"""Runs every check on one bot and puts the issues in report order."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

from rasa.shared.utils.io import read_yaml_file

from cs_transformer.bot_config import read_languages
from cs_transformer.languages import LanguageIdentifier
from cs_transformer.lint.domain import check_intents, check_language_slot
from cs_transformer.lint.examples import check_duplicates, check_example_counts
from cs_transformer.lint.findings import CHECKS, Bot, Issue, Report
from cs_transformer.lint.inputs import load_examples, nlu_files, read_domain, used_intents
from cs_transformer.lint.resources import check_heldout, check_page_texts, check_word_lists, word_lists
from cs_transformer.lint.responses import check_response_variations
from cs_transformer.lint.wrong_language import check_example_languages, check_response_languages


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
    domain_data = read_domain(domain)
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


def _in_report_order(issues: List[Issue], languages: List[str]) -> List[Issue]:
    codes = list(CHECKS)
    return sorted(issues, key=lambda issue: (languages.index(issue.language), codes.index(issue.code)))
