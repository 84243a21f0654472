"""The ``veil`` command line: profile set-up, contacts, messages and routing.

An interface over :mod:`veil.chat`; ``veil.cli.main`` is the entry point.
"""
