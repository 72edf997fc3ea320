"""PIPELINING (RFC 2920) and CHUNKING/BDAT (RFC 3030)."""

import socket
import uuid

import conftest

from conftest import token, dot_stuff, queue_id, simple_message, split_message



def test_pipelined_transaction_replies_in_order(shared_server):
    srv = shared_server
    t = token()
    c = srv.client()
    c.send(b"EHLO client.test\r\n"
           b"MAIL FROM:<alice@sender.test>\r\n"
           b"RCPT TO:<bob@example.test>\r\n"
           b"RCPT TO:<nosuchuser@example.test>\r\n"
           b"RCPT TO:<carol@example.test>\r\n"
           b"DATA\r\n")
    ehlo, mail, r1, r2, r3, data = c.replies(6)
    assert ehlo.code == 250 and len(ehlo.lines) > 1 and "PIPELINING" in ehlo.text, ehlo
    assert mail.code == 250 and mail.enhanced == "2.1.0", mail
    assert r1.code == 250 and r1.enhanced == "2.1.5", r1
    assert r2.code == 550 and r2.enhanced == "5.1.1", r2
    assert r3.code == 250 and r3.enhanced == "2.1.5", r3
    assert data.code == 354, data
    c.send(dot_stuff(simple_message(t)) + b".\r\nQUIT\r\n")
    final, bye = c.replies(2)
    qid = queue_id(final)
    assert bye.code == 221, bye
    assert c.read_eof() == b""
    srv.wait_for_mail("bob", token=t)
    srv.wait_for_mail("carol", token=t)
    srv.wait_for_log("delivered", id=qid, count=2)


def test_pipelined_whole_session_including_body(shared_server):
    """Client writes two complete transactions and QUIT in one go."""
    srv = shared_server
    t1, t2 = token(), token()
    c = srv.client()
    c.ehlo()
    blob = b""
    for t in (t1, t2):
        blob += (b"MAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
                 + dot_stuff(simple_message(t)) + b".\r\n")
    blob += b"QUIT\r\n"
    c.send(blob)
    rs = c.replies(9)
    assert [r.code for r in rs] == [250, 250, 354, 250, 250, 250, 354, 250, 221], rs
    q1, q2 = queue_id(rs[3]), queue_id(rs[7])
    assert q1 != q2
    srv.wait_for_mail("bob", token=t1)
    srv.wait_for_mail("bob", token=t2)


def test_pipelined_failed_mail_then_rcpt_data(shared_server):
    """A refused MAIL makes the pipelined RCPT and DATA fail, not start DATA."""
    c = shared_server.client()
    c.ehlo()
    c.send(b"MAIL FROM:<bad address>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
           b"Subject: not a message\r\n\r\n.\r\nNOOP\r\n")
    mail, rcpt, data = c.replies(3)
    assert 500 <= mail.code < 600, mail
    assert rcpt.code == 503, rcpt
    assert data.code in (503, 554), data
    # The would-be body lines are now read as commands: errors, no crash,
    # and NOOP still answers.
    # ("Subject: ...", the empty line and "." each get an error.)
    rest = c.replies(4)
    assert all(500 <= r.code < 600 for r in rest[:3]), rest
    assert rest[3].code == 250, rest
    c.quit()


# -- BDAT ---------------------------------------------------------------

def bdat(chunk, last=False):
    return b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk


def test_bdat_chunks(shared_server):
    srv = shared_server
    t = token()
    msg = simple_message(t, body_lines=["first line", ".leading dot stays as is",
                                        "..two dots", "", "last " + t])
    # Unaligned split points, one of them inside a CRLF.
    i = msg.index(b"first line") + 5
    j = msg.index(b"..two dots") - 1
    parts = [msg[:i], msg[i:j], msg[j:]]
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.send(bdat(parts[0]))
    r = c.reply()
    assert r.code == 250, r
    c.send(bdat(parts[1]))
    r = c.reply()
    assert r.code == 250, r
    c.send(bdat(parts[2], last=True))
    qid = queue_id(c.reply())
    c.quit()
    raw = srv.wait_for_mail("bob", token="last " + t)[0].read_bytes()
    # BDAT data is not dot-stuffed: delivered exactly as sent.
    assert raw.endswith(msg[msg.index(b"From:"):]), raw[-300:]
    _, body = split_message(raw)
    assert body == b"first line\r\n.leading dot stays as is\r\n..two dots\r\n\r\nlast " + \
        t.encode() + b"\r\n", body
    srv.wait_for_log("delivered", id=qid)


