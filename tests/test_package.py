"""The plugin as a package: the README's "Use the NLU components in another Rasa project", run as written.

Builds the wheel from a copy of the tracked files (the source tree gets no build/), installs it
with its train extra beside Rasa into a fresh venv, runs `rasa init --no-prompt`, swaps in the
README's pipeline, trains, runs `rasa test nlu`, parses Spanish and Chinese in a network
namespace, then does the same parse from a venv with the serve extra only (no torch).
Installs are pinned by the lock and come from uv's cache (only the index is asked: about 1.5 min).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

SECTION = "## Use the NLU components in another Rasa project"
PYTHON310 = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions" / "3.10.13" / "bin" / "python3.10"


def readme_sequence() -> str:
    """The first bash block of the README section, exactly as a reader copies it."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)


def copy_tracked_files(destination: Path) -> None:
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        source = REPO / name
        if source.is_file() and not source.is_symlink():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_the_readme_sequence_installs_trains_and_serves(tmp_path: Path) -> None:
    if not PYTHON310.is_file() or shutil.which("unshare") is None:
        pytest.skip("needs pyenv's Python 3.10.13 and unshare (util-linux)")
    plugin = tmp_path / "cs_transformer"
    copy_tracked_files(plugin)
    work = tmp_path / "project"
    work.mkdir()
    environment = {
        **os.environ,
        "PLUGIN": str(plugin),
        "PY": str(PYTHON310),
        "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",  # uv
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    environment.pop("PYTHONPATH", None)  # the installed wheel must be what runs, not this checkout
    environment.pop("VIRTUAL_ENV", None)
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_sequence()], cwd=work, env=environment,
        capture_output=True, text=True, timeout=3500,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-6000:]
    assert not (REPO / "build").exists()
    parsed = re.findall(r"^parsed: (\S+) \| (.+)$", completed.stdout, re.MULTILINE)
    assert parsed == [("mood_unhappy", "estoy muy triste"), ("mood_unhappy", "我很难过")] * 2, output[-4000:]
    assert (work / "moodbot" / "results" / "intent_report.json").is_file()
    sizes = re.findall(r"^(\S+)\s+(serve-venv|train-venv)$", completed.stdout, re.MULTILINE)
    print("install sizes:", sizes)
