"""The `rasa data validate` wrapper drops only the false "utterance not used" warnings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cs_transformer.validate import filter_output, form_questions, responses_in_code
from tests.conftest import REPO

WARNING = "/x/rasa/shared/utils/io.py:100: UserWarning: The utterance '{}' is not used in any story or rule."


def test_only_responses_the_code_or_a_form_sends_are_left_out(tmp_path: Path) -> None:
    code = tmp_path / "actions"
    code.mkdir()
    (code / "orders.py").write_text(
        'dispatcher.utter_message(response="utter_order_not_found")\n'
        'dispatcher.utter_message(response=plural_response("utter_open_orders", n, language))\n',
        encoding="utf-8",
    )
    domain = tmp_path / "domain.yml"
    domain.write_text("forms:\n  address_form:\n    required_slots: [new_address]\n", encoding="utf-8")
    lines = [WARNING.format(name) for name in
             ("utter_order_not_found", "utter_open_orders_few", "utter_ask_new_address", "utter_forgotten_one")]
    other = "/x/io.py:100: UserWarning: The intent 'change_address_to' is not used in any story or rule."
    kept, dropped = filter_output([*lines, other], responses_in_code([code]) | form_questions(domain))
    assert dropped == ["utter_order_not_found", "utter_open_orders_few", "utter_ask_new_address"]
    assert kept == [WARNING.format("utter_forgotten_one"), other]  # no literal, no plural base: kept


@pytest.mark.slow  # runs `rasa data validate` on the demo bot (a minute or two)
def test_the_demo_bot_keeps_only_real_warnings() -> None:
    result = subprocess.run([sys.executable, "-m", "cs_transformer.validate"], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    unused = [line for line in result.stdout.splitlines() if "is not used in any story or rule" in line]
    assert not any("'utter_order_not_found'" in line or "'utter_open_orders_" in line for line in unused)
    assert "left out" in result.stdout
