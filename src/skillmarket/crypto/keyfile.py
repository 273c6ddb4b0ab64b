"""Small JSON key files in the data dir: created 0600 atomically, refused when others can read."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from skillmarket.crypto.errors import KeyStoreError


def read_key_file(path: Path) -> dict[str, Any]:
    """Load a key file, refusing one that group or others may access."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyStoreError(
                f"{path} must be readable by its owner only (chmod 600)",
                details={"path": str(path), "mode": oct(mode & 0o777)},
            )
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeyStoreError(
            f"cannot read key file {path}: {exc}", details={"path": str(path)}
        ) from exc


def write_key_file(path: Path, document: dict[str, Any]) -> None:
    """Write a key file atomically with mode 0600 (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), 0o600)
            json.dump(document, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
