"""Malformed input: long lines, bare LF, garbage, binary, error limit."""

import random
import socket
import uuid

import pytest

import conftest
from conftest import token, queue_id, simple_message



def deliver_one(srv):
    t = token()
    c = srv.client()
    c.ehlo()
    queue_id(c.send_mail("alice@sender.test", ["bob@example.test"], simple_message(t)))
    c.quit()
    srv.wait_for_mail("bob", token=t)


def test_overlong_command_line(shared_server):
    srv = shared_server
    c = srv.client()
    c.ehlo()
    c.send(b"NOOP " + b"A" * 1100 + b"\r\n")
    r = c.reply()
    # SPEC 3: 5.5.2 for a command line; X.5.6 only inside AUTH (RFC 4954)
    assert r.code == 500 and r.enhanced == "5.5.2", r
    # The rest of the long line is not read as another command.
    c.send(b"NOOP\r\n")
    r = c.reply()
    assert r.code == 250, r
    c.read_nothing(0.3)
    # A long MAIL FROM too.
    c.send(b"MAIL FROM:<" + b"a" * 2000 + b"@sender.test>\r\n")
    r = c.reply()
    assert r.code == 500 and r.enhanced == "5.5.2", r
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.quit()


def test_huge_line_without_newline_is_bounded(shared_server):
    """1 MB with no line end: the server answers (or closes), it does not
    buffer forever, and keeps serving others."""
    srv = shared_server
    c = srv.client()
    c.ehlo()
    try:
        c.send(b"X" * (1 << 20))
        c.send(b"\r\nNOOP\r\n")
        r = c.reply(timeout=10)
        assert r.code in (500, 421), r
    except (ConnectionResetError, BrokenPipeError, conftest.SMTPError):
        pass  # the server dropped the connection: acceptable
    c.close()
    deliver_one(srv)


def test_bare_lf_in_command(shared_server):
    c = shared_server.client()
    c.send(b"EHLO client.test\n")
    r = c.reply()
    assert r.code == 500 and r.enhanced == "5.5.2", r
    c.ehlo()
    # Bare LF in the middle of a command line must not split it in two.
    c.send(b"NOOP\nMAIL FROM:<evil@x.test>\r\n")
    r = c.reply()
    assert r.code == 500, r
    c.send(b"RCPT TO:<bob@example.test>\r\n")
    r = c.reply()
    assert r.code == 503, "MAIL after bare LF was executed: %r" % r
    # Bare CR likewise.
    c.send(b"NOOP\rMAIL FROM:<evil@x.test>\r\n")
    r = c.reply()
    assert r.code in (500, 501), r
    c.send(b"RCPT TO:<bob@example.test>\r\n")
    r = c.reply()
    assert r.code == 503, "MAIL after bare CR was executed: %r" % r
    c.quit()


@pytest.mark.parametrize("line", [
    b"XYZZY",
    b"",
    b"   ",
    b"MAIL",
    b"MAIL FROM:",
    b"MAIL FROM:<",
    b"MAIL FROM:<<>>",
    b"MAIL TO:<a@b.test>",
    b"RCPT",
    b"HELO",
    b"EHLO",
    b"\x00\x00\x00",
    b"NOOP\x00MAIL FROM:<a@b>",
    b"\xff\xfe\xfd\xfc",
    b"MAIL FROM:<a@b.test> SIZE=abc",
    b"MAIL FROM:<a@b.test> BODY=9BIT",
    b"MAIL FROM:<a@b.test> FOO=BAR",
    b"MAIL FROM:<a@b.test> SIZE=99999999999999999999999999",
], ids=lambda b: repr(b)[2:-1][:30] or "empty")
def test_garbage_commands(shared_server, line):
    c = shared_server.client()
    c.ehlo()
    c.send(line + b"\r\n")
    r = c.reply()
    assert 500 <= r.code < 600, (line, r)
    # Session still usable.
    c.expect("NOOP", 250)
    c.quit()


