"""The README's run command: the ratchet demo runs end to end and says what it shows."""

from __future__ import annotations

from rich.console import Console

from veil.crypto import DeterministicRandom
from veil.demo.ratchet import run_ratchet_demo


def test_ratchet_demo_agrees_exchanges_and_rejects_tampering() -> None:
    console = Console(record=True, width=200)
    run_ratchet_demo(console, DeterministicRandom(b"demo"))
    text = console.export_text()
    assert "codes match" in text
    assert "MISMATCH" not in text
    assert "his ratchet state unchanged: True" in text
    assert "So a key stolen today can't read tomorrow's messages." in text
