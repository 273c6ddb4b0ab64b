"""Audit: the tamper-evident log of every state change, money movement and proxy call."""
