#!/usr/bin/env python3
"""Writes the seed corpus for coap_pdu_fuzz: small valid and malformed CoAP datagrams.

The encoder here is independent of the C++ writer on purpose, so the seeds do not inherit
its mistakes. Run it from anywhere; it rewrites fuzz/corpus/seed-*.bin (crash inputs the
fuzzer found are kept beside them under other names).
"""
import os

CON, NON, ACK, RST = 0, 1, 2, 3


def code(cls, detail):
    return (cls << 5) | detail


def ext(v):
    if v < 13:
        return v, b""
    if v < 269:
        return 13, bytes([v - 13])
    return 14, (v - 269).to_bytes(2, "big")


def uint(v):
    return v.to_bytes((v.bit_length() + 7) // 8, "big")


def msg(t, c, mid, token=b"", options=(), payload=b""):
    out = bytearray([0x40 | t << 4 | len(token), c, mid >> 8, mid & 255]) + token
    last = 0
    for number, value in sorted(options, key=lambda o: o[0]):
        if isinstance(value, str):
            value = value.encode()
        elif isinstance(value, int):
            value = uint(value)
        dn, de = ext(number - last)
        ln, le = ext(len(value))
        out += bytes([dn << 4 | ln]) + de + le + value
        last = number
    if payload:
        out += b"\xff" + payload
    return bytes(out)


def path(*segments):
    return [(11, s) for s in segments]


GET, POST, PUT = 1, 2, 3
CONTENT = code(2, 5)
CHANGED = code(2, 4)
CONTINUE = code(2, 31)
JSON = 50

SEEDS = {
    # RFC 7252 Appendix A style exchange.
    "get-temperature": msg(CON, GET, 0x7D34, options=path("temperature")),
    "get-temperature-token": msg(CON, GET, 0x7D35, b"\x20", path("temperature")),
    "ack-content": msg(ACK, CONTENT, 0x7D34, payload=b"22.3 C"),
    "post-telemetry": msg(CON, POST, 0x1001, b"\x01\x02\x03\x04",
                          path("api", "v1", "A1_TEST_TOKEN", "telemetry") + [(12, JSON)],
                          b'{"temperature":42,"humidity":73}'),
    "get-attributes-query": msg(CON, GET, 0x1002, b"\xaa\xbb",
                                path("api", "v1", "tok", "attributes")
                                + [(15, "clientKeys=a,b"), (15, "sharedKeys=c")]),
    "observe-register": msg(CON, GET, 0x1003, b"\x10\x20\x30\x40\x50\x60\x70\x80",
                            [(6, 0)] + path("api", "v1", "tok", "rpc") + [(17, JSON)]),
    "observe-notify": msg(NON, CONTENT, 0x2001, b"\x10\x20",
                          [(6, 0x123456), (12, JSON), (14, 60)],
                          b'{"id":1,"method":"setGpio","params":{"pin":4}}'),
    "block1-put": msg(CON, PUT, 0x3001, b"\x42", path("fw") + [(27, (2 << 4) | 8 | 2),
                                                                (60, 4096)],
                      bytes(range(64))),
    "block1-continue": msg(ACK, CONTINUE, 0x3001, b"\x42", [(27, (2 << 4) | 8 | 2)]),
    "block2-get": msg(CON, GET, 0x3002, b"\x43", path("fw") + [(23, (1000 << 4) | 6)]),
    "block2-response": msg(ACK, CONTENT, 0x3002, b"\x43",
                           [(23, (0xFFFFF << 4) | 8 | 6), (28, 0xFFFFFFFF)], b"\x00" * 32),
    "empty-ack": msg(ACK, 0, 0x4001),
    "empty-rst": msg(RST, 0, 0x4002),
    "ping": msg(CON, 0, 0x4003),
    "extended-options": msg(CON, POST, 0x5001, b"\x01",
                            [(12, 0), (35, "coap://example.net/" + "p" * 300),
                             (252, b"\x01" * 40), (258, 26), (292, b""),
                             (292, b"\x01" * 8), (65535, b"last")], b"x"),
    "all-registered": msg(NON, POST, 0x5002, b"\x05",
                          [(1, b""), (3, "h"), (4, b"\x01"), (5, b""), (6, 1), (7, 5683),
                           (8, "l"), (9, b"\x09"), (11, "p"), (12, 60), (14, 0),
                           (15, "q=1"), (16, 16), (17, 50), (19, 0), (20, "lq"),
                           (21, b""), (23, 6), (27, 6), (28, 10), (31, 22), (39, "coap"),
                           (60, 11), (252, b"e"), (258, 2), (292, b"t")], b"?"),
    "response-404": msg(ACK, code(4, 4), 0x6001, b"\x99", payload=b"not found"),
    # Malformed: one seed per parse_status.
    "bad-too-short": b"\x40\x01\x00",
    "bad-version": b"\x80\x01\x00\x01",
    "bad-tkl": b"\x49\x01\x00\x01" + b"\x00" * 9,
    "bad-truncated-token": b"\x44\x01\x00\x01\xaa\xbb",
    "bad-truncated-ext-delta": b"\x40\x01\x00\x01\xe0\x01",
    "bad-truncated-value": b"\x40\x01\x00\x01\xb5tem",
    "bad-reserved-nibble": b"\x40\x01\x00\x01\xf1\x00",
    "bad-empty-payload-marker": msg(CON, GET, 0x7001, options=path("x")) + b"\xff",
    "bad-empty-message": b"\x41\x00\x00\x01\x01",
    "bad-code-class": b"\x40\x21\x00\x01",
    "bad-number-overflow": b"\x40\x01\x00\x01\xe0\xff\xff",
    "bad-too-many-options": msg(CON, GET, 0x7002, options=[(11, "a")] * 65),
}


def main():
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(here, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(here, f"seed-{name}.bin"), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {here}")


if __name__ == "__main__":
    main()
