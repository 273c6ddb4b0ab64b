"""How the CLI prints: JSON for machines, Rich tables for people, one line for failures."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import typer
import yaml
from rich.console import Console
from rich.table import Table

# Off a terminal (pipes, CI logs) Rich would assume 80 columns and squeeze ids; use more.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a Rich table; every column but the last keeps its values whole (ids get copied)."""
    table = Table(title=title)
    for index, column in enumerate(columns):
        last = index == len(columns) - 1
        table.add_column(
            column,
            no_wrap=not last,
            overflow="ellipsis" if last else "fold",
            min_width=8 if last else None,
        )
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def fail(message: str, code: str | None = None) -> NoReturn:
    """Print a one-line reason on stderr and exit non-zero."""
    prefix = f"{code}: " if code else ""
    err_console.print(f"[red]error:[/red] {prefix}{message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def load_document(path: Path, what: str, code: str) -> dict[str, Any]:
    """Read one ``what`` object from a YAML or JSON file (by extension), or fail with ``code``."""
    try:
        text = path.read_text()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", "FILE_UNREADABLE")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        fail(f"{path} is not valid {kind}: {str(exc).splitlines()[0]}", code)
    if not isinstance(data, dict):
        fail(f"{path} must hold one {what} object", code)
    return data


def price_text(cents: int) -> str:
    """A price in cents as people read it."""
    return "free" if cents == 0 else f"${cents / 100:.2f}"


def shorten(text: str, width: int = 60) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"
