"""Cryptography for sealed skills: envelope encryption at rest, HPKE sealing in transit."""
