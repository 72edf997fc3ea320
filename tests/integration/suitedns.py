"""A small DNS server on loopback answering from the `zonedata` of one
section of the openspf test suite (tests/integration/rfc7208/), so that
postern's real resolver (libunbound, forwarding here) and SPF code run the
suite unchanged. Standard library only; UDP and TCP (RFC 7766).

The zonedata semantics are those of the suite's reference driver (pyspf's
testspf.py):
  - `SPF: text` records also appear as TXT, unless the name lists a TXT of
    its own (`TXT: NONE` only suppresses that copy);
  - a string value is one character-string, a list several (glued
    together by the reader, RFC 7208 3.3), an empty list one empty string;
  - a bare `TIMEOUT` makes every type not listed before it fail, a
    `TYPE: TIMEOUT` that type; names under `error.` fail too. A failure is
    answered SERVFAIL at once rather than dropped: a silent server would
    make libunbound back off from the whole server, slowing every other
    query of the run, and both end in temperror (RFC 7208 2.6.6);
  - a name with no entry is NXDOMAIN, a name with entries but none of the
    asked type NODATA; CNAMEs are followed inside the zonedata.
"""

import ipaddress
import socket
import socketserver
import struct
import threading

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28, "SPF": 99}
MAX_CNAME_CHAIN = 8
FAIL = object()


def _key(name):
    """Case-insensitive key of a name, as bytes without the final dot."""
    if isinstance(name, str):
        name = name.encode("latin-1")
    return name.rstrip(b".").lower()


def _bytes(text):
    """YAML strings hold octets as \\xNN escapes: latin-1 gives them back."""
    if isinstance(text, bytes):
        return text
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _wire_name(name):
    out = b""
    for label in _bytes(name).rstrip(b".").split(b"."):
        if not label:
            continue
        out += bytes([len(label)]) + label
    return out + b"\0"


def _txt_rdata(value):
    strings = value if isinstance(value, list) else [value]
    # "null text (no strings)" (null-text) cannot travel: RFC 1035 3.3.14
    # TXT-DATA is one or more character-strings, and libunbound answers
    # SERVFAIL for an empty rdata. One empty string is its legal form.
    strings = strings or [""]
    out = b""
    for s in strings:
        data = _bytes(str(s))
        # a character-string holds 255 octets; longer text is split, as a
        # zone file would, and glued back by the reader
        chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
        for c in chunks:
            out += bytes([len(c)]) + c
    return out


def _rdata(rtype, value):
    if rtype == "A":
        return ipaddress.IPv4Address(value).packed
    if rtype == "AAAA":
        return ipaddress.IPv6Address(value).packed
    if rtype == "MX":
        return struct.pack("!H", int(value[0])) + _wire_name(value[1])
    if rtype in ("PTR", "CNAME", "NS"):
        return _wire_name(value)
    if rtype in ("TXT", "SPF"):
        return _txt_rdata(value)
    raise ValueError("unknown record type %s" % rtype)


def load_zone(zonedata):
    """{name key: [(type, value) or FAIL]} from a section's zonedata."""
    zone = {}
    for name, entries in zonedata.items():
        out, copies, own_txt = [], [], False
        for entry in entries:
            if entry == "TIMEOUT":
                out.append(FAIL)
                continue
            ((rtype, value),) = entry.items()
            if rtype == "TXT":
                own_txt = True
            elif rtype == "SPF" and value not in ("NONE", "TIMEOUT"):
                copies.append(("TXT", value))
            if value == "NONE":
                continue
            out.append((rtype, FAIL if value == "TIMEOUT" else value))
        if not own_txt:
            out.extend(copies)
        zone[_key(str(name))] = out
    return zone


