"""What the linter reads and what it reports: the bot as the checks see it, and its issues."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

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
