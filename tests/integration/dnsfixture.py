"""A real unbound serving the test DNS zones on a loopback port.

Every zone postern may ask about in the tests is answered locally
(`local-zone: "." static` catches the rest with NXDOMAIN), so no query
ever leaves the machine. The data models Spamhaus's documented test points
and return codes:

zen.spamhaus.org (SBL+XBL+PBL)
  127.0.0.2   -> 127.0.0.2, 127.0.0.4, 127.0.0.10 (the permanent test point)
  127.0.0.10  -> 127.0.0.10 (PBL only)
  127.0.0.11  -> 127.0.0.3 (SBL CSS)
  127.0.0.20  -> 127.255.255.254 (error: query via a public resolver)
  127.0.0.21  -> 10.0.0.1 (outside 127/8: a rewriting resolver)
dbl.spamhaus.org
  dbltest.com, listed-helo.test, spam-sender.test, listed-ptr.test -> 127.0.1.2
  phish.test -> 127.0.1.4, abused.test -> 127.0.1.102, dbl-error.test -> 127.0.1.255
  badspam.example, spammer.example, xn--bcher-kva.example (bücher) -> 127.0.1.2,
  malware.example -> .5, botnet.example -> .6, abused.example -> .103
  192.0.2.2 -> SBL, 192.0.2.4 -> XBL, 192.0.2.10 -> PBL (documentation IPs in
  Received headers and URLs)
reverse DNS (127.in-addr.arpa)
  127.0.0.30 -> mx.listed-ptr.test, which resolves back to 127.0.0.30 (confirmed)
  127.0.0.31 -> mx.listed-ptr.test too, which does not resolve to it (unconfirmed)
  127.0.0.32 -> mail.clean.test -> 127.0.0.32 (confirmed, not listed)
zen-broken.test / dbl-broken.test: every name answers 127.255.255.254.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

UNBOUND = shutil.which("unbound") or "/usr/sbin/unbound"

ZONES = r'''
    local-zone: "." static
    local-zone: "zen.spamhaus.org." static
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.2"
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.4"
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.10"
    local-data: "10.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.10"
    local-data: "11.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.3"
    local-data: "20.0.0.127.zen.spamhaus.org. 300 IN A 127.255.255.254"
    local-data: "21.0.0.127.zen.spamhaus.org. 300 IN A 10.0.0.1"
    local-zone: "dbl.spamhaus.org." static
    local-data: "dbltest.com.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-data: "listed-helo.test.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-data: "spam-sender.test.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-data: "listed-ptr.test.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-data: "phish.test.dbl.spamhaus.org. 300 IN A 127.0.1.4"
    local-data: "abused.test.dbl.spamhaus.org. 300 IN A 127.0.1.102"
    local-data: "dbl-error.test.dbl.spamhaus.org. 300 IN A 127.0.1.255"
    local-data: "badspam.example.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-data: "malware.example.dbl.spamhaus.org. 300 IN A 127.0.1.5"
    local-data: "botnet.example.dbl.spamhaus.org. 300 IN A 127.0.1.6"
    local-data: "abused.example.dbl.spamhaus.org. 300 IN A 127.0.1.103"
    local-data: "spammer.example.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-data: "xn--bcher-kva.example.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-data: "2.2.0.192.zen.spamhaus.org. 300 IN A 127.0.0.2"
    local-data: "4.2.0.192.zen.spamhaus.org. 300 IN A 127.0.0.4"
    local-data: "10.2.0.192.zen.spamhaus.org. 300 IN A 127.0.0.10"
    local-zone: "127.in-addr.arpa." static
    local-data: "30.0.0.127.in-addr.arpa. 300 IN PTR mx.listed-ptr.test."
    local-data: "31.0.0.127.in-addr.arpa. 300 IN PTR mx.listed-ptr.test."
    local-data: "32.0.0.127.in-addr.arpa. 300 IN PTR mail.clean.test."
    local-zone: "listed-ptr.test." static
    local-data: "mx.listed-ptr.test. 300 IN A 127.0.0.30"
    local-zone: "clean.test." static
    local-data: "mail.clean.test. 300 IN A 127.0.0.32"
    local-zone: "zen-broken.test." redirect
    local-data: "zen-broken.test. 300 IN A 127.255.255.254"
    local-zone: "dbl-broken.test." redirect
    local-data: "dbl-broken.test. 300 IN A 127.255.255.254"
    local-zone: "rd.test." static
    local-data: "plain.rd.test. 300 IN MX 10 mx.plain.rd.test."
    local-data: "mx.plain.rd.test. 300 IN A 127.0.0.61"
    local-data: "tls.rd.test. 300 IN MX 10 mx.tls.rd.test."
    local-data: "mx.tls.rd.test. 300 IN A 127.0.0.62"
    local-data: "nopipe.rd.test. 300 IN MX 10 mx.nopipe.rd.test."
    local-data: "mx.nopipe.rd.test. 300 IN A 127.0.0.63"
    local-data: "implicit.rd.test. 300 IN A 127.0.0.64"
    local-data: "retry.rd.test. 300 IN MX 10 mx.retry.rd.test."
    local-data: "mx.retry.rd.test. 300 IN A 127.0.0.65"
    local-data: "retry2.rd.test. 300 IN MX 10 mx.retry2.rd.test."
    local-data: "mx.retry2.rd.test. 300 IN A 127.0.0.76"
    local-data: "perm.rd.test. 300 IN MX 10 mx.perm.rd.test."
    local-data: "mx.perm.rd.test. 300 IN A 127.0.0.66"
    local-data: "backup.rd.test. 300 IN MX 30 mx3.backup.rd.test."
    local-data: "backup.rd.test. 300 IN MX 10 dead.backup.rd.test."
    local-data: "backup.rd.test. 300 IN MX 20 mx2.backup.rd.test."
    local-data: "dead.backup.rd.test. 300 IN A 127.0.0.67"
    local-data: "mx2.backup.rd.test. 300 IN A 127.0.0.68"
    local-data: "mx3.backup.rd.test. 300 IN A 127.0.0.69"
    local-data: "busy.rd.test. 300 IN MX 20 mx2.backup.rd.test."
    local-data: "busy.rd.test. 300 IN MX 10 mx1.busy.rd.test."
    local-data: "mx1.busy.rd.test. 300 IN A 127.0.0.77"
    local-data: "expire.rd.test. 300 IN MX 10 mx.expire.rd.test."
    local-data: "mx.expire.rd.test. 300 IN A 127.0.0.70"
    local-data: "restart.rd.test. 300 IN MX 10 mx.restart.rd.test."
    local-data: "mx.restart.rd.test. 300 IN A 127.0.0.71"
    local-data: "mixed.rd.test. 300 IN MX 10 mx.mixed.rd.test."
    local-data: "mx.mixed.rd.test. 300 IN A 127.0.0.72"
    local-data: "smarthost.rd.test. 300 IN A 127.0.0.73"
    local-data: "viamx.rd.test. 300 IN MX 10 mx.viamx.rd.test."
    local-data: "mx.viamx.rd.test. 300 IN A 127.0.0.74"
    local-data: "tlsreq.rd.test. 300 IN MX 10 mx.tlsreq.rd.test."
    local-data: "mx.tlsreq.rd.test. 300 IN A 127.0.0.75"
    local-data: "badtls.rd.test. 300 IN MX 10 mx.badtls.rd.test."
    local-data: "badtlsreq.rd.test. 300 IN MX 10 mx.badtls.rd.test."
    local-data: "mx.badtls.rd.test. 300 IN A 127.0.0.78"
    local-data: "nullmx.rd.test. 300 IN MX 0 ."
    local-zone: "refused.rd.test." refuse
'''


def free_udp_port():
    """A port free for both UDP and TCP (unbound binds both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for unbound")


def query_a(port, name, timeout=1.0):
    """Minimal DNS A query over UDP; returns the rcode (or None on timeout)."""
    qid = os.getpid() & 0xffff
    header = qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\x00"
    packet = header + qname + b"\x00\x01\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, ("127.0.0.1", port))
        try:
            data, _ = s.recvfrom(4096)
        except socket.timeout:
            return None
    return data[3] & 0x0f


class Unbound:
    """unbound in the foreground on 127.0.0.1:port with the test zones."""

    def __init__(self, directory, zones=ZONES):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_udp_port()
        self.conf = self.dir / "unbound.conf"
        self.conf.write_text(f'''server:
    interface: 127.0.0.1
    port: {self.port}
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{self.dir}"
    pidfile: ""
    use-syslog: no
    logfile: ""
    verbosity: 0
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    module-config: "iterator"
    num-threads: 1
    so-reuseport: no
{zones}
remote-control:
    control-enable: no
''')
        self.proc = None

    def start(self, timeout=10):
        self.log = open(self.dir / "unbound.out", "wb")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", str(self.conf)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("unbound exited: %s" %
                                   (self.dir / "unbound.out").read_text())
            if query_a(self.port, "dbltest.com.dbl.spamhaus.org", 0.2) == 0:
                return self
            time.sleep(0.05)
        raise RuntimeError("unbound did not answer within %ss" % timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "log", None):
            self.log.close()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port


class BlackholeDNS:
    """A UDP socket that reads queries and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def close(self):
        self.sock.close()
