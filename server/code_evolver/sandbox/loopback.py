"""Brings up `lo` in a new network namespace, where iproute2's `ip` is not installed.

Run by the namespace's first process as `python -I -S loopback.py`: it must not import
code_evolver (it runs isolated from every path) and only what starts fast. A new network
namespace has only `lo`, and it is down: tests that serve on 127.0.0.1 inside the run should
still work.
"""

import fcntl
import socket
import struct

_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_IFREQ = "16sH22x"


def main() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, b"lo", 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


if __name__ == "__main__":
    main()
