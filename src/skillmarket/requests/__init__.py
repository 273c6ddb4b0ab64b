"""Skill requests: what operators need, which skills match, and which chains would."""
