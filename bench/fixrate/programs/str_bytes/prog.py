"""Packet headers."""


def header_label(packet):
    """The first 4 bytes of the packet (ASCII) followed by a colon, as text."""
    return packet[:4] + ":"


if __name__ == "__main__":
    print(header_label(b"HTTP/1.1 200 OK"))
