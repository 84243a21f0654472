"""SDK users get the types: the examples pass ``mypy --strict`` run as a user runs it
(outside this repository's configuration, against the installed ``veil`` package and
its ``py.typed`` marker), and a handler of the wrong type is caught."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.bot_process import EXAMPLES

pytestmark = pytest.mark.slow

WRONG_HANDLER = """
from veil.bot import Bot, Event

bot = Bot("wrong")


@bot.command("echo")
async def echo(event: Event) -> None:
    await event.reply(event.text)
"""


def mypy_strict(folder: Path) -> subprocess.CompletedProcess[str]:
    """``mypy --strict`` on every ``.py`` in ``folder``, with no project config."""
    files = sorted(str(path.name) for path in folder.glob("*.py"))
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *files],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_examples_pass_mypy_strict_as_a_user_runs_it(tmp_path: Path) -> None:
    examples = sorted(EXAMPLES.glob("*.py"))
    assert len(examples) >= 2
    for example in examples:
        shutil.copy(example, tmp_path)
    result = mypy_strict(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"no issues found in {len(examples)} source files" in result.stdout


def test_a_handler_of_the_wrong_type_is_caught(tmp_path: Path) -> None:
    (tmp_path / "wrong_bot.py").write_text(WRONG_HANDLER)
    result = mypy_strict(tmp_path)
    assert result.returncode == 1
    assert 'Value of type variable "_C" of function cannot be "Callable[[Event]' in result.stdout
    assert '"Event" has no attribute "reply"' in result.stdout