def test_random_binary_input_then_new_session_delivers(shared_server):
    srv = shared_server
    rng = random.Random(0xC0FFEE)
    for i in range(6):
        c = srv.client()
        if i % 2:
            c.ehlo()
            c.expect("MAIL FROM:<alice@sender.test>", 250)
        blob = bytes(rng.randrange(256) for _ in range(rng.randrange(200, 5000)))
        blob += b"\x00" * 16 + b"\r\n"
        try:
            c.send(blob)
            c.send(b"\r\nQUIT\r\n")
            # Error replies, then 221 or 421 and close; bounded.
            c.read_eof(timeout=10)
        except (ConnectionResetError, BrokenPipeError):
            pass
        c.close()
        assert srv.alive(), srv.stderr_text()[-3000:]
    deliver_one(srv)


def test_binary_in_data_is_not_a_crash(shared_server):
    """Random bytes (NUL included) inside DATA, properly CRLF-terminated:
    accepted or refused, but never a crash, and the session survives."""
    srv = shared_server
    rng = random.Random(1234)
    c = srv.client()
    c.ehlo()
    for _ in range(3):
        c.expect("MAIL FROM:<alice@sender.test>", 250)
        c.expect("RCPT TO:<bob@example.test>", 250)
        c.expect("DATA", 354)
        lines = []
        for _ in range(50):
            ln = bytes(rng.choice([0, 1, 0x7f, 0x80, 0xff, 0x41, 0x2e])
                       for _ in range(rng.randrange(0, 80)))
            lines.append(ln.replace(b"\r", b"").replace(b"\n", b""))
        data = b"Subject: bin\r\n\r\n" + b"\r\n".join(
            (b"." + l) if l.startswith(b".") else l for l in lines) + b"\r\n.\r\n"
        c.send(data)
        r = c.reply()
        assert r.code in (250, 550, 554), r
    c.quit()
    srv.settle()
    assert srv.alive()


def test_too_many_errors_421(server):
    srv = server
    c = srv.client()
    c.ehlo()
    codes = []
    closed = False
    for i in range(30):
        try:
            c.send(b"BOGUS%d\r\n" % i)
            r = c.reply(timeout=5)
        except (ConnectionResetError, BrokenPipeError, conftest.SMTPError):
            closed = True
            break
        codes.append(r.code)
        if r.code == 421:
            break
    assert 421 in codes, codes
    assert codes.index(421) <= 11, "421 only after %d errors: %s" % (codes.index(421), codes)
    assert all(500 <= x < 600 for x in codes[:-1]), codes
    if not closed:
        assert c.read_eof(timeout=5) == b""
    c.close()
    # And a new session is served.
    c = srv.client()
    assert c.banner.code == 220
    c.ehlo()
    c.quit()


def test_error_limit_counts_pipelined_errors(server):
    """All the errors in one write count too; 421 then close, no more replies."""
    srv = server
    c = srv.client()
    c.ehlo()
    c.send(b"BOGUS\r\n" * 40 + b"NOOP\r\n")
    data = c.read_eof(timeout=10)
    lines = data.split(b"\r\n")
    assert any(l.startswith(b"421") for l in lines), data[:500]
    i = [j for j, l in enumerate(lines) if l.startswith(b"421")][0]
    assert i <= 11, lines
    assert all(l == b"" for l in lines[i + 1:]), "replies after 421: %r" % lines[i + 1:]
    assert not any(l.startswith(b"250 2.0.0") for l in lines), lines


def test_client_disconnects_mid_data(shared_server):
    """An aborted DATA delivers nothing, leaves no half message, server fine."""
    srv = shared_server
    t = token()
    c = srv.client()
    c.ehlo()
    c.expect("MAIL FROM:<alice@sender.test>", 250)
    c.expect("RCPT TO:<carol@example.test>", 250)
    c.expect("DATA", 354)
    c.send(b"Subject: partial " + t.encode() + b"\r\n\r\nsome body\r\n")
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    deliver_one(srv)
    srv.settle()
    for f in srv.all_delivered_files():
        assert t.encode() not in f.read_bytes(), f
