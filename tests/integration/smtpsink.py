"""A scriptable SMTP sink for the remote-delivery tests (stdlib only).

`SMTPSink(ip, port, ...)` listens on (ip, port) in a background thread and
speaks enough ESMTP to receive mail from postern's SMTP client: EHLO/HELO,
optional STARTTLS, PIPELINING, SIZE, 8BITMIME, MAIL, RCPT, DATA, RSET, NOOP,
QUIT. It records every session and every transaction, and answers what the
test scripts:

    sink = SMTPSink("127.0.0.61", port, starttls=True, cert=c, key=k).start()
    sink.script("rcpt", "451 4.3.0 try later", first=1)  # 1st transaction only
    sink.script("eom", "451 4.3.0 try later")              # every transaction
    sink.rcpt_replies["nobody@remote.test"] = "550 5.1.1 no such user"
    sink.max_rcpts = 2          # 3rd RCPT on: "452 4.5.3 Too many recipients"
    ...
    txs = sink.wait_for_transactions(1, timeout=10)
    sink.stop()

Stages for `script`: "connect" (the greeting; counted per connection),
"ehlo", "mail", "rcpt", "data" (the reply to DATA), "eom" (the reply after
the final dot); all but "connect" are counted per transaction (a
transaction starts with MAIL; "ehlo" counts the connection's next one).
A rule with first=N applies to the first N transactions (connections for
"connect"); first=None applies to all of them. `sink.clear_script()`
removes every rule (the sink then accepts everything).
`sink.delay(stage, seconds)` waits before answering at that stage (slow
servers, parallelism checks; also "quit": a transaction the client
cannot close). `close_after=N` closes a session after its Nth
transaction, without a word. Options: starttls (with cert/key),
starttls_broken=True (220, then garbage in answer to the ClientHello) or
"inject" (garbage in the same write as the 220), pipelining, eightbitmime,
size / max_size (a MAIL SIZE= above it gets 552).

TLS and AUTH (a smart host): `implicit_tls=True` (with cert/key) speaks
TLS from the first octet, as on port 465; `auth={"user": "password"}`
offers AUTH (`auth_mechs`, default ("PLAIN", "LOGIN")) after STARTTLS
only, or also in plain text with `auth_plaintext=True`;
`auth_required=True` answers MAIL before a successful AUTH with 530.
Each Session records `auth` [(mechanism, user, password, ok, tls)] and
`authenticated` (the user), each Transaction `auth_user`.

LMTP (RFC 2033): `SMTPSink(ip, port, lmtp=True)` or
`SMTPSink(None, None, lmtp=True, unix_path=PATH)` (a unix socket) answers
LHLO (EHLO and HELO get 500, as in Dovecot) and, after the final dot, one
reply per accepted recipient: `sink.lmtp_replies["bob+junk@example.test"]
= "452 4.2.2 mailbox full"`, else the "eom" rule, else 250. Each LMTP
transaction records `lmtp_results` [(rcpt, reply)] and `delivered`
(recipients answered 2xx); it counts as accepted when one of them was.

Each Transaction records mail_from, mail_params, rcpts, rejected, raw_data
(as received, dot-stuffed), data (un-stuffed), the replies, tls and
tls_version, the EHLO name and whether the client pipelined; each Session
records every command line. A client that pipelines is seen by waiting
`pipelining_wait` seconds after MAIL for more input before replying.

Every socket operation has a timeout; `stop()` closes the listener and every
open connection and joins the threads (bounded).
"""

import os
import select
import socket
import ssl
import threading
import time

CRLF = b"\r\n"
MAX_LINE = 4096
MAX_DATA = 64 * 1024 * 1024


