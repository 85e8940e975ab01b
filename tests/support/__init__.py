"""Helpers shared by tests and bench scripts."""
