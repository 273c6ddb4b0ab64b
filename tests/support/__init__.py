"""Helpers shared by tests: fake upstream servers and the like."""
