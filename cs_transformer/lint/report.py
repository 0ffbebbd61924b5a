"""The human-readable report: per language, issue counts by code, then the issues."""

from __future__ import annotations

from cs_transformer.lint.findings import Issue, Report

TABLE_TEXT_CHARS = 60


def format_report(report: Report, fail_on: str) -> str:
    """The human-readable table: per language, issue counts by code, then the issues."""
    lines = [f"Translation coverage for {', '.join(report.languages)}"]
    counts = report.counts()
    for language in report.languages:
        issues = [issue for issue in report.issues if issue.language == language]
        lines += ["", f"{language}: {_plural(len(issues), 'issue')}"]
        lines += [f"  {code:<28}{count:>4}" for code, count in counts[language].items()]
        lines += [_issue_line(issue) for issue in issues]
    totals = report.totals()
    verdict = "FAIL" if report.failed(fail_on) else "OK"
    lines += ["", f"{_plural(totals['errors'], 'error')}, {_plural(totals['warnings'], 'warning')} "
                  f"(--fail-on {fail_on}): {verdict}"]
    return "\n".join(lines)


def _issue_line(issue: Issue) -> str:
    text = ""
    if issue.text is not None:
        short = issue.text if len(issue.text) <= TABLE_TEXT_CHARS else issue.text[: TABLE_TEXT_CHARS - 1] + "…"
        text = f' "{short}"'
    return f"    {issue.severity:<8}{issue.code:<28}{issue.subject} {issue.name}{text}: {issue.message}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
