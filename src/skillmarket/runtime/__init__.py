"""Skill execution runtime.

Sub-packages stay independent and are imported directly: the script sandbox is
:mod:`skillmarket.runtime.sandbox` (its typed errors in :mod:`skillmarket.runtime.errors`).
Nothing is imported here, so loading one part of the runtime never starts another.
"""
