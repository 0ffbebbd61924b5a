"""The translation-coverage linter: planted errors are found, and only those; the demo bot is clean."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Set, Tuple

import pytest

from cs_transformer.languages import LanguageIdentifier
from cs_transformer.lint import Issue, Report, lint
from cs_transformer.lint.cli import main
from cs_transformer.lint.examples import check_example_counts
from cs_transformer.lint.findings import Bot, Example
from cs_transformer.lint.inputs import load_examples
from cs_transformer.lint.wrong_language import PLACEHOLDER, trusted_guess
from tests.conftest import REPO

FIXTURE = Path(__file__).parent / "fixtures" / "lint_bot"
CHECKS_FIXTURE = Path(__file__).parent / "fixtures" / "lint_checks"

# The newer checks' planted issues in CHECKS_FIXTURE (its domain.yml says which is which).
PLANTED_CHECKS: Set[Tuple[str, str, str]] = {
    ("language-not-in-slot", "pl", "language"),
    ("intent-not-in-domain", "en", "goodbye"),
    ("intent-not-used", "en", "order_status"),
    ("missing-word-list", "pl", "lexicon.yml"),
    ("missing-word-list", "es", "profanity.yml"),
    ("missing-page-text", "es", "send"),
    ("missing-page-text", "pl", "pl.json"),
    ("missing-heldout", "es", "order_status"),
    ("missing-heldout", "es", "goodbye"),
    ("missing-heldout", "pl", "greet"),
    ("missing-heldout", "pl", "order_status"),
    ("missing-heldout", "pl", "goodbye"),
    ("missing-response-variation", "pl", "utter_items_one"),
    ("missing-response-variation", "pl", "utter_items_few"),
    ("missing-response-variation", "pl", "utter_items_many"),
}

# (code, language, intent or response) of each issue planted in the fixture, one per check.
PLANTED: Set[Tuple[str, str, str]] = {
    ("missing-response-variation", "ar", "utter_goodbye"),
    ("too-few-examples", "es", "faq/opening_hours"),
    ("duplicate-example", "en", "faq/shipping_cost"),
    ("example-wrong-language", "es", "order_status"),
    ("response-wrong-language", "es", "utter_order_status"),
}


def fixture_args(*extra: str) -> List[str]:
    return ["--domain", str(FIXTURE / "domain.yml"), "--data", str(FIXTURE / "data"),
            "--config", str(FIXTURE / "config.yml"), *extra]


def found(report: Report) -> Set[Tuple[str, str, str]]:
    return {(issue.code, issue.language, issue.name) for issue in report.issues}


@pytest.fixture(scope="module")
def fixture_report() -> Report:
    return lint(FIXTURE / "domain.yml", [FIXTURE / "data"], FIXTURE / "config.yml")


def test_finds_exactly_the_planted_issues(fixture_report: Report) -> None:
    assert fixture_report.languages == ["en", "es", "ar"]
    assert len(fixture_report.issues) == len(PLANTED)
    assert found(fixture_report) == PLANTED


def test_issues_carry_severity_subject_and_text(fixture_report: Report) -> None:
    by_code = {issue.code: issue.to_json() for issue in fixture_report.issues}
    assert {code: issue["severity"] for code, issue in by_code.items()} == {
        "missing-response-variation": "error",
        "too-few-examples": "error",
        "duplicate-example": "error",
        "example-wrong-language": "warning",
        "response-wrong-language": "warning",
    }
    assert by_code["duplicate-example"]["text"] == "where is my package"
    assert "order_status" in by_code["duplicate-example"]["message"]
    assert by_code["too-few-examples"]["text"] is None
    assert "add 6 more" in by_code["too-few-examples"]["message"]
    assert by_code["missing-response-variation"]["response"] == "utter_goodbye"
    assert "value: ar" in by_code["missing-response-variation"]["message"]
    assert by_code["example-wrong-language"]["intent"] == "order_status"


def test_placeholders_are_ignored_when_detecting_a_response_language() -> None:
    # utter_order_summary's es variation reads as English only through its placeholders
    # (to langdetect; py3langid, the default backend, already says es).
    text = "Pedido {order_number}: {delivery_status_for_this_customer_account}, {tracking_information_link}."
    identifier = LanguageIdentifier(["en", "es", "ar"], "en", backend="langdetect")
    assert trusted_guess(identifier, text).language == "en"
    assert trusted_guess(identifier, PLACEHOLDER.sub(" ", text)) is None


@pytest.mark.parametrize(
    "text, language",
    [
        ("hola", None),  # lexicon: a loanword in another file is no proof
        ("was kostet das porto", None),  # langdetect says en; too short to trust
        ("Hello, I ordered a pair of shoes two weeks ago", "en"),
        ("أين طلبي؟", "ar"),  # a script of its own decides at any length
    ],
)
def test_only_long_latin_texts_or_own_scripts_are_trusted(text: str, language: Optional[str]) -> None:
    guess = trusted_guess(LanguageIdentifier(["en", "es", "de", "ar"], "en"), text)
    assert (guess.language if guess else None) == language


def test_min_examples_is_configurable() -> None:
    report = lint(FIXTURE / "domain.yml", [FIXTURE / "data"], FIXTURE / "config.yml", min_examples=1)
    assert found(report) == {issue for issue in PLANTED if issue[0] != "too-few-examples"}


def test_an_intent_missing_from_a_language_has_zero_examples() -> None:
    examples = [Example(f"hello {n}", "greet", "en", Path("en.yml"), True) for n in range(3)]
    bot = Bot(["en", "es"], "en", {}, examples, {"en": Path("data/nlu/en.yml")}, Path("domain.yml"), {}, set())
    (issue,) = check_example_counts(bot, min_examples=3)
    assert (issue.code, issue.language, issue.name) == ("too-few-examples", "es", "greet")
    assert issue.message == "0 es example(s), minimum 3: add 3 more to data/nlu/es.yml (create it)"


def test_files_not_named_by_language_are_split_by_detection(tmp_path: Path) -> None:
    nlu = tmp_path / "order_status.yml"
    nlu.write_text(
        'version: "3.1"\nnlu:\n- intent: order_status\n  examples: |\n'
        "    - ¿Dónde está mi pedido? Lo pedí hace dos semanas y todavía no ha llegado\n"
        "    - أين طلبي؟\n",
        encoding="utf-8",
    )
    examples, named = load_examples([nlu], ["en", "es", "ar"], LanguageIdentifier(["en", "es", "ar"], "en"))
    assert [(e.language, e.named) for e in examples] == [("es", False), ("ar", False)]
    assert named == {}


def test_language_override_replaces_the_config(fixture_report: Report) -> None:
    report = lint(FIXTURE / "domain.yml", [FIXTURE / "data"], FIXTURE / "config.yml", languages=["en", "es"])
    assert report.languages == ["en", "es"]
    assert found(report) == {issue for issue in PLANTED if issue[1] != "ar"}


def test_fail_on_decides_the_exit_status() -> None:
    warning = Issue("example-wrong-language", "es", "intent", "greet", "hello there", "reads as en")
    assert not Report(["en", "es"], [warning]).failed("error")
    assert Report(["en", "es"], [warning]).failed("warning")
    assert main(fixture_args("--min-examples", "1", "--fail-on", "error")) == 1  # duplicate, missing variation


def test_json_report_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lint.json"
    assert main(fixture_args("--json", str(out))) == 1
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["languages"] == ["en", "es", "ar"]
    assert {(i["code"], i["language"], i.get("intent") or i.get("response")) for i in report["issues"]} == PLANTED
    assert report["summary"]["errors"] == 3 and report["summary"]["warnings"] == 2
    assert report["summary"]["by_language"]["es"]["too-few-examples"] == 1
    table = capsys.readouterr().out
    assert "es: 3 issues" in table and "3 errors, 2 warnings (--fail-on error): FAIL" in table


def test_unreadable_inputs_exit_2(tmp_path: Path) -> None:
    assert main(fixture_args("--data", str(tmp_path / "missing"))) == 2
    assert main(fixture_args("--config", str(FIXTURE / "domain.yml"))) == 2  # no LanguageDetector there


def test_the_demo_bot_passes(tmp_path: Path) -> None:
    out = tmp_path / "lint.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)
        assert main(["--fail-on", "error", "--json", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["summary"]["errors"] == 0


@pytest.mark.slow  # the cs_transformer package import alone takes most of a minute
def test_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cs_transformer.lint", *fixture_args()],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "3 errors, 2 warnings" in result.stdout


# --------------------------------------------------------------------------- the newer checks


def checks_report(**overrides: object) -> Report:
    arguments = dict(page_texts=CHECKS_FIXTURE / "locales", heldout=CHECKS_FIXTURE / "heldout", min_examples=1)
    arguments.update(overrides)
    return lint(CHECKS_FIXTURE / "domain.yml", [CHECKS_FIXTURE / "data"], CHECKS_FIXTURE / "config.yml", **arguments)


def test_the_newer_checks_find_exactly_their_planted_issues() -> None:
    assert found(checks_report()) == PLANTED_CHECKS


def test_the_newer_checks_name_the_fix() -> None:
    messages = {(issue.code, issue.language, issue.name): issue.message for issue in checks_report().issues}
    domain = CHECKS_FIXTURE / "domain.yml"
    assert f"add it to `values:` of slots.language in {domain}" in messages["language-not-in-slot", "pl", "language"]
    assert f"not in `intents:` of {domain}" in messages["intent-not-in-domain", "en", "goodbye"]
    assert "fixtures/lint_checks/data/rules.yml" in messages["intent-not-used", "en", "order_status"]
    assert "add `pl: [...]` to cs_transformer/data/lexicon.yml" in messages["missing-word-list", "pl", "lexicon.yml"]
    assert f'add "send" to {CHECKS_FIXTURE / "locales" / "es.json"}' in messages["missing-page-text", "es", "send"]
    assert f"create {CHECKS_FIXTURE / 'locales' / 'pl.json'}" in messages["missing-page-text", "pl", "pl.json"]
    assert messages["missing-heldout", "pl", "greet"].endswith(f"{CHECKS_FIXTURE / 'heldout' / 'pl.yml'} (create it)")
    assert "pl has a 'few' plural form: add the response utter_items_few" in messages["missing-response-variation", "pl", "utter_items_few"]


def test_severities_of_the_newer_checks() -> None:
    severities = {issue.code: issue.severity for issue in checks_report().issues}
    assert severities == {
        "language-not-in-slot": "error", "intent-not-in-domain": "error", "intent-not-used": "warning",
        "missing-word-list": "error", "missing-page-text": "error", "missing-heldout": "warning",
        "missing-response-variation": "error",
    }


def test_page_texts_and_heldout_are_checked_only_when_given() -> None:
    report = checks_report(page_texts=None, heldout=None)
    assert found(report) == {issue for issue in PLANTED_CHECKS if issue[0] not in ("missing-page-text", "missing-heldout")}


def test_a_rule_or_a_slot_mapping_makes_an_intent_used(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(CHECKS_FIXTURE / "data", data)
    (data / "stories.yml").write_text(
        'version: "3.1"\nstories:\n- story: status\n  steps:\n  - or:\n    - intent: order_status\n'
        "    - intent: greet\n  - action: utter_greet\n",
        encoding="utf-8",
    )
    report = lint(CHECKS_FIXTURE / "domain.yml", [data], CHECKS_FIXTURE / "config.yml", min_examples=1)
    assert "intent-not-used" not in {issue.code for issue in report.issues}


def test_more_word_lists_need_every_bot_language(tmp_path: Path) -> None:
    names = tmp_path / "language_names.yml"
    names.write_text("en: [english, inglés]\nes: [spanish, español]\n", encoding="utf-8")
    report = checks_report(page_texts=None, heldout=None, extra_word_lists=[names])
    assert {(i.language, i.name) for i in report.issues if i.code == "missing-word-list"} == {
        ("pl", "lexicon.yml"), ("es", "profanity.yml"), ("pl", "language_names.yml")}


def test_the_demo_bot_s_language_names_are_read_by_the_action() -> None:
    from actions.language import LANGUAGE_NAMES, requested_language

    assert set(LANGUAGE_NAMES) == set(lint(REPO / "domain.yml", [REPO / "data"], REPO / "config.yml").languages)
    assert (requested_language("¿puede hablar en alemán?"), requested_language("请说中文")) == ("de", "zh")