class Transaction:
    """One MAIL ... transaction as the sink saw it."""

    def __init__(self, session, number):
        self.session = session
        self.number = number            # 1-based, over the sink's lifetime
        self.mail_from = None           # the address between < >
        self.mail_params = ""           # what followed the path, e.g. "SIZE=123 BODY=8BITMIME"
        self.rcpts = []                 # accepted recipients
        self.rejected = []              # (address, reply) for refused recipients
        self.raw_data = None            # bytes as received (dot-stuffed), without the final dot
        self.data = None                # bytes after un-stuffing
        self.data_reply = None          # reply given to DATA
        self.reply = None               # reply given after the final dot
        self.accepted = False           # 2xx after the final dot
        self.tls = False
        self.tls_version = None
        self.ehlo_name = None
        self.pipelined = False          # commands arrived before our replies
        self.t_mail = time.monotonic()  # when MAIL arrived
        self.t_done = None              # when the final reply was sent
        self.lmtp_results = []          # LMTP: (rcpt, reply) after the data
        self.delivered = []             # LMTP: recipients answered 2xx
        self.auth_user = None           # the session's AUTH user at MAIL

    def __repr__(self):
        return ("Transaction(#%d from=%r rcpts=%r rejected=%r tls=%r accepted=%r size=%s)"
                % (self.number, self.mail_from, self.rcpts, self.rejected, self.tls,
                   self.accepted, None if self.data is None else len(self.data)))


class Session:
    """One TCP connection."""

    def __init__(self, number, peer):
        self.number = number
        self.peer = peer
        self.commands = []              # every command line (decoded), in order
        self.ehlo_name = None
        self.esmtp = False
        self.tls = False
        self.tls_version = None
        self.tls_resumed = False        # the client resumed an earlier TLS session
        self.starttls_injection = False  # data after STARTTLS before the handshake
        self.auth = []                  # (mechanism, user, password, ok, tls) per AUTH
        self.authenticated = None       # the user of a successful AUTH
        self.pipelined = False
        self.transactions = []
        self.closed = False
        self.error = None
        self.t_start = time.monotonic()

    def __repr__(self):
        return "Session(#%d peer=%r tls=%r cmds=%r)" % (self.number, self.peer, self.tls,
                                                         self.commands)


class _Conn:
    """Line reader over a (possibly TLS) socket with a deadline per read."""

    def __init__(self, sock, timeout):
        self.sock = sock
        self.timeout = timeout
        self.buf = b""

    def _fill(self, timeout=None):
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("peer closed")
        self.buf += chunk

    def pending(self, wait=0.0):
        """True if more input is available now or within `wait` seconds."""
        if self.buf:
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        if wait <= 0:
            r, _, _ = select.select([self.sock], [], [], 0)
        else:
            r, _, _ = select.select([self.sock], [], [], wait)
        if not r:
            return False
        try:
            self._fill(timeout=wait if wait > 0 else 0.01)
        except (socket.timeout, ssl.SSLWantReadError):
            return bool(self.buf)
        return True

    def readline(self):
        deadline = time.monotonic() + self.timeout
        for _ in range(100000):
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                return line
            if len(self.buf) > MAX_LINE:
                raise ValueError("line too long")
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out reading a line")
            self._fill(timeout=left)
        raise ValueError("too many reads")

    def read_data(self):
        """DATA content up to CRLF.CRLF; returns the raw (stuffed) bytes."""
        deadline = time.monotonic() + self.timeout
        # The terminator may be the first line: ".\r\n" right after 354.
        for _ in range(1000000):
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return b""
            i = self.buf.find(b"\r\n.\r\n")
            if i >= 0:
                raw, self.buf = self.buf[:i + 2], self.buf[i + 5:]
                return raw
            if len(self.buf) > MAX_DATA:
                raise ValueError("message too large")
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out reading DATA")
            self._fill(timeout=left)
        raise ValueError("too many reads")

    def send(self, data):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)


def unstuff(raw):
    """RFC 5321 4.5.2: remove the leading dot of lines starting with '.'."""
    out = []
    for line in raw.split(b"\r\n"):
        out.append(line[1:] if line.startswith(b".") else line)
    return b"\r\n".join(out)


