"""Runnable demonstrations of Veil, started by ``./dev demo`` (``python -m veil.demo``)."""
