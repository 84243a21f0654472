"""``python -m veil.demo``: Veil's main job, as the README's run command."""

from __future__ import annotations

from rich.console import Console

from veil.demo.chat import run_chat_demo
from veil.demo.ratchet import run_ratchet_demo


def main() -> None:
    """Run every demo in order."""
    console = Console()
    run_ratchet_demo(console)
    run_chat_demo(console)


if __name__ == "__main__":
    main()
