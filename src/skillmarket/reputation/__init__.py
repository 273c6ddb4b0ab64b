"""Reputation: ratings of completed invocations, and their summaries per skill version and skill."""