def test_bdat_zero_last(shared_server):
    srv = shared_server
    t = token()
    msg = simple_message(t)
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.send(bdat(msg))
    assert c.reply().code == 250
    c.send(b"BDAT 0 LAST\r\n")
    queue_id(c.reply())
    c.quit()
    raw = srv.wait_for_mail("bob", token=t)[0].read_bytes()
    assert raw.endswith(msg), raw[-200:]


def test_bdat_single_last_chunk_with_crlf_dot_crlf_inside(shared_server):
    """Inside a BDAT chunk, CRLF.CRLF means nothing: no early end, no command."""
    srv = shared_server
    t = token()
    msg = simple_message(t, body_lines=["before", ".", "MAIL FROM:<evil@x.test>",
                                        "after " + t])
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.send(bdat(msg, last=True) + b"NOOP\r\n")
    qid = queue_id(c.reply())
    noop = c.reply()
    assert noop.code == 250 and noop.enhanced == "2.0.0", noop
    c.read_nothing(0.5)
    c.quit()
    raw = srv.wait_for_mail("bob", token="after " + t)[0].read_bytes()
    assert raw.endswith(msg)
    srv.wait_for_log("delivered", id=qid)


def test_bdat_pipelined(shared_server):
    srv = shared_server
    t = token()
    msg = simple_message(t)
    half = len(msg) // 2
    c = srv.client()
    c.ehlo()
    c.send(b"MAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\n"
           b"RCPT TO:<carol@example.test>\r\n"
           + bdat(msg[:half]) + bdat(msg[half:]) + b"BDAT 0 LAST\r\n" + b"QUIT\r\n")
    rs = c.replies(7)
    assert [r.code for r in rs] == [250, 250, 250, 250, 250, 250, 221], rs
    qid = queue_id(rs[5])
    assert c.read_eof() == b""
    for who in ("bob", "carol"):
        raw = srv.wait_for_mail(who, token=t)[0].read_bytes()
        assert raw.endswith(msg)
    srv.wait_for_log("delivered", id=qid, count=2)


def test_bdat_then_second_transaction(shared_server):
    """After BDAT LAST the session is ready for a new MAIL (DATA this time)."""
    srv = shared_server
    t1, t2 = token(), token()
    c = srv.client()
    c.ehlo()
    c.send(b"MAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\n"
           + bdat(simple_message(t1), last=True))
    rs = c.replies(3)
    assert [r.code for r in rs] == [250, 250, 250], rs
    queue_id(rs[2])
    queue_id(c.send_mail("alice@sender.test", ["bob@example.test"], simple_message(t2)))
    c.quit()
    srv.wait_for_mail("bob", token=t1)
    srv.wait_for_mail("bob", token=t2)


def test_bdat_without_mail_chunk_not_executed(shared_server):
    srv = shared_server
    c = srv.client()
    c.ehlo()
    chunk = b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<bob@example.test>\r\n"
    c.send(bdat(chunk, last=True) + b"NOOP\r\nRCPT TO:<bob@example.test>\r\n")
    err = c.reply()
    assert err.code in (503, 554), err
    noop = c.reply()
    # Had the chunk been read as commands, this would be "250 2.1.0" (MAIL).
    assert noop.code == 250 and noop.enhanced == "2.0.0", noop
    rcpt = c.reply()
    assert rcpt.code == 503, "RCPT must fail: the MAIL in the chunk was not a command: %r" % rcpt
    c.read_nothing(0.5)
    c.quit()


def test_bdat_without_rcpt_chunk_not_executed(shared_server):
    c = shared_server.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    chunk = b"RCPT TO:<bob@example.test>\r\nDATA\r\n"
    c.send(bdat(chunk) + b"NOOP\r\n")
    err = c.reply()
    assert err.code in (503, 554), err
    noop = c.reply()
    assert noop.code == 250 and noop.enhanced == "2.0.0", noop
    c.read_nothing(0.5)
    c.quit()


