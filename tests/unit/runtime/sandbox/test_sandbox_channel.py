"""Host-side channels: framing, cancellation safety, limits, fd passing."""

from __future__ import annotations

import asyncio
import os
import socket
import struct

import pytest

from skillmarket.runtime.sandbox.channel import (
    ChannelClosed,
    ControlChannel,
    FrameChannel,
    ProtocolViolation,
)


def run(coro):
    return asyncio.run(coro)


class TestFrameChannel:
    def test_frame_round_trips(self):
        async def scenario():
            a, b = socket.socketpair()
            left, right = FrameChannel(a, 1 << 20), FrameChannel(b, 1 << 20)
            await left.send({"x": "ü" * 3})
            got = await right.recv()
            left.close()
            right.close()
            return got

        assert run(scenario()) == {"x": "üüü"}

    def test_cancelled_recv_keeps_partial_frame(self):
        async def scenario():
            a, b = socket.socketpair()
            channel = FrameChannel(b, 1 << 20)
            body = b'{"k": 1}'
            a.sendall(struct.pack(">I", len(body)) + body[:3])
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(channel.recv(), 0.05)
            a.sendall(body[3:])
            got = await channel.recv()
            a.close()
            channel.close()
            return got

        assert run(scenario()) == {"k": 1}

    @pytest.mark.parametrize(
        "data",
        [struct.pack(">I", 1 << 30), struct.pack(">I", 2) + b"[]", struct.pack(">I", 1) + b"{"],
    )
    def test_recv_fails_on_bad_frame(self, data):
        async def scenario():
            a, b = socket.socketpair()
            channel = FrameChannel(b, 1 << 20)
            a.sendall(data)
            try:
                await channel.recv()
            finally:
                a.close()
                channel.close()

        with pytest.raises(ProtocolViolation):
            run(scenario())

    def test_recv_fails_closed_on_eof(self):
        async def scenario():
            a, b = socket.socketpair()
            channel = FrameChannel(b, 1 << 20)
            a.close()
            try:
                await channel.recv()
            finally:
                channel.close()

        with pytest.raises(ChannelClosed):
            run(scenario())


class TestControlChannel:
    def test_message_carries_fd(self):
        async def scenario():
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            control = ControlChannel(a)
            r, w = os.pipe()
            await control.send({"op": "run"}, fd=w)
            msg, fds, _, _ = socket.recv_fds(b, 1024, 1)
            os.write(fds[0], b"via passed fd")
            for fd in (fds[0], w):
                os.close(fd)
            data = os.read(r, 100)
            os.close(r)
            control.close()
            b.close()
            return msg, data

        assert run(scenario()) == (b'{"op": "run"}', b"via passed fd")
