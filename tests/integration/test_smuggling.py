"""SMTP smuggling (CVE-2023-51764 class): only CRLF.CRLF ends DATA.

A body containing a fake end-of-data made of bare LF / bare CR followed by
a second transaction must never turn into two messages.
"""

import uuid

import pytest

from conftest import queue_id

SMUGGLED = (b"MAIL FROM:<evil@x>\r\n"
            b"RCPT TO:<bob@example.test>\r\n"
            b"DATA\r\n"
            b"smuggled\r\n")

SEQUENCES = {
    "lf-dot-lf": b"\n.\n",
    "crlf-dot-lf": b"\r\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "cr-dot-crlf": b"\r.\r\n",
    "cr-dot-cr": b"\r.\r",
    "crlf-dot-cr": b"\r\n.\r",
}


def check_no_smuggled(srv, token):
    files = srv.all_delivered_files()
    assert len(files) <= 1, "more than one message delivered: %s" % files
    for f in files:
        raw = f.read_bytes()
        assert not raw.startswith(b"Return-Path: <evil@x>"), raw[:300]
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        assert b"Return-Path: <evil@x>" not in head, raw[:300]
    return files


@pytest.mark.parametrize("seq", list(SEQUENCES.values()), ids=list(SEQUENCES))
def test_data_smuggling(server, seq):
    srv = server
    token = uuid.uuid4().hex
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    body = (b"From: <alice@sender.test>\r\nSubject: " + token.encode() + b"\r\n\r\n"
            b"first part" + seq + SMUGGLED)
    c.send(body + b".\r\n")
    # Exactly one reply to the whole thing, refusing it (brief: 550 5.5.2).
    r = c.reply()
    assert r.code != 250 or "queued" in r.text, r
    # Nothing more: no replies for the smuggled MAIL/RCPT/DATA.
    c.send(b"NOOP\r\n")
    noop = c.reply()
    assert noop.code == 250 and noop.enhanced == "2.0.0", \
        "extra reply after end of data (smuggled commands executed?): %r" % noop
    c.read_nothing(0.3)
    c.quit()
    srv.wait_for_log("disconnect", messages=str(int(r.code == 250)))
    srv.settle()
    files = check_no_smuggled(srv, token)
    assert r.code == 550 and r.enhanced == "5.5.2", \
        "bare CR/LF in DATA: expected 550 5.5.2 at end of data, got %r" % r
    assert files == [], files
    rej = srv.events("reject")
    assert rej, "no event=reject logged for the refused message"


@pytest.mark.parametrize("seq", list(SEQUENCES.values()), ids=list(SEQUENCES))
def test_data_smuggling_all_in_one_write(server, seq):
    """Same attack with the whole session pipelined into a single write."""
    srv = server
    blob = (b"EHLO client.test\r\nMAIL FROM:<alice@sender.test>\r\n"
            b"RCPT TO:<bob@example.test>\r\nDATA\r\n"
            b"Subject: x\r\n\r\nfirst part" + seq + SMUGGLED + b".\r\nQUIT\r\n")
    c = srv.client()
    c.send(blob)
    rs = c.replies(6)
    codes = [r.code for r in rs]
    assert codes[:4] == [250, 250, 250, 354], rs
    assert codes[5] == 221, "smuggled commands got replies: %r" % rs
    assert codes[4] != 250, "message with bare LF/CR accepted: %r" % rs
    c.read_eof()
    srv.settle()
    check_no_smuggled(srv, None)
    assert srv.all_delivered_files() == []


def test_bdat_then_smuggled_data_end(server):
    """In BDAT the chunk is opaque; a following real DATA-style end must not
    make the server deliver anything extra."""
    srv = server
    chunk = b"Subject: x\r\n\r\nbody\n.\n" + SMUGGLED + b".\r\n"
    c = srv.client()
    c.ehlo()
    c.send(b"MAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\n"
           b"BDAT %d LAST\r\n" % len(chunk) + chunk + b"QUIT\r\n")
    rs = c.replies(4)
    assert [r.code for r in rs[:2]] == [250, 250], rs
    assert rs[3].code == 221, rs
    c.read_eof()
    srv.settle()
    files = check_no_smuggled(srv, None)
    if rs[2].code == 250:
        # Accepted as one opaque message: the file holds it verbatim.
        assert len(files) == 1
        queue_id(rs[2])


def test_clean_message_after_refused_smuggling_same_session(server):
    """After the refused message the session goes on and delivers normally."""
    srv = server
    token = uuid.uuid4().hex
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    c.send(b"Subject: bad\r\n\r\nx\n.\n" + SMUGGLED + b".\r\n")
    r = c.reply()
    assert r.code == 550, r
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    c.send(b"Subject: good " + token.encode() + b"\r\n\r\nfine\r\n.\r\n")
    queue_id(c.reply())
    c.quit()
    files = srv.wait_for_mail("bob", token=token)
    srv.settle()
    assert len(srv.all_delivered_files()) == 1, srv.all_delivered_files()
    assert b"evil" not in files[0].read_bytes()
