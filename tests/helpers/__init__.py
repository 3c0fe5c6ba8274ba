"""Helpers that more than one test module uses (tests import these, never each other)."""
