"""A py-amqp connection that reads ahead from its socket: for consuming many small messages.

py-amqp reads each frame with three exact-size `recv` calls (header, payload, end byte) and sets
and resets the socket timeout around every frame: five system calls per frame, fifteen per
message, which cost more than everything else it does for a message. This transport asks the
socket for up to 64 KiB at a time, serves frames from that buffer, and leaves the timeout alone
while a whole frame is already buffered. Everything else is py-amqp's own.
"""
import contextlib
import errno
import struct

import amqp
import kombu
from amqp.transport import TCPTransport

READ_AHEAD = 65536
HEADER = struct.Struct(">BHI")


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
    def Transport(self, host, connect_timeout, ssl=False, read_timeout=None,
                  write_timeout=None, socket_settings=None, **kwargs):
        if ssl:
            return super().Transport(host, connect_timeout, ssl, read_timeout, write_timeout,
                                     socket_settings, **kwargs)
        return ReadAheadTransport(host, connect_timeout=connect_timeout,
                                  read_timeout=read_timeout, write_timeout=write_timeout,
                                  socket_settings=socket_settings, **kwargs)


def connect(amqp_uri, read_ahead=True, ssl=None):
    """An open py-amqp connection to a kombu-style URI (amqp://user:pass@host:port/vhost);
    `ssl`: TLS options (Settings.amqp_ssl_options) for an amqps:// broker."""
    info = kombu.Connection(amqp_uri, ssl=ssl or False).info()
    cls = ReadAheadConnection if read_ahead else amqp.Connection
    conn = cls(host=f"{info['hostname']}:{info['port']}", userid=info["userid"],
               password=info["password"], virtual_host=info["virtual_host"] or "/",
               connect_timeout=5, heartbeat=0,
               ssl=info["ssl"] or amqp_uri.startswith("amqps://"))
    conn.connect()
    return conn
