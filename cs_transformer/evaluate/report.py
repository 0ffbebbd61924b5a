"""report.md and the summary table printed by the CLI."""

from __future__ import annotations

from typing import List, Optional

from cs_transformer.evaluate.results import CROSSVAL, Evaluation

REPORT_TEXT_CHARS = 80


def describe(evaluation: Evaluation) -> List[str]:
    """The report's header: what was trained and tested, and how to rerun it."""
    if evaluation.mode == CROSSVAL:
        method = f"{evaluation.folds}-fold stratified cross-validation per language over `{evaluation.test_data}`"
    else:
        method = f"held-out test set `{evaluation.test_data}` (never trained on)"
    unseen = [language for language in evaluation.test_languages if language not in evaluation.train_languages]
    lines = [
        f"- Method: {method}",
        f"- Trained on: {', '.join(evaluation.train_languages)}; tested on: {', '.join(evaluation.test_languages)}",
        f"- Pipeline: `{evaluation.config}` as configured, {fallback_note(evaluation.fallback_threshold)}",
        "- Accuracy (in-scope sentences, a fallback counts as wrong) is at intent level (`faq` is one intent); "
        "the per-intent scores and the confusion matrices give every FAQ answer its own row (`faq/warranty`); "
        "*fallback* is the share of in-scope sentences that fell back; "
        "*OOS rejected* the share of `out_of_scope` sentences the bot declined (fell back or called them "
        "out_of_scope); *ECE* the expected calibration error of the classifier's top intent (10 bins, "
        "reliability.png); macro-F1 averages every label tested or predicted (a prediction into an intent the "
        "test set lacks counts), except `out_of_scope` and `nlu_fallback`; *answer accuracy* is the "
        "share of FAQ questions that got the right intent and the right answer",
        f"- Reproduce: `{evaluation.command}`",
    ]
    if unseen:
        lines.insert(2, f"- Cross-lingual: never trained on {', '.join(unseen)}")
    return lines


def fallback_note(threshold: Optional[float]) -> str:
    if threshold is None:
        return "which has no FallbackClassifier: every message gets an intent"
    return f"FallbackClassifier included (threshold {threshold:g}): a message that falls back counts as wrong"


def format_summary(evaluation: Evaluation) -> str:
    """One row per test language and the mean: the table printed and atop report.md."""
    lines = ["| language | sentences | accuracy | fallback | OOS rejected | ECE | macro-F1 | answer accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in evaluation.results:
        answers = "—" if r.answer_accuracy is None else f"{r.answer_accuracy:.3f} ({r.faq_questions} FAQ)"
        rejected = "—" if r.oos_rejection is None else f"{r.oos_rejection:.3f} ({r.oos_sentences})"
        lines.append(f"| {r.language} | {r.sentences} | {r.accuracy:.3f} | {r.fallback_rate:.3f} | {rejected} "
                     f"| {r.ece:.3f} | {r.macro_f1:.3f} | {answers} |")
    mean = evaluation.summary()
    answers = "—" if mean["answer_accuracy"] is None else f"{mean['answer_accuracy']:.3f}"
    rejected = "—" if mean["oos_rejection"] is None else f"{mean['oos_rejection']:.3f}"
    lines.append(f"| **mean** | {sum(r.sentences for r in evaluation.results)} | **{mean['accuracy']:.3f}** "
                 f"| {mean['fallback_rate']:.3f} | {rejected} | {mean['ece']:.3f} | {mean['macro_f1']:.3f} "
                 f"| {answers} |")
    return "\n".join(lines)


def format_report(evaluation: Evaluation) -> str:
    """report.md: header, summary, then per language the plot, the intents and the errors."""
    lines = ["# NLU evaluation per language", "", *describe(evaluation), "", "## Summary", "",
             format_summary(evaluation), "", "![accuracy by language](accuracy_by_language.png)", "",
             "![reliability diagram](reliability.png)"]
    for r in evaluation.results:
        lines += ["", f"## {r.language}", "", f"Accuracy {r.accuracy:.3f} ({r.top_accuracy:.3f} without the "
                  f"fallback), fallback rate {r.fallback_rate:.3f}, ECE {r.ece:.3f}, macro-F1 {r.macro_f1:.3f}"
                  + ("" if r.answer_accuracy is None else f", answer accuracy {r.answer_accuracy:.3f}")
                  + ("" if r.oos_rejection is None else f", out of scope rejected {r.oos_rejection:.3f}")
                  + f" on {r.sentences} sentences."]
        if r.fold_accuracy:
            lines[-1] += " Accuracy per fold: " + ", ".join(f"{a:.3f}" for a in r.fold_accuracy) + "."
        lines += ["", f"![confusion matrix, {r.language}](confusion_{r.language}.png)", "",
                  "| intent | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {name} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
                  for name, s in r.intents.items()]
        lines += ["", f"Wrong intent or FAQ answer: {len(r.errors)}"]
        if r.errors:
            lines += ["", "| sentence | expected | predicted | confidence |", "|---|---|---|---:|"]
            lines += [f"| {_cell(e['text'])} | {e['expected']} | {e['predicted']} | {e['confidence']:.2f} |"
                      for e in r.errors]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    short = text if len(text) <= REPORT_TEXT_CHARS else text[: REPORT_TEXT_CHARS - 1] + "…"
    return short.replace("|", "\\|").replace("\n", " ")
