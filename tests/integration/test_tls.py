"""STARTTLS (RFC 3207) and the plaintext command injection (CVE-2011-0411)."""

import re
import ssl
import uuid

import pytest

from conftest import token, dot_stuff, queue_id, simple_message, split_message



def keywords(ehlo):
    return [l.split()[0].upper() for l in ehlo.texts[1:] if l.strip()]


def test_starttls_delivery_esmtps(shared_server):
    srv = shared_server
    t = token()
    c = srv.client()
    before = c.ehlo("tls-client.test")
    assert "STARTTLS" in keywords(before), before
    c.starttls()
    assert isinstance(c.sock, ssl.SSLSocket)
    assert c.sock.version() in ("TLSv1.2", "TLSv1.3"), c.sock.version()
    after = c.ehlo("tls-client.test")
    kw = keywords(after)
    assert "STARTTLS" not in kw, after
    assert "PIPELINING" in kw and "CHUNKING" in kw, after
    # A second STARTTLS inside TLS is refused.
    r = c.cmd("STARTTLS")
    assert r.code in (503, 554, 502), r
    qid = queue_id(c.send_mail("alice@sender.test", ["bob@example.test"], simple_message(t)))
    c.quit()
    raw = srv.wait_for_mail("bob", token=t)[0].read_bytes()
    headers, _ = split_message(raw)
    rec = [h for h in headers if h.startswith("Received:")][0]
    assert re.search(r" with ESMTPSA? id %s\b" % qid, rec), rec
    assert "from tls-client.test " in rec, rec
    srv.wait_for_log("tls")
    srv.wait_for_log("delivered", id=qid)


def test_mail_before_ehlo_after_starttls(shared_server):
    """STARTTLS resets the session: the client must EHLO again (RFC 3207 4.2)."""
    c = shared_server.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    # Inside a transaction STARTTLS is refused (as Postfix does) ...
    r = c.cmd("STARTTLS")
    assert r.code == 503, r
    c.expect("RSET", 250)
    c.starttls()
    # ... and after TLS the session state starts over: no MAIL before EHLO.
    r = c.cmd("MAIL FROM:<alice@sender.test>")
    assert r.code == 503, r
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.quit()


def test_starttls_without_ehlo_or_with_args(shared_server):
    c = shared_server.client()
    r = c.cmd("STARTTLS now")
    assert r.code == 501, r
    c.quit()


def test_no_starttls_without_cert(server):
    c = server.client()
    ehlo = c.ehlo()
    assert "STARTTLS" not in keywords(ehlo), ehlo
    r = c.cmd("STARTTLS")
    assert 500 <= r.code < 600, r
    c.quit()


@pytest.mark.parametrize("injected", [
    b"NOOP\r\n",
    b"MAIL FROM:<evil@x.test>\r\n",
    b"EHLO evil.test\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<bob@example.test>\r\n",
], ids=["noop", "mail", "transaction"])
def test_starttls_pipelined_plaintext_discarded(shared_server, injected):
    srv = shared_server
    c = srv.client()
    c.ehlo()
    c.send(b"STARTTLS\r\n" + injected)
    r = c.reply()
    assert r.code == 220, r
    # Nothing else in plaintext: a reply to the injected commands here
    # would also break the TLS handshake.
    assert c.buf == b"", "plaintext reply to injected command: %r" % c.buf
    c.wrap_tls()
    # After the handshake no reply to the injected commands arrives.
    c.read_nothing(1.0)
    ehlo = c.ehlo()
    assert "STARTTLS" not in keywords(ehlo)
    # The injected MAIL (if any) was not executed: RCPT needs a MAIL first.
    r = c.cmd("RCPT TO:<bob@example.test>")
    assert r.code == 503, "injected MAIL was executed: %r" % r
    c.quit()


def test_starttls_handshake_garbage_then_new_session(shared_server):
    """A client that says STARTTLS and then sends garbage instead of a
    ClientHello is dropped; the server keeps serving."""
    srv = shared_server
    c = srv.client()
    c.ehlo()
    r = c.cmd("STARTTLS")
    assert r.code == 220
    c.send(b"this is not a TLS ClientHello\r\n" * 4)
    c.read_eof(timeout=10)
    c.close()
    t = token()
    c = srv.client()
    c.ehlo()
    c.starttls()
    c.ehlo()
    queue_id(c.send_mail("alice@sender.test", ["bob@example.test"], simple_message(t)))
    c.quit()
    srv.wait_for_mail("bob", token=t)


def test_starttls_bdat_pipelined(shared_server):
    srv = shared_server
    t = token()
    msg = simple_message(t)
    c = srv.client()
    c.ehlo()
    c.starttls()
    c.ehlo()
    c.send(b"MAIL FROM:<alice@sender.test>\r\nRCPT TO:<carol@example.test>\r\n"
           b"BDAT %d LAST\r\n" % len(msg) + msg + b"QUIT\r\n")
    rs = c.replies(4)
    assert [r.code for r in rs] == [250, 250, 250, 221], rs
    raw = srv.wait_for_mail("carol", token=t)[0].read_bytes()
    assert raw.endswith(msg)
    assert b"with ESMTPS" in raw


def test_large_message_over_tls_data_and_bdat(shared_server):
    """~2 MB through TLS, with DATA and with one BDAT chunk: byte-exact."""
    srv = shared_server
    t1, t2 = token(), token()
    lines = ["%06d " % i + "b" * 90 for i in range(20000)]
    m1 = simple_message(t1, body_lines=lines)
    m2 = simple_message(t2, body_lines=lines)
    c = srv.client(timeout=60)
    c.ehlo()
    c.starttls()
    c.ehlo()
    queue_id(c.send_mail("alice@sender.test", ["bob@example.test"], m1))
    c.send(b"MAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\n"
           b"BDAT %d LAST\r\n" % len(m2) + m2)
    rs = c.replies(3)
    assert [r.code for r in rs] == [250, 250, 250], rs
    c.quit()
    r1 = srv.wait_for_mail("bob", token=t1, timeout=20)[0].read_bytes()
    r2 = srv.wait_for_mail("bob", token=t2, timeout=20)[0].read_bytes()
    assert r1.endswith(m1) and r2.endswith(m2)