def test_data_after_bdat_refused(shared_server):
    c = shared_server.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.send(bdat(b"Subject: x\r\n\r\n"))
    assert c.reply().code == 250
    r = c.cmd("DATA")
    assert r.code == 503, r
    # Abort: RSET works and no message appears.
    c.expect("RSET", 250)
    c.quit()


def test_bdat_bad_arguments(shared_server):
    """A malformed BDAT gets 501; since the chunk size is then unknown the
    server may keep the session or drop it, but it never hangs or crashes."""
    srv = shared_server
    for bad in (b"BDAT\r\n", b"BDAT -5\r\n", b"BDAT abc\r\n", b"BDAT 5 FIRST\r\n",
                b"BDAT 99999999999999999999999 LAST\r\n", b"BDAT 0x10\r\n"):
        c = srv.client()
        c.ehlo()
        c.expect("MAIL FROM:<alice@sender.test>", 250)
        c.expect("RCPT TO:<bob@example.test>", 250)
        c.send(bad)
        r = c.reply()
        assert r.code in (501, 503, 552, 554, 500), (bad, r)
        try:
            c.send(b"NOOP\r\n")
            r = c.reply(timeout=5)
            assert r.code == 250, (bad, r)
        except socket.timeout:
            raise AssertionError("no reply and no close after %r" % bad)
        except (OSError, conftest.SMTPError):
            pass  # connection dropped: acceptable
        c.close()
    assert srv.alive()
    c = srv.client()
    c.ehlo()
    c.quit()


def test_fifty_pipelined_messages_then_half_close(shared_server):
    """50 transactions and QUIT in one write, then shutdown(SHUT_WR): the
    server answers every command before closing (EOF is not an abort of
    what was already received)."""
    srv = shared_server
    run = token()[:10]
    blob = b""
    for i in range(50):
        blob += (b"MAIL FROM:<alice@sender.test>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\n"
                 + dot_stuff(simple_message("%s-%02d" % (run, i))) + b".\r\n")
    blob += b"QUIT\r\n"
    c = srv.client()
    c.ehlo()
    c.send(blob)
    c.sock.shutdown(socket.SHUT_WR)
    data = c.read_eof(timeout=30)
    lines = data.split(b"\r\n")
    assert sum(1 for l in lines if l.startswith(b"250 2.0.0 Ok: queued as")) == 50, data[-500:]
    assert lines[-2].startswith(b"221"), lines[-3:]
    c.close()

    def all_in():
        n = sum(1 for f in srv.mail_files("carol") if run.encode() in f.read_bytes())
        return n >= 50
    conftest.wait_until(all_in, 20, what="50 pipelined messages delivered")


def test_rset_between_bdat_chunks(shared_server):
    srv = shared_server
    t = token()
    c = srv.client()
    c.ehlo()
    c.send(b"MAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\n"
           + bdat(b"Subject: " + t.encode() + b"\r\n") + b"RSET\r\n"
           + bdat(b"abc", last=True) + b"NOOP\r\n")
    rs = c.replies(6)
    codes = [r.code for r in rs]
    assert codes[:4] == [250, 250, 250, 250], rs
    assert codes[4] in (503, 554), "BDAT LAST after RSET must fail: %r" % rs
    assert rs[5].code == 250 and rs[5].enhanced == "2.0.0", rs
    c.quit()
    srv.settle()
    for f in srv.all_delivered_files():
        assert t.encode() not in f.read_bytes()


def test_helo_instead_of_ehlo(shared_server):
    srv = shared_server
    t = token()
    c = srv.client()
    r = c.cmd("MAIL FROM:<alice@sender.test>")
    assert r.code == 503, r
    r = c.cmd("HELO old.test")
    assert r.code == 250 and len(r.lines) == 1, r
    queue_id(c.send_mail("alice@sender.test", ["bob@example.test"], simple_message(t)))
    c.quit()
    raw = srv.wait_for_mail("bob", token=t)[0].read_bytes()
    assert b"Received: from old.test (" in raw and b") with SMTP id " in raw, raw[:400]
