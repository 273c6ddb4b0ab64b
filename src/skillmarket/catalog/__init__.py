"""Catalog: skills, their immutable versions, manifests, fingerprints and search."""
