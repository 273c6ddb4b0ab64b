"""Length-prefixed JSON frames over a blocking file descriptor (worker side, stdlib only).

This module is imported by the sandbox worker processes, which run as ``python -I -S`` and
must not import anything beyond the standard library. A frame is a 4-byte big-endian length
followed by that many bytes of UTF-8 JSON. The host side of the same format lives in
``channel.py``.

A frame from the host may carry large strings (a script's code and input) raw instead of
JSON-escaped: its JSON then has ``"raw": [[name, size], ...]`` and the frame is followed by
those byte strings in that order, each UTF-8 (lone surrogates passed through) and each within
the same size limit. Escaping and unescaping 20 KB of JSON text costs more than running a
small script, so this keeps it off every run.
"""

from __future__ import annotations

import json
import os
import struct

HEADER = struct.Struct(">I")


class FrameError(Exception):
    """The peer closed the channel or sent a malformed or oversized frame."""


def encode_frame(message: dict) -> bytes:
    """Encode one message as header + JSON body."""
    # Strict UTF-8: a lone surrogate (possible in JS strings) raises UnicodeEncodeError, which
    # the caller turns into a script error instead of sending the host undecodable bytes.
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return HEADER.pack(len(body)) + body


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (looping over short writes)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int) -> bytes:
    """Read exactly ``size`` bytes or raise :class:`FrameError` on end of file."""
    chunks = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise FrameError("channel closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, max_bytes: int) -> dict:
    """Read one frame; refuse frames larger than ``max_bytes``."""
    (size,) = HEADER.unpack(read_exact(fd, HEADER.size))
    if size > max_bytes:
        raise FrameError(f"frame of {size} bytes exceeds {max_bytes}")
    message = json.loads(read_exact(fd, size))
    if not isinstance(message, dict):
        raise FrameError("frame is not a JSON object")
    for name, length in message.pop("raw", ()):
        if not isinstance(length, int) or not 0 <= length <= max_bytes:
            raise FrameError(f"raw field of {length} bytes exceeds {max_bytes}")
        message[name] = read_exact(fd, length).decode("utf-8", "surrogatepass")
    return message
