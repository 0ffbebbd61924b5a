"""`rasa data validate` without its false "utterance not used" warnings.

Rasa warns about every response that no rule or story names, though custom actions send many
of them (`dispatcher.utter_message(response="utter_order_not_found")`) and forms ask for their
slots with `utter_ask_<slot>`, and Rasa 3.6 has no way to declare that. This runs `rasa data
validate` and drops exactly the warnings whose response is sent that way: its name is a string
literal in the code (`--code`, default `actions/` and `bot/`), or a plural form of one
(`utter_open_orders_few` of "utter_open_orders", cs_common/plurals.py), or the question of
a form's required slot in `--domain`. Every other line, warning and exit status is Rasa's:

    python -m cs_transformer.validate [--code actions bot] [--domain domain.yml] [-- rasa data validate options]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Set, Tuple

import yaml

from cs_common.plurals import split_plural

UNUSED_UTTERANCE = re.compile(r"UserWarning: The utterance '(utter_\w+)' is not used in any story or rule\.")
RESPONSE_LITERAL = re.compile(r"""["'](utter_\w+)["']""")


def responses_in_code(folders: Sequence[Path]) -> Set[str]:
    """Every `utter_...` string literal in the Python files under `folders`."""
    names: Set[str] = set()
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            names.update(RESPONSE_LITERAL.findall(path.read_text(encoding="utf-8")))
    return names


def form_questions(domain: Path) -> Set[str]:
    """`utter_ask_<slot>` and `utter_ask_<form>_<slot>` of every form's required slots."""
    forms = (yaml.safe_load(domain.read_text(encoding="utf-8")) or {}).get("forms") or {}
    return {
        question
        for form, spec in forms.items()
        for slot in (spec or {}).get("required_slots") or []
        for question in (f"utter_ask_{slot}", f"utter_ask_{form}_{slot}")
    }


def sent_by_code(response: str, sent: Set[str]) -> bool:
    plural = split_plural(response)
    return response in sent or (plural is not None and plural[0] in sent)


def filter_output(lines: Iterable[str], sent: Set[str]) -> Tuple[List[str], List[str]]:
    """(the lines to keep, the responses whose false warning was dropped)."""
    kept, dropped = [], []
    for line in lines:
        match = UNUSED_UTTERANCE.search(line)
        if match and sent_by_code(match.group(1), sent):
            dropped.append(match.group(1))
        else:
            kept.append(line)
    return kept, dropped


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cs_transformer.validate", description=__doc__.split("\n")[0])
    parser.add_argument("--code", type=Path, nargs="+", default=[Path("actions"), Path("bot")],
                        help="folders of the Python code that sends responses (custom actions, channels)")
    parser.add_argument("--domain", type=Path, default=Path("domain.yml"))
    parser.add_argument("rasa_args", nargs="*", help="passed to `rasa data validate` (after --)")
    args = parser.parse_args(argv)
    missing = [str(path) for path in [*args.code, args.domain] if not path.exists()]
    if missing:
        print(f"cs_transformer.validate: no such file or folder: {', '.join(missing)} (see --code and --domain)", file=sys.stderr)
        return 2
    sent = responses_in_code(args.code) | form_questions(args.domain)
    rasa = Path(sys.executable).with_name("rasa")
    result = subprocess.run([str(rasa), "data", "validate", "--domain", str(args.domain), *args.rasa_args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    kept, dropped = filter_output(result.stdout.splitlines(), sent)
    print("\n".join(kept))
    print(f"cs_transformer.validate: left out {len(dropped)} 'utterance not used' warning(s) for responses "
          f"that the code or a form sends: {', '.join(sorted(dropped)) or 'none'}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
