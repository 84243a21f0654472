"""``python -m veil.demo``: Veil's main job, as the README's run command."""

from __future__ import annotations

from rich.console import Console

from veil.demo.ratchet import run_ratchet_demo


def main() -> None:
    """Run every demo in order."""
    run_ratchet_demo(Console())


if __name__ == "__main__":
    main()
