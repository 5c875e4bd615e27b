#!/usr/bin/env python3
# Binds a Unix datagram socket (like /dev/log) and writes each datagram to standard output as
# <length: 4 bytes, big-endian><bytes>. Node cannot bind Unix datagram sockets; this helper is
# all logward ship needs for it. Blocking writes: when ship stops reading, the socket's queue
# fills and senders wait or drop, as with any syslog daemon; memory here stays at one datagram.
import os, socket, struct, sys

path = sys.argv[1]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind(path)
os.chmod(path, 0o666)
out = sys.stdout.buffer
try:
    while True:
        data = s.recv(262144)
        out.write(struct.pack(">I", len(data)) + data)
        out.flush()
except (BrokenPipeError, KeyboardInterrupt):
    pass
finally:
    try:
        os.unlink(path)
    except OSError:
        pass
