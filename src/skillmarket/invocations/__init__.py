"""Invocations: the lifecycle of one call of a skill, from invoke to receipt."""
