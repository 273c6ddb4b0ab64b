"""Step executors: each runs one kind of manifest step (llm, script) and meters it."""