class SMTPSink:
    def __init__(self, ip, port, hostname=None, starttls=False, cert=None, key=None,
                 pipelining=True, eightbitmime=True, size=True, max_size=50 * 1024 * 1024,
                 timeout=10.0, pipelining_wait=0.3, starttls_broken=False, lmtp=False,
                 unix_path=None, implicit_tls=False, auth=None, auth_mechs=("PLAIN", "LOGIN"),
                 auth_plaintext=False, auth_required=False, close_after=None):
        self.lmtp = lmtp
        # close the connection (no reply, no 421) right after this many
        # transactions of a session: a server whose idle limit is short
        self.close_after = close_after
        self.unix_path = unix_path
        self.lmtp_replies = {}          # LMTP: lower-case rcpt -> reply after the data
        self.ip = ip
        self.port = port
        self.hostname = hostname or ("sink-%s.test" % (ip or "unix").replace(".", "-"))
        self.starttls = starttls
        self.pipelining = pipelining
        self.eightbitmime = eightbitmime
        self.size = size
        self.max_size = max_size
        self.timeout = timeout
        # How long to wait after MAIL for more pipelined commands before
        # replying (only when PIPELINING is advertised): lets the sink see
        # whether the client sends RCPT/DATA without waiting.
        self.pipelining_wait = pipelining_wait
        # starttls_broken: advertise STARTTLS, answer 220, then answer the
        # ClientHello with non-TLS bytes and close; "inject": send those
        # bytes right behind the 220, in the same write.
        self.starttls_broken = starttls_broken
        self.implicit_tls = implicit_tls
        self.auth = dict(auth or {})    # user -> password; empty: no AUTH
        self.auth_mechs = tuple(m.upper() for m in auth_mechs)
        self.auth_plaintext = auth_plaintext
        self.auth_required = auth_required
        self.delays = {}                # stage -> seconds to wait before replying
        self.ssl_ctx = None
        if (starttls or implicit_tls) and not starttls_broken:
            if cert is None or key is None:
                raise ValueError("starttls and implicit_tls need cert and key")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(cert), str(key))
            self.ssl_ctx = ctx
        self.lock = threading.Lock()
        self.rules = []                 # [stage, reply, first]
        self.rcpt_replies = {}          # lower-case address -> reply
        # recipients accepted per transaction; past them RCPT gets 452
        # (RFC 5321 4.5.3.1.10), None: no limit
        self.max_rcpts = None
        self.sessions = []
        self.transactions = []
        self.tx_count = 0
        self.conn_count = 0
        self.errors = []
        self._stopped = threading.Event()
        self._threads = []
        self._socks = []
        self.listener = None
        self._accept_thread = None

    # -- configuration ---------------------------------------------------
    def script(self, stage, reply, first=None):
        assert stage in ("connect", "ehlo", "mail", "rcpt", "data", "eom"), stage
        with self.lock:
            self.rules.append([stage, reply, first])
        return self

    def delay(self, stage, seconds):
        """Wait `seconds` before answering at `stage` (same stage names)."""
        with self.lock:
            self.delays[stage] = seconds
        return self

    def _pause(self, stage):
        with self.lock:
            d = self.delays.get(stage, 0)
        if d:
            self._stopped.wait(d)

    def clear_script(self):
        with self.lock:
            self.rules = []
            self.rcpt_replies.clear()

    def _rule(self, stage, number):
        with self.lock:
            for st, reply, first in self.rules:
                if st == stage and (first is None or number <= first):
                    return reply
        return None

    # -- life cycle -------------------------------------------------------
    def start(self):
        if self.unix_path:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(str(self.unix_path))
        else:
            s = socket.socket(socket.AF_INET6 if ":" in self.ip else socket.AF_INET,
                              socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.ip, self.port))
        s.listen(32)
        s.settimeout(0.2)
        self.listener = s
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name="smtpsink-%s" % self.ip)
        self._accept_thread.start()
        return self

    def stop(self, timeout=5.0):
        self._stopped.set()
        if self.listener is not None:
            try:
                self.listener.close()
            except OSError:
                pass
        with self.lock:
            socks = list(self._socks)
        for c in socks:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        if self.unix_path:
            try:
                os.unlink(str(self.unix_path))
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        threads = [self._accept_thread] + list(self._threads)
        for t in threads:
            if t is not None:
                t.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _accept_loop(self):
        while not self._stopped.is_set():
            try:
                conn, peer = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.conn_count += 1
                number = self.conn_count
                self._socks.append(conn)
            t = threading.Thread(target=self._serve, args=(conn, peer, number), daemon=True,
                                 name="smtpsink-%s-%d" % (self.ip, number))
            self._threads.append(t)
            t.start()

    # -- waiting ----------------------------------------------------------
    def accepted(self):
        """Transactions whose data was accepted (2xx after the final dot)."""
        with self.lock:
            return [t for t in self.transactions if t.accepted]

    def wait_for(self, pred, timeout=10.0, what="condition", interval=0.05):
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / interval) + 2):
            r = pred()
            if r:
                return r
            if time.monotonic() >= deadline:
                break
            time.sleep(interval)
        r = pred()
        if r:
            return r
        raise AssertionError("sink %s:%s: timed out after %.1fs waiting for %s; sessions=%r "
                             "transactions=%r errors=%r" % (self.ip or self.unix_path, self.port,
                                                            timeout, what,
                                                            self.sessions, self.transactions,
                                                            self.errors))

    def wait_for_transactions(self, count=1, timeout=10.0, accepted=True):
        def got():
            with self.lock:
                txs = [t for t in self.transactions if t.accepted or not accepted]
            return txs if len(txs) >= count else None
        return self.wait_for(got, timeout, what="%d %stransaction(s)" % (
            count, "accepted " if accepted else ""))

    # -- the dialog ---------------------------------------------------------
    def _serve(self, sock, peer, number):
        session = Session(number, peer)
        with self.lock:
            self.sessions.append(session)
        conn = _Conn(sock, self.timeout)
        try:
            self._dialog(conn, session)
        except (OSError, EOFError, ValueError, ssl.SSLError) as e:
            if not self._stopped.is_set():
                session.error = repr(e)
        except Exception as e:  # noqa: BLE001 - recorded, reported by tests
            session.error = repr(e)
            with self.lock:
                self.errors.append(repr(e))
        finally:
            session.closed = True
            try:
                conn.sock.close()
            except OSError:
                pass
            with self.lock:
                if sock in self._socks:
                    self._socks.remove(sock)

    def _reply(self, conn, text):
        if isinstance(text, str):
            text = text.encode()
        conn.send(text + CRLF)

    def _ehlo_lines(self, session):
        lines = [self.hostname]
        if self.size:
            lines.append("SIZE %d" % self.max_size if self.max_size else "SIZE")
        if self.pipelining:
            lines.append("PIPELINING")
        if self.eightbitmime:
            lines.append("8BITMIME")
        lines.append("ENHANCEDSTATUSCODES")
        if (self.starttls or self.starttls_broken) and not session.tls:
            lines.append("STARTTLS")
        if self.auth and self.auth_mechs and (session.tls or self.auth_plaintext):
            lines.append("AUTH " + " ".join(self.auth_mechs))
        return lines

    def _auth(self, conn, session, arg):
        """RFC 4954: PLAIN (initial response or 334) and LOGIN."""
        import base64
        import binascii

        def b64(text):
            try:
                return base64.b64decode(text.strip(), validate=True).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                return None

        def ask(challenge):
            self._reply(conn, "334 " + challenge)
            line = conn.readline().decode("utf-8", "replace").rstrip("\r\n")
            session.commands.append(line)
            return line

        parts = arg.split()
        mech = parts[0].upper() if parts else ""
        if not self.auth or session.authenticated is not None:
            self._reply(conn, "503 5.5.1 AUTH not available")
            return
        if mech not in self.auth_mechs:
            self._reply(conn, "504 5.5.4 unrecognized authentication type")
            return
        if mech == "PLAIN":
            resp = parts[1] if len(parts) > 1 else ask("")
            if resp == "*":
                self._reply(conn, "501 5.7.0 cancelled")
                return
            raw = b64(resp)
            fields = raw.split("\0") if raw is not None else []
            if len(fields) != 3:
                self._reply(conn, "501 5.5.2 malformed PLAIN response")
                return
            user, password = fields[1], fields[2]
        else:
            u = parts[1] if len(parts) > 1 else ask("VXNlcm5hbWU6")
            if u == "*":
                self._reply(conn, "501 5.7.0 cancelled")
                return
            p = ask("UGFzc3dvcmQ6")
            if p == "*":
                self._reply(conn, "501 5.7.0 cancelled")
                return
            user, password = b64(u), b64(p)
        ok = user is not None and self.auth.get(user) == password
        with self.lock:
            session.auth.append((mech, user, password, ok, session.tls))
        if ok:
            session.authenticated = user
            self._reply(conn, "235 2.7.0 authentication successful")
        else:
            self._reply(conn, "535 5.7.8 authentication credentials invalid")

    def _dialog(self, conn, session):
        if self.implicit_tls:
            conn.sock.settimeout(self.timeout)
            tls_sock = self.ssl_ctx.wrap_socket(conn.sock, server_side=True)
            with self.lock:
                self._socks.append(tls_sock)
            conn.sock = tls_sock
            session.tls = True
            session.tls_version = tls_sock.version()
            session.tls_resumed = tls_sock.session_reused
        greet = self._rule("connect", session.number)
        if greet:
            self._reply(conn, greet)
            if greet.startswith("4") or greet.startswith("5"):
                # RFC 5321 3.1: a 554 greeting may be followed by a dialog
                # answered 503; keep it simple and wait for QUIT or EOF.
                for _ in range(100):
                    line = conn.readline()
                    session.commands.append(line.decode("utf-8", "replace").rstrip("\r\n"))
                    if line.strip().upper() == b"QUIT":
                        self._reply(conn, "221 2.0.0 bye")
                        return
                    self._reply(conn, "503 5.5.1 no service")
                return
        self._reply(conn, "220 %s ESMTP smtpsink" % self.hostname)
        tx = None
        for _ in range(100000):
            if self._stopped.is_set():
                return
            line = conn.readline()
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            session.commands.append(text)
            verb = text.split(" ", 1)[0].upper()
            arg = text[len(verb):].strip()
            if self.lmtp and verb in ("EHLO", "HELO"):
                self._reply(conn, "500 5.5.1 LMTP: use LHLO")
                continue
            if not self.lmtp and verb == "LHLO":
                self._reply(conn, "500 5.5.2 unknown command")
                continue
            if verb in ("EHLO", "HELO", "LHLO"):
                session.ehlo_name = arg
                session.esmtp = verb in ("EHLO", "LHLO")
                tx = None
                r = self._rule("ehlo", self.tx_count + 1)
                if r:
                    self._reply(conn, r)
                    continue
                if verb == "HELO":
                    self._reply(conn, "250 %s" % self.hostname)
                    continue
                lines = self._ehlo_lines(session)
                out = ["250-%s" % l for l in lines[:-1]] + ["250 %s" % lines[-1]]
                conn.send(("\r\n".join(out) + "\r\n").encode())
            elif verb == "STARTTLS":
                if not (self.starttls or self.starttls_broken) or session.tls:
                    self._reply(conn, "502 5.5.1 not supported")
                    continue
                if self.starttls_broken == "inject":
                    # 220 and, in the same write, plaintext that is no TLS
                    # (what a broken server or a man in the middle may send)
                    conn.send(b"220 2.0.0 go ahead\r\nthis is not a TLS record\r\n")
                    return
                if self.starttls_broken:
                    # 220, then the ClientHello is answered with garbage
                    self._reply(conn, "220 2.0.0 go ahead")
                    conn.pending(self.timeout)
                    conn.send(b"this is not a TLS record\r\n")
                    return
                if conn.buf:
                    session.starttls_injection = True
                self._reply(conn, "220 2.0.0 go ahead")
                conn.sock.settimeout(self.timeout)
                tls_sock = self.ssl_ctx.wrap_socket(conn.sock, server_side=True)
                with self.lock:
                    self._socks.append(tls_sock)
                conn.sock = tls_sock
                conn.buf = b""
                session.tls = True
                session.tls_version = tls_sock.version()
                session.tls_resumed = tls_sock.session_reused
                session.ehlo_name = None
                session.esmtp = False
                tx = None
            elif verb == "AUTH":
                self._auth(conn, session, arg)
            elif verb == "MAIL":
                if session.ehlo_name is None:
                    self._reply(conn, "503 5.5.1 EHLO first")
                    continue
                if self.auth_required and session.authenticated is None:
                    self._reply(conn, "530 5.7.0 authentication required")
                    continue
                if tx is not None:
                    self._reply(conn, "503 5.5.1 nested MAIL")
                    continue
                # Does the client pipeline? (only meaningful when offered)
                pipelined = False
                if session.esmtp:
                    # when not offered, pipelining is a client error: look
                    # briefly anyway
                    pipelined = conn.pending(self.pipelining_wait if self.pipelining
                                             else min(self.pipelining_wait, 0.1))
                    if pipelined:
                        session.pipelined = True
                with self.lock:
                    self.tx_count += 1
                    number = self.tx_count
                t = Transaction(session, number)
                t.pipelined = pipelined
                t.tls = session.tls
                t.tls_version = session.tls_version
                t.ehlo_name = session.ehlo_name
                t.auth_user = session.authenticated
                path, params = _split_path(arg, "FROM:")
                t.mail_from = path
                t.mail_params = params
                session.transactions.append(t)
                with self.lock:
                    self.transactions.append(t)
                r = self._rule("mail", number)
                if path is None:
                    r = "501 5.5.4 syntax: MAIL FROM:<address>"
                elif self.size and self.max_size:
                    for p in params.split():
                        if p.upper().startswith("SIZE=") and p[5:].isdigit() and \
                                int(p[5:]) > self.max_size:
                            r = "552 5.3.4 message size exceeds fixed limit"
                self._pause("mail")
                if r:
                    self._reply(conn, r)
                    if r[:1] != "2":
                        continue
                else:
                    self._reply(conn, "250 2.1.0 ok")
                tx = t
            elif verb == "RCPT":
                if tx is None:
                    self._reply(conn, "503 5.5.1 MAIL first")
                    continue
                path, _ = _split_path(arg, "TO:")
                if path is None:
                    self._reply(conn, "501 5.5.4 syntax: RCPT TO:<address>")
                    continue
                r = self.rcpt_replies.get(path.lower()) or self._rule("rcpt", tx.number)
                if not r and self.max_rcpts is not None and len(tx.rcpts) >= self.max_rcpts:
                    r = "452 4.5.3 Too many recipients"
                self._pause("rcpt")
                if r and r[:1] != "2":
                    tx.rejected.append((path, r))
                    self._reply(conn, r)
                    continue
                tx.rcpts.append(path)
                self._reply(conn, r or "250 2.1.5 ok")
            elif verb == "DATA":
                if tx is None:
                    self._reply(conn, "503 5.5.1 MAIL first")
                    continue
                if not tx.rcpts:
                    tx.data_reply = "554 5.5.1 no valid recipients"
                    self._reply(conn, tx.data_reply)
                    tx = None
                    continue
                r = self._rule("data", tx.number)
                self._pause("data")
                if r:
                    tx.data_reply = r
                    self._reply(conn, r)
                    tx = None
                    continue
                tx.data_reply = "354 end with <CRLF>.<CRLF>"
                self._reply(conn, tx.data_reply)
                raw = conn.read_data()
                tx.raw_data = raw
                tx.data = unstuff(raw)
                if self.lmtp:
                    self._pause("eom")
                    # RFC 2033 4.2: one reply per accepted recipient
                    for rcpt in tx.rcpts:
                        r = (self.lmtp_replies.get(rcpt.lower()) or self._rule("eom", tx.number)
                             or "250 2.0.0 <%s> saved" % rcpt)
                        tx.lmtp_results.append((rcpt, r))
                        if r[:1] == "2":
                            tx.delivered.append(rcpt)
                        self._reply(conn, r)
                    tx.reply = tx.lmtp_results[-1][1]
                    tx.accepted = bool(tx.delivered)
                    tx.t_done = time.monotonic()
                    tx = None
                    continue
                r = self._rule("eom", tx.number) or "250 2.0.0 ok queued as S%d" % tx.number
                self._pause("eom")
                tx.reply = r
                tx.accepted = r[:1] == "2"
                self._reply(conn, r)
                tx.t_done = time.monotonic()
                tx = None
                if self.close_after and len(session.transactions) >= self.close_after:
                    return
            elif verb == "RSET":
                tx = None
                self._reply(conn, "250 2.0.0 ok")
            elif verb == "NOOP":
                self._reply(conn, "250 2.0.0 ok")
            elif verb == "QUIT":
                self._pause("quit")
                self._reply(conn, "221 2.0.0 bye")
                return
            else:
                self._reply(conn, "500 5.5.2 unknown command")


def _split_path(arg, prefix):
    """'FROM:<a@b> SIZE=1' -> ('a@b', 'SIZE=1'); (None, '') when malformed."""
    if arg[:len(prefix)].upper() != prefix:
        return None, ""
    rest = arg[len(prefix):].lstrip()
    if not rest.startswith("<"):
        return None, ""
    end = rest.find(">")
    if end < 0:
        return None, ""
    return rest[1:end], rest[end + 1:].strip()
