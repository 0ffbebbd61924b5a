"""Per-language NLU evaluation for multilingual Rasa bots.

An average over all languages hides a bot that is good in English and poor in Arabic. This
trains the bot's NLU pipeline with Rasa and scores it one language at a time, with Rasa's
own evaluation loop (`rasa.nlu.test.get_eval_data`, what `rasa test nlu` runs):

    python -m cs_transformer.evaluate [--mode heldout|crossval] [--folds 5]
                                      [--languages en,es] [--train-languages en] [--test-languages es,de]
                                      [--config config.yml] [--domain domain.yml] [--data data/nlu]
                                      [--heldout benchmarks/heldout] [--out results/eval]

- `heldout` (default): train on `<data>/<language>.yml` of the train languages, test on
  `<heldout>/<language>.yml` of the test languages (sentences never trained on).
- `crossval`: stratified K-fold per language over the training data. Fold k trains on the
  other folds of every train language and tests fold k of every test language, so each
  sentence is tested once; the per-language scores pool all folds.
- Cross-lingual: `--train-languages en --test-languages es,de` (either mode).

Regexes, lookup tables and synonyms of every NLU file in `--data` are always trained on;
intent examples only from the files named after a train language. The pipeline is the
config's as it is, FallbackClassifier included: the bot is graded as it runs
(`cs_transformer.grading`), a message that falls back counts as wrong, and `out_of_scope`
test sentences count as handled when the bot declines them. Per language: accuracy,
fallback rate, out-of-scope rejection, expected calibration error, per-intent scores.
Writes to `--out`: report.md, report.json, confusion_<language>.png,
accuracy_by_language.png and reliability.png. Exit status: 2 when the inputs cannot be
evaluated, else 0.
"""

from cs_transformer.evaluate.results import CROSSVAL, HELDOUT, Evaluation, EvaluationError, LanguageResult
from cs_transformer.evaluate.run import evaluate

__all__ = ["CROSSVAL", "HELDOUT", "Evaluation", "EvaluationError", "LanguageResult", "evaluate"]
