"""The `skillmarket` command line (Typer + Rich)."""
