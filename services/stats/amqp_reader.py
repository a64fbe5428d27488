"""A py-amqp connection that reads ahead from its socket: for consuming many small messages.

py-amqp reads each frame with three exact-size `recv` calls (header, payload, end byte) and sets
and resets the socket timeout around every frame: five system calls per frame, fifteen per
message, which cost more than everything else it does for a message. This transport asks the
socket for up to 64 KiB at a time, serves frames from that buffer, and leaves the timeout alone
while a whole frame is already buffered. A delivery whose three frames (basic.deliver, content
header, one body frame) are all in the buffer is taken in one step and handed to the channel as
py-amqp's frame handler would hand it: the per-frame reading and dispatching was still a third of
a consumer's time. Everything else is py-amqp's own.

It reaches into py-amqp's transport (its private `_read`, `_read_buffer`, `_quick_recv`), so it
works with the exact `amqp` version pinned in pyproject.toml only, and stays behind a switch:
the province's ingestion uses it unless HUB_STATS_READ_AHEAD=0, over plain TCP only (with TLS,
py-amqp's own transport reads). tests/integration/test_inbox.py checks it against the
real broker — frames split across reads, 1 MiB messages, heartbeats, a lost connection, TLS —
beside py-amqp's own transport; run it after changing the `amqp` pin.
"""
import contextlib
import errno
import struct

import amqp
from amqp import spec
from amqp.basic_message import Message
from amqp.transport import TCPTransport

from hub import inbox
from hub.inbox import HEARTBEAT_SECONDS

READ_AHEAD = 65536
HEADER = struct.Struct(">BHI")
FRAME_END = 0xCE
DELIVER = struct.pack(">HH", *spec.Basic.Deliver)
BODY_SIZE = struct.Struct(">Q")         # in a content header, after class id, weight


class ReadAheadTransport(TCPTransport):
    def _setup_transport(self):
        super()._setup_transport()
        self._buf = b""
        self._pos = 0

    # py-amqp puts back what a timed-out read_frame had taken: keep that working
    @property
    def _read_buffer(self):
        return self._buf[self._pos:]

    @_read_buffer.setter
    def _read_buffer(self, value):
        self._buf, self._pos = value, 0

    def _frame_buffered(self):
        have = len(self._buf) - self._pos
        if have < 7:
            return False
        size = HEADER.unpack_from(self._buf, self._pos)[2]
        return have >= size + 8

    def _frame_at(self, pos, kind, channel=None):
        """(channel, payload start, next frame) of a whole frame of `kind` buffered at `pos`
        (on `channel`), or None."""
        buf = self._buf
        if len(buf) - pos < 7:
            return None
        frame_type, frame_channel, size = HEADER.unpack_from(buf, pos)
        end = pos + 7 + size
        if (frame_type != kind or (channel is not None and frame_channel != channel)
                or len(buf) <= end or buf[end] != FRAME_END):
            return None
        return frame_channel, pos + 7, end + 1

    def take_delivery(self):
        """(channel, method payload, header payload, body) of a delivery whose frames are all
        buffered, taken from the buffer; None otherwise (py-amqp then reads frame by frame)."""
        buf, pos = self._buf, self._pos
        method = self._frame_at(pos, 1)
        if method is None or buf[method[1]:method[1] + 4] != DELIVER:
            return None
        channel, args_at, header_pos = method
        header = self._frame_at(header_pos, 2, channel)
        if header is None:
            return None
        body = self._frame_at(header[2], 3, channel)
        if body is None or BODY_SIZE.unpack_from(buf, header[1] + 4)[0] != body[2] - 1 - body[1]:
            return None
        self._pos = body[2]
        return (channel, buf[args_at:header_pos - 1], buf[header[1]:header[2] - 1],
                buf[body[1]:body[2] - 1])

    def having_timeout(self, timeout):
        if self._frame_buffered():
            return contextlib.nullcontext(self.sock)
        return super().having_timeout(timeout)

    def _read(self, n, initial=False, _errnos=(errno.EAGAIN, errno.EINTR)):
        buf, pos = self._buf, self._pos
        if len(buf) - pos >= n:
            self._pos = pos + n
            return buf[pos:pos + n]
        chunks, have = [buf[pos:]], len(buf) - pos
        try:
            while have < n:
                try:
                    s = self._quick_recv(max(n - have, READ_AHEAD))
                except OSError as exc:
                    if exc.errno in _errnos:
                        if initial and self.raise_on_initial_eintr:
                            raise TimeoutError()
                        continue
                    raise
                if not s:
                    raise OSError("Server unexpectedly closed connection")
                chunks.append(s)
                have += len(s)
        except BaseException:
            self._buf, self._pos = b"".join(chunks), 0
            raise
        buf = b"".join(chunks)
        self._buf, self._pos = buf, n
        return buf[:n]


class ReadAheadConnection(amqp.Connection):
    def blocking_read(self, timeout=None):
        """A frame, or a whole delivery when the transport has it buffered."""
        take = getattr(self.transport, "take_delivery", None)
        delivery = take() if take is not None else None
        if delivery is None:
            return super().blocking_read(timeout)
        channel, args, header, body = delivery
        self.bytes_recv += 3
        message = Message(frame_method=spec.Basic.Deliver, frame_args=args)
        message.inbound_header(header)
        message.inbound_body(body)
        self.on_inbound_method(channel, spec.Basic.Deliver, args, message)
        return True

    def Transport(self, host, connect_timeout, ssl=False, read_timeout=None,
                  write_timeout=None, socket_settings=None, **kwargs):
        if ssl:
            return super().Transport(host, connect_timeout, ssl, read_timeout, write_timeout,
                                     socket_settings, **kwargs)
        return ReadAheadTransport(host, connect_timeout=connect_timeout,
                                  read_timeout=read_timeout, write_timeout=write_timeout,
                                  socket_settings=socket_settings, **kwargs)


def connect(amqp_uri, read_ahead=True, ssl=None, heartbeat=HEARTBEAT_SECONDS, name=None):
    """hub.inbox.connect, with this transport unless `read_ahead` is false (or TLS is on)."""
    return inbox.connect(amqp_uri, ssl=ssl, heartbeat=heartbeat, name=name,
                         connection_class=ReadAheadConnection if read_ahead else amqp.Connection)
