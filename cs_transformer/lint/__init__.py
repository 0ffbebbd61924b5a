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

from cs_transformer.lint.findings import CHECKS, Issue, LintError, Report
from cs_transformer.lint.linter import lint

__all__ = ["CHECKS", "Issue", "LintError", "Report", "lint"]
