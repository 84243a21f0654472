"""``python -m veil.cli``: the ``veil`` command, for a child started with this Python."""

from veil.cli.main import main

main()
