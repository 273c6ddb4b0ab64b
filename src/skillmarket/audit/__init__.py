"""Tamper-evident audit log: RFC 6962 Merkle hashing and proofs, signed checkpoints, receipts.

The modules here are pure (no database I/O): ``merkle`` hashes events and builds and checks
proofs, ``keys`` holds the log's Ed25519 key, ``checkpoints`` signs and opens C2SP signed-note
checkpoints, and ``receipts`` signs and verifies invocation receipts. See ``docs/audit.md``.
"""
