"""One home for checking component configs against a declared schema.

Each component declares, per key, what values are allowed. A bad `config.yml` then
fails at `rasa train` with one line per bad key that says what would be accepted,
instead of a traceback from deep inside torch or langdetect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Text, Tuple, Type, Union

from rasa.shared.exceptions import InvalidConfigException

Check = Callable[[Any], bool]


@dataclass(frozen=True)
class Option:
    """What one config key accepts."""

    types: Union[Type, Tuple[Type, ...]]
    help: Text
    check: Optional[Check] = None
    nullable: bool = False


def positive(value: Any) -> bool:
    return value > 0


def non_negative(value: Any) -> bool:
    return value >= 0


def probability(value: Any) -> bool:
    return 0.0 <= value <= 1.0


def one_of(*choices: Any) -> Check:
    return lambda value: value in choices


def list_of_strings(value: Any) -> bool:
    return bool(value) and all(isinstance(item, str) and item for item in value)


# Keys that Rasa itself puts into every component's config.
RASA_KEYS = frozenset({"name", "class"})


def validate_config(component: Text, config: Dict[Text, Any], schema: Dict[Text, Option]) -> None:
    """Raises `InvalidConfigException` listing every bad key of `config`, one per line."""
    problems: List[Text] = []
    for key, value in config.items():
        if key in RASA_KEYS:
            continue
        option = schema.get(key)
        if option is None:
            problems.append(f"unknown key '{key}'. Valid keys: {', '.join(sorted(schema))}.")
        elif not _accepts(option, value):
            problems.append(f"'{key}: {value!r}' is invalid: {key} must be {option.help}.")
    if problems:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        raise InvalidConfigException(
            f"Invalid configuration of {component} in config.yml:\n{lines}\n"
            f"Fix these keys under `- name: cs_transformer.{component}` in your pipeline."
        )


def _accepts(option: Option, value: Any) -> bool:
    if value is None:
        return option.nullable
    types: Sequence[Type] = option.types if isinstance(option.types, tuple) else (option.types,)
    if isinstance(value, bool) and bool not in types:
        return False
    if not isinstance(value, tuple(types)):
        return False
    return option.check is None or bool(option.check(value))
