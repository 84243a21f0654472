"""Test helpers shared by the socket- and process-level suites."""
