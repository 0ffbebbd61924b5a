"""The package layout matches the processes: imports go one way, the action server runs without Rasa.

`cs_common` is what both processes need, `cs_transformer` the NLU plugin, `bot` the Rasa-side
channels and stores, `actions` the action server (rasa-sdk). Only tests import `bot` or `actions`.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

from tests.conftest import REPO

PACKAGES = ("cs_common", "cs_transformer", "bot", "actions")
# Which of our packages each package may import (besides itself).
ALLOWED = {
    "cs_common": set(),
    "cs_transformer": {"cs_common"},
    "bot": {"cs_common", "cs_transformer"},
    "actions": {"cs_common"},
}
# Third-party packages a package must not import, whatever the depth of the import.
FORBIDDEN = {
    "cs_common": {"rasa", "rasa_sdk"},
    "actions": {"rasa"},
}


def imported_modules(path: Path) -> Iterator[str]:
    """Every absolute import in a module, top-level or inside a function."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def package_imports() -> Dict[str, Set[Tuple[str, str]]]:
    """For each package: (top-level package imported, file that imports it)."""
    found: Dict[str, Set[Tuple[str, str]]] = {package: set() for package in PACKAGES}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            for module in imported_modules(path):
                found[package].add((module.split(".")[0], str(path.relative_to(REPO))))
    return found


def cycle_in(edges: Dict[str, Set[str]]) -> List[str]:
    """One cycle of the graph as its nodes (first one repeated at the end), or [] if none."""

    def from_path(path: List[str]) -> List[str]:
        for target in sorted(edges.get(path[-1], ())):
            if target in path:
                return path[path.index(target):] + [target]
            cycle = from_path(path + [target])
            if cycle:
                return cycle
        return []

    for start in sorted(edges):
        cycle = from_path([start])
        if cycle:
            return cycle
    return []


def test_every_package_exists_and_has_modules() -> None:
    for package in PACKAGES:
        assert (REPO / package / "__init__.py").is_file(), package
        assert len(list((REPO / package).rglob("*.py"))) > 1, package


def test_imports_between_packages_go_one_way_and_have_no_cycle() -> None:
    found = package_imports()
    edges = {package: {top for top, _ in found[package] if top in PACKAGES and top != package} for package in PACKAGES}
    assert cycle_in(edges) == []
    wrong = sorted(f"{where} imports {top}" for package in PACKAGES for top, where in found[package]
                   if top in PACKAGES and top != package and top not in ALLOWED[package])
    assert wrong == []


def test_the_neutral_package_and_the_action_server_import_no_rasa() -> None:
    found = package_imports()
    wrong = sorted(f"{where} imports {top}" for package, forbidden in FORBIDDEN.items()
                   for top, where in found[package] if top in forbidden)
    assert wrong == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b"}, "b": set()}) == []


# Imports every actions module, then builds the app `python -m actions.server` serves; prints
# the rasa modules loaded after each step (one JSON line each) so the first step is judged even
# if the second fails.
STARTUP = """
import json, pkgutil, sys, importlib
import actions
def rasa_modules():
    return sorted(name for name in sys.modules if name == "rasa" or name.startswith("rasa."))
for module in pkgutil.walk_packages(actions.__path__, "actions."):
    importlib.import_module(module.name)
print(json.dumps(rasa_modules()), flush=True)
import actions.server as server
server.serving_app(server.argument_parser().parse_args([]))
print(json.dumps(rasa_modules()), flush=True)
"""


@pytest.mark.timeout(300)
def test_the_action_server_starts_without_importing_rasa() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "CS_ACTION_SERVER_TOKEN": "t" * 40}
    completed = subprocess.run([sys.executable, "-c", STARTUP], cwd=REPO, env=env, capture_output=True, text=True, timeout=280)
    lines = completed.stdout.splitlines()
    assert lines, completed.stderr[-3000:]
    assert json.loads(lines[0]) == [], "importing the actions modules loads Rasa"
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert json.loads(lines[1]) == [], "building the action server's app loads Rasa"
