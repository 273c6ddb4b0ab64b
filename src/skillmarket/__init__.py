"""skillmarket: a self-hostable marketplace and secure runtime for AI-agent skills."""

__version__ = "0.1.0"
