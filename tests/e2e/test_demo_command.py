"""The README's run command end to end: `python -m veil.demo` with real processes."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_relay_and_two_clients_and_shows_only_ciphertext_at_the_relay() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "veil.demo"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "codes match" in out
    assert "What the relay stores" in out
    assert "Hi Bob! Nobody but you can read this." in out
    assert out.count("delivered") >= 3
    # The relay table shows ids and sizes; no plaintext of the conversation is in it.
    relay_table = out[out.index("What the relay stores") : out.index("Random ids")]
    assert "Hi Alice" not in relay_table
    assert "Count me in!" in out  # Bob joined the group by link and posted
    assert "The group as Bob's client shows it (2 messages)" in out
    assert "Bob's copy says: Meet at the station" in out  # the file, downloaded
    files_line = out[out.index("On the relay the file is") :].splitlines()[0]
    assert "Meet at the station" not in files_line
    assert "Terminal 2 (Bob)" in out
