#!/usr/bin/env python3
# Binds a Unix datagram socket (like /dev/log) for logward: `serve`'s `[[listen]] transport =
# "unix"` and `ship --syslog-socket` both run it (src/wire/unix-datagrams.ts), because Node
# cannot bind a Unix datagram socket. The format on its pipes is docs/PROTOCOL.md, "The Unix
# datagram helper":
#
#   syslog-dgram.py PATH MODE MAX      MODE octal ("666"), MAX the most bytes kept of a datagram
#   stderr: "ready INODE" once bound, or "error CODE TEXT" and exit 2 (CODE: notdir, symlink,
#           notsocket, inuse, bind)
#   stdout: per datagram <kept: 4 bytes BE><received: 4 bytes BE><kept bytes>; received is the
#           datagram's real length (MSG_TRUNC), larger than kept when it was cut at MAX
#
# Writes block: when logward stops reading, this stops receiving, the socket's queue fills
# (net.unix.max_dgram_qlen datagrams) and senders wait, as with any syslog daemon; memory here
# stays at one datagram of MAX bytes and one write of about 64 KiB. It only ever removes a socket: a stale one at PATH (no one
# bound to it: connect is refused) before binding, and its own (same inode) when it ends. It ends
# on SIGTERM or SIGINT, and when its standard input reaches end of file: logward never writes
# to it, so that is logward gone (even by kill -9), and no orphan keeps the socket.
import errno, os, select, signal, socket, stat, struct, sys


def fail(code, text):
    sys.stderr.write("error %s %s\n" % (code, text))
    sys.stderr.flush()
    sys.exit(2)


def stop(*_):
    sys.exit(0)


def write_all(data):
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]


def main():
    path, mode, cap = sys.argv[1], int(sys.argv[2], 8), int(sys.argv[3])
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not os.path.isdir(os.path.dirname(path) or "/"):
        fail("notdir", "its parent is not a directory")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            fail("symlink", "it is a symbolic link")
        if not stat.S_ISSOCK(st.st_mode):
            fail("notsocket", "it exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            probe.connect(path)
            fail("inuse", "another program is bound to it")
        except ConnectionRefusedError:
            os.unlink(path)  # a stale socket: its program is gone
        except OSError as e:
            fail("bind", e.strerror or str(e))
        finally:
            probe.close()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    old = os.umask(0o777)  # no moment with a wider mode than asked
    try:
        s.bind(path)
    except OSError as e:
        fail("inuse" if e.errno == errno.EADDRINUSE else "bind", e.strerror or str(e))
    finally:
        os.umask(old)
    inode = os.lstat(path).st_ino
    try:
        os.chmod(path, mode)
        sys.stderr.write("ready %d\n" % inode)
        sys.stderr.flush()
        buf = bytearray(cap)
        poller = select.poll()
        poller.register(s.fileno(), select.POLLIN)
        poller.register(0, select.POLLIN | select.POLLHUP)
        while True:
            ready = dict(poller.poll())
            if 0 in ready:
                return  # end of file on stdin: logward is gone
            # what is queued now, up to about 64 KiB, in one write
            out = bytearray()
            while len(out) < 65536:
                try:
                    # MSG_TRUNC: the datagram's real length, however much of it fits in buf
                    n = s.recv_into(buf, cap, socket.MSG_TRUNC | socket.MSG_DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    break
                kept = min(n, cap)
                out += struct.pack(">II", kept, n)
                out += buf[:kept]
            write_all(out)
    except BrokenPipeError:
        pass
    finally:
        try:
            if os.lstat(path).st_ino == inode:
                os.unlink(path)
        except OSError:
            pass


main()
