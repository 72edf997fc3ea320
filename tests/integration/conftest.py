"""Shared helpers for the postern integration tests.

Everything here drives a real `postern serve` over loopback sockets:

* `Server`: writes a configuration into a temporary directory, starts the
  server in its own session, waits for `event=ready`, parses the logfmt log,
  lists Maildirs, runs the CLI, and at teardown stops it with SIGTERM
  (SIGKILL after a timeout) and checks it neither crashed nor reported a
  sanitizer error.
* `SMTPClient`: a raw-socket SMTP client that sends exact bytes and reads
  complete (multi-line) replies with a timeout.

The binary is build/postern relative to the repository root unless the
environment variable POSTERN_BIN names another one (e.g. an ASan build).
Only the Python standard library and pytest are used.
"""

import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
POSTERN_BIN = os.environ.get("POSTERN_BIN") or str(REPO / "build" / "postern")
if not os.path.isabs(POSTERN_BIN):
    POSTERN_BIN = str(REPO / POSTERN_BIN)

DOMAIN = "example.test"
HOSTNAME = "mx.example.test"
PASSWORD = "vQ8-mZ2#Lp9w-Rt4kX"

# Under a sanitizer build everything is slower: scale the generous waits.
SLOW = float(os.environ.get("POSTERN_TEST_SLOWDOWN", "1"))

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "ERROR: ThreadSanitizer",
    "WARNING: ThreadSanitizer",
)


# Libraries a C test driver linked against libpostern.a needs.
DRIVER_PKGS = "libevent libevent_openssl libevent_pthreads openssl libsodium libunbound libcares libpsl"


def build_dir():
    """build/, or the directory of POSTERN_BIN when it holds a library
    (an ASan build then gets a sanitized driver too)."""
    binpath = os.environ.get("POSTERN_BIN")
    if binpath:
        d = Path(binpath)
        if not d.is_absolute():
            d = REPO / d
        if (d.parent / "libpostern.a").exists():
            return d.parent
    return REPO / "build"


def build_c_driver(tmp_path_factory, source):
    """Compiles tests/integration/SOURCE.c against libpostern.a (see
    build_dir) into a temporary directory; returns the binary's path."""
    import shlex
    bdir = build_dir()
    lib = bdir / "libpostern.a"
    if not lib.exists():
        pytest.fail("%s is missing: run make first" % lib)
    out = tmp_path_factory.mktemp(source) / source
    flags = subprocess.run(["pkg-config", "--cflags", "--libs"] + DRIVER_PKGS.split(),
                           capture_output=True, text=True, check=True).stdout.split()
    cc, extra = "cc", []
    if "asan" in bdir.name:
        cc, extra = "clang", ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
    cmd = [cc, "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
           "-Wno-unused-parameter", "-I" + str(REPO / "src"), *extra,
           str(REPO / "tests/integration" / (source + ".c")), str(lib), *flags, "-pthread",
           "-o", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, "driver build failed: %s\n%s" % (shlex.join(cmd), r.stderr)
    return out


def token(n=16):
    """A fresh unique marker to find one message among others."""
    return uuid.uuid4().hex[:n]


def free_port(host="127.0.0.1"):
    """A TCP port free right now on host (the server binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


_LOGFMT_RE = re.compile(r'([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_logfmt(line):
    """One logfmt line -> dict (quoted values unquoted)."""
    out = {}
    for m in _LOGFMT_RE.finditer(line):
        key, val = m.group(1), m.group(2)
        if val.startswith('"') and val.endswith('"') and len(val) >= 2:
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        out[key] = val
    return out


def wait_until(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a truthy value; bounded in time and count."""
    deadline = time.monotonic() + timeout * SLOW
    max_iter = int(timeout * SLOW / interval) + 2
    last = None
    for _ in range(max_iter):
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    last = pred()
    if last:
        return last
    raise AssertionError("timed out after %.1fs waiting for %s" % (timeout * SLOW, what))


def make_cert(directory):
    """Self-signed certificate for mx.example.test; returns (cert, key)."""
    directory = Path(directory)
    cert, key = directory / "cert.pem", directory / "key.pem"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-subj", "/CN=" + HOSTNAME, "-days", "30",
             "-keyout", str(key), "-out", str(cert)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=60)
        os.chmod(key, 0o600)
    return cert, key


