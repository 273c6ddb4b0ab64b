"""Host side of the sandbox channels, for asyncio.

* :class:`FrameChannel`: length-prefixed JSON frames over a stream socket (JS worker, Python
  child). Received bytes are kept in the channel, so a ``recv`` cancelled by a timeout never
  loses half a frame. Frames above ``max_frame`` are a protocol violation.
* :class:`ControlChannel`: one JSON message per SOCK_SEQPACKET datagram (the zygote's control
  socket), able to pass a file descriptor along (SCM_RIGHTS).
"""

from __future__ import annotations

import array
import asyncio
import json
import socket
import struct
from typing import Any

_HEADER = struct.Struct(">I")


class ChannelClosed(Exception):
    """The peer closed the channel (usually: the process died)."""


class ProtocolViolation(Exception):
    """The peer sent something that is not a valid frame; the peer is not trusted afterwards."""


class FrameChannel:
    """Frames over a non-blocking stream socket owned by this object."""

    def __init__(self, sock: socket.socket, max_frame: int):
        sock.setblocking(False)
        self.sock = sock
        self.max_frame = max_frame
        self._buffer = bytearray()
        self._send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any], *, raw: dict[str, str] | None = None) -> None:
        """Send one frame; concurrent senders never interleave.

        ``raw`` fields travel unescaped after the JSON (see ``_frames``); the worker finds them
        in the message it reads, as if they had been part of it.
        """
        blobs = [(k, text.encode("utf-8", "surrogatepass")) for k, text in (raw or {}).items()]
        if blobs:
            message = {**message, "raw": [[name, len(blob)] for name, blob in blobs]}
        body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
        data = b"".join([_HEADER.pack(len(body)), body, *(blob for _, blob in blobs)])
        async with self._send_lock:
            try:
                await asyncio.get_running_loop().sock_sendall(self.sock, data)
            except OSError as exc:
                raise ChannelClosed(str(exc)) from exc

    async def recv(self) -> dict[str, Any]:
        """Receive one frame; safe to cancel (partial data stays buffered)."""
        loop = asyncio.get_running_loop()
        while True:
            frame = self._pop_frame()
            if frame is not None:
                return frame
            try:
                chunk = await loop.sock_recv(self.sock, 1 << 18)
            except OSError as exc:
                raise ChannelClosed(str(exc)) from exc
            if not chunk:
                raise ChannelClosed("peer closed the channel")
            self._buffer += chunk

    def _pop_frame(self) -> dict[str, Any] | None:
        if len(self._buffer) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self._buffer)
        if size > self.max_frame:
            raise ProtocolViolation(f"frame of {size} bytes exceeds {self.max_frame}")
        if len(self._buffer) < _HEADER.size + size:
            return None
        body = bytes(self._buffer[_HEADER.size : _HEADER.size + size])
        del self._buffer[: _HEADER.size + size]
        try:
            message = json.loads(body)
        except ValueError as exc:
            raise ProtocolViolation("frame is not JSON") from exc
        if not isinstance(message, dict):
            raise ProtocolViolation("frame is not a JSON object")
        return message

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


class ControlChannel:
    """JSON datagrams over a non-blocking SOCK_SEQPACKET socket, optionally carrying an fd."""

    def __init__(self, sock: socket.socket):
        sock.setblocking(False)
        self.sock = sock

    async def send(self, message: dict[str, Any], fd: int | None = None) -> None:
        """Send one message (and ``fd``, duplicated into the peer)."""
        data = json.dumps(message).encode()
        ancillary = []
        if fd is not None:
            ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
        loop = asyncio.get_running_loop()
        while True:
            try:
                self.sock.sendmsg([data], ancillary)
                return
            except BlockingIOError:
                await _writable(loop, self.sock)
            except OSError as exc:
                raise ChannelClosed(str(exc)) from exc

    async def recv(self) -> dict[str, Any]:
        """Receive one message."""
        try:
            data = await asyncio.get_running_loop().sock_recv(self.sock, 1 << 16)
        except OSError as exc:
            raise ChannelClosed(str(exc)) from exc
        if not data:
            raise ChannelClosed("peer closed the control channel")
        try:
            message = json.loads(data)
        except ValueError as exc:
            raise ProtocolViolation("control message is not JSON") from exc
        if not isinstance(message, dict):
            raise ProtocolViolation("control message is not a JSON object")
        return message

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


async def _writable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    ready = loop.create_future()
    loop.add_writer(sock.fileno(), lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_writer(sock.fileno())
