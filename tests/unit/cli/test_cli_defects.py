"""Defects a new user hit in the ``veil`` CLI (issue 14), each pinned by a test."""

from __future__ import annotations

import stat
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from veil.chat.app import STORE_FILE
from veil.chat.errors import ProfileBusy
from veil.chat.receive_lock import ReceiveLock
from veil.chat.store.database import header_path
from veil.cli.chat_input import Command, Message, parse_line
from veil.cli.main import main
from veil.cli.sessions import without_service
from veil.service.errors import ServiceAlreadyRunning
from veil.service.profile_files import hold_lock

RELAY = "veil://" + "A" * 43 + "@relay.example"


def _init(runner: CliRunner, home: Path, *, passphrase: str | None = "pw") -> Result:
    env = {"VEIL_PASSPHRASE": passphrase} if passphrase else {"VEIL_PASSPHRASE": ""}
    args = ["init", "--name", "Al", "--relay", RELAY, "--fast-kdf", "--home", str(home)]
    return runner.invoke(main, args, env=env, input="")


def test_version_is_printed() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("veil ")


def test_a_home_that_cannot_be_created_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = _init(CliRunner(), blocker / "home")
    assert result.exit_code == 1
    output = result.output
    assert "error:" in output and "Traceback" not in output


def test_the_profile_is_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _init(CliRunner(), home).exit_code == 0
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for path in (home / STORE_FILE, header_path(home / STORE_FILE)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_no_terminal_and_no_passphrase_is_a_clear_error_without_getpass_warning(
    tmp_path: Path,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a GetPassWarning would fail the test
        result = _init(CliRunner(), tmp_path / "home", passphrase=None)
    assert result.exit_code == 1
    assert "set VEIL_PASSPHRASE" in result.output


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("hello\n", Message("hello")),
        ("\x1b[A\x1b[Bhello\x1b[D\n", Message("hello")),  # arrow keys, no line editing
        ("/help\n", Command("/help", known=True)),
        ("/hepl me\n", Command("/hepl", known=False)),  # mistyped: never sent
        ("/QUIT\n", Command("/quit", known=True)),
        ("//etc/hosts is a path\n", Message("/etc/hosts is a path")),
        ("  \n", None),
        ("\x07\n", None),
    ],
)
def test_chat_lines_are_commands_messages_or_nothing(
    typed: str, parsed: Command | Message | None
) -> None:
    assert parse_line(typed) == parsed


def test_a_second_receiver_on_one_profile_is_refused_not_silently_starved(
    tmp_path: Path,
) -> None:
    with ReceiveLock(tmp_path), pytest.raises(ProfileBusy, match="another veil process"):
        ReceiveLock(tmp_path).__enter__()
    with ReceiveLock(tmp_path):  # released when the first one ended
        pass


def test_a_command_that_opens_the_store_itself_refuses_beside_a_running_service(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    assert _init(CliRunner(), home).exit_code == 0
    with hold_lock(home):  # what `veil serve` holds while it runs
        with pytest.raises(ServiceAlreadyRunning, match="veil serve"), without_service(home):
            pass
        result = CliRunner().invoke(
            main,
            ["backup", "--to", str(tmp_path / "b"), "--home", str(home)],
            env={"VEIL_PASSPHRASE": "pw", "VEIL_BACKUP_PASSPHRASE": "bk"},
        )
    assert result.exit_code == 1 and "veil serve" in result.output
    assert not (tmp_path / "b").exists()
    with without_service(home):  # released when the service stopped
        pass