class Zone:
    def __init__(self, zonedata):
        self.records = load_zone(zonedata)

    def lookup(self, qname, qtype):
        """(rcode, [(owner, type, rdata)]) for a query, CNAMEs followed."""
        answers, name = [], qname
        for _ in range(MAX_CNAME_CHAIN):
            key = _key(name)
            if key.startswith(b"error."):
                return 2, []
            entries = self.records.get(key)
            if entries is None:
                return (3 if not answers else 0), answers
            found, cname = [], None
            for e in entries:
                if e is FAIL:
                    if not found:
                        return 2, []
                    break
                rtype, value = e
                if rtype == qtype and value is FAIL:
                    return 2, []
                if rtype == qtype:
                    found.append((name, TYPES[rtype], _rdata(rtype, value)))
                elif rtype == "CNAME" and cname is None:
                    cname = value
            if found or cname is None or qtype == "CNAME":
                return 0, answers + found
            answers.append((name, TYPES["CNAME"], _rdata("CNAME", cname)))
            name = _bytes(cname)
        return 2, []


def _parse_query(data):
    """(id, flags, qname bytes, qtype, qclass, question end, has OPT)."""
    qid, flags, qd, _an, _ns, ar = struct.unpack("!6H", data[:12])
    if qd != 1:
        raise ValueError("one question expected")
    pos, labels = 12, []
    while True:
        n = data[pos]
        pos += 1
        if n == 0:
            break
        if n & 0xC0:
            raise ValueError("compressed question")
        labels.append(data[pos:pos + n])
        pos += n
    qtype, qclass = struct.unpack("!HH", data[pos:pos + 4])
    return qid, flags, b".".join(labels), qtype, qclass, pos + 4, ar > 0


def answer(zone, data, udp):
    """The response to one query packet; over UDP at most 512 octets, or
    the 1232 of our EDNS (RFC 6891) when the query had it, TC set past
    that."""
    qid, flags, qname, qtype, _qclass, qend, edns = _parse_query(data)
    limit = 65535 if not udp else 1232 if edns else 512
    names = {v: k for k, v in TYPES.items()}
    rcode, rrs = zone.lookup(qname, names.get(qtype, "?"))
    question = data[12:qend]
    body = b""
    for owner, rtype, rdata in rrs:
        body += _wire_name(owner) + struct.pack("!HHIH", rtype, 1, 300, len(rdata)) + rdata
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, 0) if edns else b""
    rflags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    authority = b""
    if not rrs and rcode in (0, 3):
        # the root's SOA, so that the negative answer may be cached (RFC 2308)
        soa = b"\0\0" + struct.pack("!5I", 1, 3600, 600, 86400, 300)
        authority = b"\0" + struct.pack("!HHIH", 6, 1, 300, len(soa)) + soa
    head = struct.pack("!6H", qid, rflags, 1, len(rrs), 1 if authority else 0,
                       1 if edns else 0)
    packet = head + question + body + authority + opt
    if len(packet) > limit:
        head = struct.pack("!6H", qid, rflags | 0x0200, 1, 0, 0, 1 if edns else 0)
        packet = head + question + opt
    return packet


class _UDP(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        try:
            sock.sendto(answer(self.server.zone, data, True), self.client_address)
        except (ValueError, IndexError, struct.error):
            pass


class _TCP(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(5)
        for _ in range(100):
            head = self.request.recv(2)
            if len(head) < 2:
                return
            (n,) = struct.unpack("!H", head)
            data = b""
            while len(data) < n:
                chunk = self.request.recv(n - len(data))
                if not chunk:
                    return
                data += chunk
            try:
                out = answer(self.server.zone, data, False)
            except (ValueError, IndexError, struct.error):
                return
            self.request.sendall(struct.pack("!H", len(out)) + out)


class _UDPServer(socketserver.ThreadingUDPServer):
    daemon_threads = True


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SuiteDNS:
    """Serves one zonedata on 127.0.0.1:port (UDP and TCP) from threads."""

    def __init__(self, zonedata):
        self.zone = Zone(zonedata)
        for _ in range(50):
            udp = _UDPServer(("127.0.0.1", 0), _UDP)
            port = udp.server_address[1]
            try:
                tcp = _TCPServer(("127.0.0.1", port), _TCP)
            except OSError:
                udp.server_close()
                continue
            break
        else:
            raise RuntimeError("no free port for the suite's DNS server")
        self.udp, self.tcp, self.port = udp, tcp, port
        for s in (udp, tcp):
            s.zone = self.zone
        self.threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1},
                                         daemon=True) for s in (udp, tcp)]
        for t in self.threads:
            t.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def close(self):
        for s in (self.udp, self.tcp):
            s.shutdown()
            s.server_close()