class FakeDNS:
    """A tiny authoritative-for-everything DNS server on 127.0.0.1 (UDP and
    TCP), the forwarder of every test server (`dns_servers`), so no test
    waits on real-world DNS. It answers the Spamhaus test points as listed
    (2.0.0.127.<ip zone> -> 127.0.0.2/4/10, dbltest.com.<dbl zone> ->
    127.0.1.2), the records in `self.records` ((name, 1): addresses,
    (name, 16): TXT strings, (name, 28): IPv6 addresses), and NXDOMAIN for
    the rest.
    """

    def __init__(self):
        self.records = {
            ("2.0.0.127.zen.spamhaus.org", 1): ["127.0.0.2", "127.0.0.4", "127.0.0.10"],
            ("dbltest.com.dbl.spamhaus.org", 1): ["127.0.1.2"],
        }
        self.queries = []
        self.lock = threading.Lock()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.tcp.bind(("127.0.0.1", self.port))
            self.tcp.listen(64)
        except OSError:
            self.tcp.close()
            self.tcp = None
        self.stopped = False
        threading.Thread(target=self._serve_udp, daemon=True).start()
        if self.tcp is not None:
            threading.Thread(target=self._serve_tcp, daemon=True).start()

    @staticmethod
    def _parse_name(msg, off):
        labels = []
        for _ in range(128):
            n = msg[off]
            if n == 0:
                return ".".join(labels), off + 1
            if n & 0xC0:
                raise ValueError("compression in question")
            labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
            off += 1 + n
        raise ValueError("name too long")

    def answer(self, msg):
        if len(msg) < 12:
            return None
        qid, flags, qd = struct.unpack("!HHH", msg[:6])
        if flags & 0x8000 or qd != 1:
            return None
        name, off = self._parse_name(msg, 12)
        qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
        question = msg[12:off + 4]
        key = name.lower().rstrip(".")
        with self.lock:
            self.queries.append((key, qtype))
            addrs = self.records.get((key, qtype))
            exists = addrs is not None or any(k[0] == key for k in self.records)
        rd = flags & 0x0100
        answers = b""
        count = 0
        if addrs and qtype == 16:
            # TXT: each record one string (split in 255-octet pieces)
            for t in addrs:
                raw = t.encode()
                rdata = b"".join(bytes([len(raw[i:i + 255])]) + raw[i:i + 255]
                                 for i in range(0, max(len(raw), 1), 255))
                answers += b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 60, len(rdata)) + rdata
                count += 1
        elif addrs and qtype == 28:
            for a in addrs:
                answers += (b"\xc0\x0c" + struct.pack("!HHIH", 28, 1, 60, 16)
                            + socket.inet_pton(socket.AF_INET6, a))
                count += 1
        elif addrs:
            for a in addrs:
                answers += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(a)
                count += 1
        rcode = 0 if exists else 3
        authority = b""
        nscount = 0
        if count == 0:
            # SOA of the root, for negative caching.
            soa_rdata = (b"\x00" + b"\x00" + struct.pack("!IIIII", 1, 3600, 600, 86400, 5))
            authority = b"\x00" + struct.pack("!HHIH", 6, 1, 5, len(soa_rdata)) + soa_rdata
            nscount = 1
        hdr = struct.pack("!HHHHHH", qid, 0x8000 | 0x0400 | rd | 0x0080 | rcode, 1, count,
                          nscount, 0)
        return hdr + question + answers + authority

    def _serve_udp(self):
        while not self.stopped:
            try:
                msg, addr = self.udp.recvfrom(4096)
            except OSError:
                return
            try:
                out = self.answer(msg)
            except Exception:  # noqa: BLE001 - malformed query: ignore it
                out = None
            if out:
                try:
                    self.udp.sendto(out, addr)
                except OSError:
                    pass

    def _serve_tcp(self):
        while not self.stopped:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn,), daemon=True).start()

    def _tcp_conn(self, conn):
        conn.settimeout(10)
        try:
            for _ in range(1000):
                hdr = conn.recv(2)
                if len(hdr) < 2:
                    return
                (n,) = struct.unpack("!H", hdr)
                msg = b""
                for _ in range(1000):
                    if len(msg) >= n:
                        break
                    chunk = conn.recv(n - len(msg))
                    if not chunk:
                        return
                    msg += chunk
                out = self.answer(msg)
                if out:
                    conn.sendall(struct.pack("!H", len(out)) + out)
        except (OSError, ValueError, struct.error):
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopped = True
        self.udp.close()
        if self.tcp is not None:
            self.tcp.close()


