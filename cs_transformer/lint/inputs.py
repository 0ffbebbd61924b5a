"""Reading the bot for the checks: its NLU examples by language, its domain, and which intents
a rule, a story or a slot mapping answers (all with Rasa's own loaders)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Sequence, Set, Tuple

from rasa.shared.core.events import UserUttered
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.data import get_data_files, is_nlu_file
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.utils.io import read_yaml_file

from cs_transformer.languages import LanguageIdentifier
from cs_transformer.lint.findings import Example, LintError


def nlu_files(paths: Sequence[Path]) -> List[Path]:
    """The NLU files under `paths`, as Rasa finds them (stories and rules are skipped)."""
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        raise LintError(f"no such data file or folder: {', '.join(missing)}")
    files = [relative(Path(name)) for name in get_data_files([str(path) for path in paths], is_nlu_file)]
    if not files:
        raise LintError(f"no Rasa NLU data in {', '.join(map(str, paths))}")
    return files


def relative(path: Path) -> Path:
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


def read_domain(domain: Path) -> Dict[str, Any]:
    if not domain.is_file():
        raise LintError(f"no such domain file: {domain}")
    return read_yaml_file(domain) or {}
