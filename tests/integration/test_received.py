"""Our Received header (SPEC 3): an IPv6 client is written as an RFC 5321
4.1.3 address literal, [IPv6:ADDR], and a transaction that used SMTPUTF8
is "with UTF8SMTP[S][A]" (RFC 6531 3.7.3)."""

import re
import uuid

from conftest import queue_id, simple_message
from test_listen import connect, free_port6, needs_ipv6


def received(srv, token):
    """Our Received line of the message carrying token in bob's Maildir."""
    (path,) = srv.wait_for_mail("bob", token=token)
    headers = path.read_bytes().split(b"\r\n\r\n", 1)[0].decode("utf-8")
    rec = [h for h in headers.split("\r\n") if h.startswith("Received:")]
    assert rec, headers
    return rec[0]


def send(c, sender, rcpt, token, smtputf8=False):
    c.expect("MAIL FROM:<%s>%s" % (sender, " SMTPUTF8" if smtputf8 else ""), 250)
    c.expect("RCPT TO:<%s>" % rcpt, 250)
    c.expect("DATA", 354)
    c.send(simple_message(token) + b".\r\n")
    return queue_id(c.reply())


@needs_ipv6
def test_ipv6_client_is_an_ipv6_address_literal(make_server):
    srv = make_server(start=False)
    srv.port = free_port6()
    srv.write_config(listen_smtp="127.0.0.1:%d [::1]:%d" % (srv.port, srv.port))
    srv.start()
    token = uuid.uuid4().hex
    c = connect("::1", srv.port)
    c.ehlo()
    send(c, "alice@sender.test", "bob@example.test", token)
    c.quit()
    rec = received(srv, token)
    assert re.search(r" \[IPv6:::1\]\) by ", rec), rec
    assert "with ESMTP id" in rec, rec


def test_smtputf8_transaction_is_utf8smtp(server):
    token = uuid.uuid4().hex
    c = server.client()
    c.ehlo("client.test")
    send(c, "j\u00f6rg@sender.test", "bob@example.test", token, smtputf8=True)
    # the next transaction of the session, without SMTPUTF8, is ESMTP again
    token2 = uuid.uuid4().hex
    send(c, "alice@sender.test", "bob@example.test", token2)
    c.quit()
    rec = received(server, token)
    assert " with UTF8SMTP id " in rec, rec
    assert re.search(r" \[127\.0\.0\.1\]\) by ", rec), rec
    assert " with ESMTP id " in received(server, token2)


def test_smtputf8_over_tls_is_utf8smtps(make_server):
    srv = make_server(tls=True)
    token = uuid.uuid4().hex
    c = srv.client()
    c.ehlo("client.test")
    c.starttls()
    c.ehlo("client.test")
    send(c, "j\u00f6rg@sender.test", "bob@example.test", token, smtputf8=True)
    c.quit()
    assert " with UTF8SMTPS id " in received(srv, token)