_fake_dns = None


_ALL_SERVERS = []


def pytest_sessionfinish(session, exitstatus):
    # Safety net: no server outlives the test run, whatever happened.
    for srv in _ALL_SERVERS:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.proc.kill()
            try:
                srv.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
    if _fake_dns is not None:
        _fake_dns.stop()


def fake_dns():
    """The process-wide FakeDNS, started on first use."""
    global _fake_dns
    if _fake_dns is None:
        _fake_dns = FakeDNS()
    return _fake_dns


class Server:
    """One `postern serve` instance in its own directory."""

    def __init__(self, directory, tls=False, config=None, users=("bob",)):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.conf = self.dir / "postern.conf"
        self.data_dir = self.dir / "var"
        self.port = free_port()
        self.tls = tls
        self.extra = dict(config or {})
        self.proc = None
        self.runs = 0
        self.stderr_path = None
        self.stderr_files = []
        self.expect_crash = False
        _ALL_SERVERS.append(self)
        if tls:
            make_cert(self.dir)
        self.write_config()
        for u in users:
            self.add_user(u if "@" in u else "%s@%s" % (u, DOMAIN))

    # -- configuration and CLI ------------------------------------------
    def config_dict(self):
        cfg = {
            "hostname": HOSTNAME,
            "domains": DOMAIN,
            "data_dir": "var",
            "listen_smtp": "127.0.0.1:%d" % self.port,
            "listen_submission": "off",
            "listen_submissions": "off",
            # Every lookup goes to the in-process FakeDNS: fast, offline.
            "dns_servers": "127.0.0.1:%d" % fake_dns().port,
            "dnsbl_timeout": "3s",
        }
        if self.tls:
            cfg["tls_cert"] = "cert.pem"
            cfg["tls_key"] = "key.pem"
        cfg.update(self.extra)
        return cfg

    def write_config(self, **changes):
        self.extra.update({k: str(v) for k, v in changes.items()})
        lines = ["# written by tests/integration/conftest.py"]
        lines += ["%s = %s" % (k, v) for k, v in self.config_dict().items() if v is not None]
        self.conf.write_text("\n".join(lines) + "\n")

    def cli(self, *args, stdin=None, check=True, timeout=30):
        cmd = [POSTERN_BIN] + list(args) + ["-c", str(self.conf)]
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True,
                           timeout=timeout * SLOW)
        if check and r.returncode != 0:
            raise AssertionError("%s exited %d: %s%s" % (" ".join(cmd), r.returncode,
                                                        r.stdout, r.stderr))
        return r

    def add_user(self, address, password=PASSWORD):
        return self.cli("user", "add", address, "--password-stdin", stdin=password + "\n")

    def add_alias(self, alias, target):
        return self.cli("alias", "add", alias, target)

    # -- process control ----------------------------------------------
    @property
    def log_path(self):
        return self.data_dir / "postern.log"

    def start(self, wait=True, timeout=15):
        assert self.proc is None or self.proc.poll() is not None
        self.runs += 1
        self.stderr_path = self.dir / ("serve-stderr.%d.log" % self.runs)
        self.stderr_files.append(self.stderr_path)
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        errf = open(self.stderr_path, "wb")
        try:
            self.proc = subprocess.Popen(
                [POSTERN_BIN, "serve", "-c", str(self.conf)],
                stdin=subprocess.DEVNULL, stdout=errf, stderr=errf,
                cwd=str(self.dir), start_new_session=True)
        finally:
            errf.close()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=15):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("postern serve exited %s before ready:\n%s"
                                     % (self.proc.returncode, self.stderr_text()))
            return any(e.get("event") == "ready" for e in self.events(since_start=True))
        wait_until(ready, timeout, what="event=ready")
        # The listener must accept connections now.
        def connectable():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        # (this probe connection shows up as a connect/disconnect in the log)
        wait_until(connectable, timeout, what="listener on port %d" % self.port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        assert self.alive(), "server is not running:\n" + self.stderr_text()
        self.proc.send_signal(sig)

    def reload(self, timeout=10):
        before = len([e for e in self.events() if e.get("event") == "reload"])
        self.signal(signal.SIGHUP)
        wait_until(lambda: len([e for e in self.events() if e.get("event") == "reload"]) > before,
                   timeout, what="event=reload")

    def stop(self, timeout=15):
        """SIGTERM, then SIGKILL after timeout; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError("postern serve did not exit within %ss of SIGTERM"
                                     % (timeout * SLOW))
        return self.proc.returncode

    def kill9(self):
        assert self.alive()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stderr_text(self, all_runs=False):
        files = self.stderr_files if all_runs else self.stderr_files[-1:]
        out = []
        for f in files:
            try:
                out.append(Path(f).read_text(errors="replace"))
            except OSError:
                pass
        return "".join(out)

    def check_no_crash(self):
        """Fail if the server died of a signal or a sanitizer complained."""
        text = self.stderr_text(all_runs=True)
        for marker in SANITIZER_MARKERS:
            assert marker not in text, "sanitizer report in server stderr:\n" + text[-6000:]
        if self.proc is not None and self.proc.poll() is not None and not self.expect_crash:
            assert self.proc.returncode >= 0, (
                "postern serve died of signal %d:\n%s" % (-self.proc.returncode, text[-6000:]))

    def teardown(self):
        rc = None
        try:
            if self.alive():
                rc = self.stop()
                assert rc == 0, "SIGTERM exit status %r:\n%s" % (rc, self.stderr_text()[-4000:])
        finally:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
        self.check_no_crash()
        return rc

    # -- log ----------------------------------------------------------
    def log_lines(self):
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def events(self, event=None, since_start=False, **match):
        text = ""
        try:
            with open(self.log_path, "rb") as f:
                if since_start:
                    f.seek(self._log_offset)
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        out = []
        for line in text.splitlines():
            e = parse_logfmt(line)
            if event is not None and e.get("event") != event:
                continue
            if all(e.get(k) == v for k, v in match.items()):
                out.append(e)
        return out

    def wait_for_log(self, event, timeout=10, count=1, **match):
        """Wait until at least `count` events match; returns the list."""
        def found():
            if self.proc is not None and self.proc.poll() is not None and not self.expect_crash:
                # A dead server will never log it: fail fast with its stderr.
                evs = self.events(event, **match)
                if len(evs) >= count:
                    return evs
                raise AssertionError("server exited (%s) while waiting for event=%s %s:\n%s"
                                     % (self.proc.returncode, event, match,
                                        self.stderr_text()[-4000:]))
            evs = self.events(event, **match)
            return evs if len(evs) >= count else None
        return wait_until(found, timeout, what="event=%s %r x%d" % (event, match, count))

    # -- mailboxes ----------------------------------------------------
    def maildir(self, local, domain=DOMAIN, folder=""):
        return self.data_dir / "mail" / domain / local / folder

    def mail_files(self, local, domain=DOMAIN, sub="new", folder=""):
        d = self.maildir(local, domain, folder) / sub
        try:
            return sorted(p for p in d.iterdir() if p.is_file())
        except FileNotFoundError:
            return []

    def all_delivered_files(self):
        root = self.data_dir / "mail"
        if not root.exists():
            return []
        return sorted(p for p in root.rglob("*") if p.is_file() and p.parent.name in ("new", "cur"))

    def messages(self, local, domain=DOMAIN, sub="new", folder=""):
        return [p.read_bytes() for p in self.mail_files(local, domain, sub, folder)]

    def wait_for_mail(self, local, count=1, domain=DOMAIN, timeout=10, token=None, folder=""):
        """Wait until `local` has >= count messages (containing token, if given)
        in folder ("" for INBOX, ".Junk" for the Junk folder)."""
        def found():
            files = self.mail_files(local, domain, folder=folder)
            if token is not None:
                files = [f for f in files if token.encode() in f.read_bytes()]
            return files if len(files) >= count else None
        return wait_until(found, timeout, what="%d message(s) for %s@%s%s" % (
            count, local, domain, " with %s" % token if token else ""))

    def settle(self, timeout=10):
        """Wait until every accepted message was delivered (or deferred)."""
        def done():
            acc = {e.get("id") for e in self.events("accepted")}
            fin = {e.get("id") for e in self.events("delivered")}
            fin |= {e.get("id") for e in self.events("deferred")}
            return acc <= fin
        wait_until(done, timeout, what="delivery of all accepted messages")

    def client(self, timeout=10, source=None, read_banner=True):
        c = SMTPClient(self.port, timeout=timeout, source=source)
        if read_banner:
            c.banner = c.reply()
        return c


class SMTPError(Exception):
    pass


class Reply:
    def __init__(self, lines):
        self.lines = lines  # list of str, without CRLF
        self.code = int(lines[-1][:3])
        self.texts = [l[4:] for l in lines]

    @property
    def text(self):
        return "\n".join(self.texts)

    @property
    def enhanced(self):
        m = re.match(r"(\d\.\d{1,3}\.\d{1,3})\b", self.texts[0])
        return m.group(1) if m else None

    def __repr__(self):
        return "Reply(%r)" % "\\n".join(self.lines)

    def __str__(self):
        return "\n".join(self.lines)


class SMTPClient:
    """Raw SMTP over a socket: exact bytes out, whole replies in."""

    def __init__(self, port, host="127.0.0.1", timeout=10, source=None):
        self.timeout = timeout * SLOW
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.buf = b""
        self.closed = False
        self.banner = None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            self.closed = True
        self.buf += chunk
        return chunk

    def _line(self, deadline):
        for _ in range(100000):
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line.decode("utf-8", "replace")
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out reading a reply line; got %r" % self.buf)
            if self.closed or not self._fill(left):
                raise SMTPError("connection closed while reading a reply; got %r" % self.buf)
        raise SMTPError("reply line too long")

    def reply(self, timeout=None):
        """Read one complete (possibly multi-line) reply."""
        deadline = time.monotonic() + (timeout * SLOW if timeout else self.timeout)
        lines = []
        for _ in range(1000):
            line = self._line(deadline)
            if not re.match(r"^\d{3}([ -]|$)", line):
                raise SMTPError("malformed reply line %r (so far %r)" % (line, lines))
            lines.append(line)
            if len(line) < 4 or line[3] == " ":
                return Reply(lines)
        raise SMTPError("reply with too many lines")

    def replies(self, n, timeout=None):
        return [self.reply(timeout) for _ in range(n)]

    def cmd(self, line, timeout=None):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def expect(self, line, code, timeout=None):
        r = self.cmd(line, timeout)
        codes = code if isinstance(code, (tuple, list, set)) else (code,)
        assert r.code in codes, "%r -> %r, expected %s" % (line, r, code)
        return r

    def read_nothing(self, wait=1.0):
        """Assert that nothing at all arrives within `wait` seconds."""
        if self.buf:
            raise AssertionError("unexpected data: %r" % self.buf)
        try:
            chunk = self._fill(wait)
        except (socket.timeout, ssl.SSLWantReadError):
            return True
        raise AssertionError("unexpected data: %r" % (chunk if chunk else "<EOF>"))

    def read_eof(self, timeout=5):
        """Read until the peer closes; returns what arrived. Bounded."""
        deadline = time.monotonic() + timeout * SLOW
        data = self.buf
        self.buf = b""
        for _ in range(10000):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("connection not closed within %ss (got %r)" % (timeout, data))
            try:
                self.sock.settimeout(left)
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                break
            except (ssl.SSLError, OSError) as e:
                if isinstance(e, socket.timeout):
                    raise AssertionError("connection not closed within %ss (got %r)" % (timeout, data))
                break
            if not chunk:
                break
            data += chunk
        self.closed = True
        return data

    def ehlo(self, name="client.test"):
        r = self.cmd("EHLO " + name)
        assert r.code == 250, r
        return r

    def starttls(self, ctx=None):
        r = self.cmd("STARTTLS")
        assert r.code == 220, r
        assert not self.buf, "data after the 220 to STARTTLS: %r" % self.buf
        self.wrap_tls(ctx)
        return r

    def wrap_tls(self, ctx=None):
        if ctx is None:
            ctx = insecure_tls_context()
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=HOSTNAME)

    def send_mail(self, sender, rcpts, body, ehlo=False):
        """MAIL/RCPT/DATA one command at a time; returns the final Reply.

        body: bytes or str, already CRLF-terminated lines, NOT dot-stuffed.
        """
        if ehlo:
            self.ehlo()
        r = self.cmd("MAIL FROM:<%s>" % sender)
        assert r.code == 250, r
        for rc in rcpts if isinstance(rcpts, (list, tuple)) else [rcpts]:
            r = self.cmd("RCPT TO:<%s>" % rc)
            assert r.code == 250, "RCPT %s -> %r" % (rc, r)
        r = self.cmd("DATA")
        assert r.code == 354, r
        self.send(dot_stuff(body) + b".\r\n")
        return self.reply()

    def quit(self):
        try:
            r = self.cmd("QUIT", timeout=5)
        except (OSError, SMTPError):
            r = None
        self.close()
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def dot_stuff(body):
    if isinstance(body, str):
        body = body.encode()
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    lines = body.split(b"\r\n")
    return b"\r\n".join((b"." + l) if l.startswith(b".") else l for l in lines)


def insecure_tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


QUEUED_RE = re.compile(r"queued as ([A-Za-z0-9]+)")


def queue_id(reply):
    m = QUEUED_RE.search(reply.text)
    assert reply.code == 250 and m, "no queue id in %r" % reply
    return m.group(1)


def simple_message(token, subject="test", extra_headers="", body_lines=None):
    lines = [
        "From: <alice@sender.test>",
        "To: <bob@example.test>",
        "Subject: %s %s" % (subject, token),
        "Date: Sat, 28 Nov 2026 00:00:00 +0000",
        "Message-ID: <%s@sender.test>" % token,
    ]
    if extra_headers:
        lines.append(extra_headers.rstrip("\r\n"))
    lines.append("")
    lines += body_lines if body_lines is not None else ["hello %s" % token]
    return ("\r\n".join(lines) + "\r\n").encode()


def split_message(raw):
    """Delivered file bytes -> (list of header lines (unfolded), body bytes)."""
    sep = raw.find(b"\n\n")
    sep_crlf = raw.find(b"\r\n\r\n")
    if sep_crlf >= 0 and (sep < 0 or sep_crlf < sep):
        head, body = raw[:sep_crlf], raw[sep_crlf + 4:]
    elif sep >= 0:
        head, body = raw[:sep], raw[sep + 2:]
    else:
        head, body = raw, b""
    text = head.decode("utf-8", "replace").replace("\r\n", "\n")
    headers = []
    for line in text.split("\n"):
        if line[:1] in (" ", "\t") and headers:
            headers[-1] += " " + line.strip()
        else:
            headers.append(line)
    return headers, body


def _make_server(tmp_path_factory, name, **kw):
    srv = Server(tmp_path_factory.mktemp(name), **kw)
    srv.start()
    return srv


@pytest.fixture
def make_server(tmp_path):
    """Factory: make_server(tls=False, config={...}, users=(...), start=True)."""
    servers = []
    counter = [0]

    def make(tls=False, config=None, users=("bob",), start=True):
        counter[0] += 1
        srv = Server(tmp_path / ("srv%d" % counter[0]), tls=tls, config=config, users=users)
        servers.append(srv)
        if start:
            srv.start()
        return srv

    yield make
    errors = []
    for srv in servers:
        try:
            srv.teardown()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture
def server(make_server):
    """A fresh plain server with the account bob@example.test."""
    return make_server()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One server per test module (TLS enabled, accounts bob and carol)."""
    srv = Server(tmp_path_factory.mktemp("shared"), tls=True, users=("bob", "carol"))
    srv.start()
    yield srv
    srv.teardown()
