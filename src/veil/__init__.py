"""Veil: private messaging over one-way relay queues, with no user identifiers."""

__version__ = "0.1.0"
