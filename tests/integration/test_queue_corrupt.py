"""Damaged queue files and queue ids from outside (issue 19 items 2 and 4;
SPEC 1 `postern queue`, SPEC 7.1 alert kind queue_corrupt).

Messages that got their 250 are kept in the queue by a relay host that
answers 451 to every RCPT (`deferred`); the server is stopped, their files
are damaged in each way a disk or a person can (cut short, zeroed, random
bytes, one byte flipped in the message or in the envelope, one byte left),
and the server started again. Each damaged file must be moved unaltered to
queue/corrupt/, logged (event=error ... id=ID and event=alert
kind=queue_corrupt, plus the alert mail), listed as corrupt, and `postern
queue salvage ID` must re-queue the envelope and the message up to the
damage (then delivered with an X-Postern-Salvaged header) or say why
nothing can be saved (exit 1), leaving the quarantined file in place.

Queue ids from the command line and from the control socket name files:
`../../victim.txt`, `/etc/passwd`, `a/b`, an empty or an overlong id are
refused with exit 1 (or an error reply) before anything is touched, with
and without a running server.
"""

import os
import random
import re
import socket
import uuid

import pytest

from conftest import token, free_port, queue_id, simple_message, wait_until
from smtpsink import SMTPSink

SINK_IP = "127.0.1.225"
TEMPFAIL = "451 4.3.0 try later"



@pytest.fixture
def sink():
    s = SMTPSink(SINK_IP, free_port(SINK_IP)).start()
    yield s
    s.stop()
    assert not s.errors, "sink errors: %r" % s.errors


def relay_server(make_server, sink):
    """A server that relays for 127.0.0.0/8 through the sink."""
    return make_server(config={
        "trusted_networks": "127.0.0.0/8",
        "relayhost": "%s:%d" % (SINK_IP, sink.port),
    })


def body_lines(t, n):
    """n numbered lines of 70 octets: a damaged byte's line is known."""
    return ["line %04d %s %s" % (i, t, "x" * 38) for i in range(n)]


def send(srv, rcpts, msg):
    c = srv.client()
    c.ehlo("client.test")
    qid = queue_id(c.send_mail("alice@sender.test", rcpts, msg))
    c.quit()
    return qid


def queue_file(srv, qid):
    return srv.data_dir / "queue" / qid


def corrupt_dir(srv):
    return srv.data_dir / "queue" / "corrupt"


def quarantined(srv, qid):
    d = corrupt_dir(srv)
    if not d.is_dir():
        return []
    return [p for p in d.iterdir() if re.fullmatch(re.escape(qid) + r"(\.\d+)?", p.name)]


def envelope_end(raw):
    """Offset of the message inside a queue file (after the blank line)."""
    return raw.index(b"\n\n") + 2


def listed(srv):
    """`postern queue list`: {id: its first line}."""
    out = srv.cli("queue", "list").stdout
    return {m.group(1): m.group(0) for m in re.finditer(r"^([0-9A-F]{16})\s.*$", out, re.M)}


def flip(raw, pos):
    b = bytearray(raw)
    b[pos] ^= 0x20
    return bytes(b)


# Each damage: (name, function of the file's bytes, salvage possible?)
DAMAGES = [
    ("truncated", lambda raw: raw[:envelope_end(raw) + (len(raw) - envelope_end(raw)) * 2 // 3], True),
    ("zeroed", lambda raw: b"\0" * len(raw), False),
    ("random", lambda raw: random.Random(19).randbytes(len(raw)), False),
    ("flipped_message", lambda raw: flip(raw, envelope_end(raw) + 3000), True),
    ("flipped_envelope", lambda raw: flip(raw, raw.index(b"\nrcpt ") + 8), False),
    ("one_byte", lambda raw: raw[:1], False),
]


def test_corrupt_queue_files_are_quarantined_listed_and_salvaged(make_server, sink):
    sink.script("rcpt", TEMPFAIL)
    srv = relay_server(make_server, sink)
    msgs = {}
    for name, _, _ in DAMAGES + [("intact", None, None)]:
        t = token()
        msg = simple_message(t, subject=name, body_lines=body_lines(t, 80))
        rcpt = "%s-%s@remote.test" % (name.replace("_", "-"), t[:6])
        qid = send(srv, [rcpt], msg)
        msgs[name] = (qid, t, msg, rcpt)
    for qid, _, _, _ in msgs.values():
        srv.wait_for_log("deferred", id=qid)
    assert srv.stop() == 0

    damaged = {}
    for name, damage, _ in DAMAGES:
        qid = msgs[name][0]
        raw = queue_file(srv, qid).read_bytes()
        assert msgs[name][2].split(b"\r\n")[0] in raw, "message not in its queue file"
        bad = damage(raw)
        assert bad != raw
        queue_file(srv, qid).write_bytes(bad)
        damaged[name] = bad

    srv.start()
    for name, _, _ in DAMAGES:
        qid = msgs[name][0]
        # moved, unaltered, never deleted
        assert not queue_file(srv, qid).exists(), "%s: still in queue/" % name
        q = quarantined(srv, qid)
        assert len(q) == 1, "%s: not in queue/corrupt/: %r" % (
            name, os.listdir(corrupt_dir(srv)) if corrupt_dir(srv).is_dir() else "no such directory")
        assert q[0].read_bytes() == damaged[name], "%s: quarantined file altered" % name
        errs = [e for e in srv.events("error", id=qid) if e.get("reason")]
        assert errs, "%s: no event=error reason=... id=%s" % (name, qid)
        assert srv.events("alert", kind="queue_corrupt", id=qid), "%s: no alert" % name
    # the intact message is untouched and still queued
    intact = msgs["intact"][0]
    assert queue_file(srv, intact).exists()
    assert not quarantined(srv, intact)
    assert not srv.events("error", id=intact)
    # the alert mail (one per alert_window for this kind)
    def alert_mail():
        for raw in srv.messages("postmaster"):
            if b"queue_corrupt" in raw:
                return raw
        return None
    raw = wait_until(alert_mail, 10, what="queue_corrupt alert mail for postmaster")
    assert b"postern queue salvage" in raw

    lst = listed(srv)
    for name, _, _ in DAMAGES:
        qid = msgs[name][0]
        assert qid in lst and "corrupt" in lst[qid], "%s: not listed as corrupt: %r" % (name, lst)
    assert intact in lst and "corrupt" not in lst[intact], lst

    # salvage, with the server running (the control socket)
    new_ids = {}
    for name, _, possible in DAMAGES:
        qid = msgs[name][0]
        r = srv.cli("queue", "salvage", qid, check=False)
        if possible:
            assert r.returncode == 0, "%s: %s%s" % (name, r.stdout, r.stderr)
            m = re.search(r"salvaged as ([0-9A-F]{16})", r.stdout)
            assert m, r.stdout
            new_ids[name] = m.group(1)
        else:
            assert r.returncode == 1, "%s: exit %d: %s%s" % (name, r.returncode, r.stdout, r.stderr)
            assert r.stderr.strip(), "%s: no reason given" % name
        # the quarantined file stays, as it was
        assert quarantined(srv, qid)[0].read_bytes() == damaged[name], name
    # once only: a second salvage queues nothing more
    r = srv.cli("queue", "salvage", msgs["truncated"][0])
    assert new_ids["truncated"] in r.stdout and "before" in r.stdout, r.stdout

    # the salvaged messages are delivered normally once the relay accepts
    # (their first try, started at salvage, met the 451 first)
    for new in new_ids.values():
        srv.wait_for_log("deferred", id=new)
    sink.clear_script()
    srv.cli("queue", "flush")
    for name, new in new_ids.items():
        srv.wait_for_log("delivered", id=new, timeout=15)
    got = {}
    for tx in sink.transactions:
        if tx.accepted and tx.data and b"X-Postern-Salvaged:" in tx.data:
            got[tx.rcpts[0]] = tx.data
    for name, new in new_ids.items():
        _, t, msg, rcpt = msgs[name]
        data = got.get(rcpt)
        assert data is not None, "%s: salvaged message not delivered to %s" % (name, rcpt)
        head, _, rest = data.partition(b"\r\n\tmessage ")
        assert msgs[name][0].encode() in head, head
        stored = rest.split(b"\r\n", 1)[1]
        # as queued: our Received line, then the message up to the
        # damage, whole lines, nothing after it
        assert stored.startswith(b"Received: "), stored[:200]
        kept = stored.split(b"\r\n", 1)[1]
        assert kept and msg.startswith(kept), "%s: not a prefix of the original" % name
        assert kept.endswith(b"\r\n")
        assert len(kept) < len(msg), "%s: the damaged part was delivered" % name
        assert ("line 0000 %s" % t).encode() in kept, name
        if name == "flipped_message":
            # the flipped octet was 3000 octets into the queued message
            assert len(stored) <= 3000, len(stored)


def test_salvage_offline_and_nothing_to_salvage(make_server, sink):
    """Without a running server salvage writes the queue file itself; the
    next start delivers it. Unknown and not-quarantined ids exit 1."""
    sink.script("rcpt", TEMPFAIL)
    srv = relay_server(make_server, sink)
    t = token()
    msg = simple_message(t, body_lines=body_lines(t, 40))
    rcpt = "off-%s@remote.test" % t[:6]
    qid = send(srv, [rcpt], msg)
    t2 = token()
    other = send(srv, ["keep-%s@remote.test" % t2[:6]], simple_message(t2))
    srv.wait_for_log("deferred", id=qid)
    srv.wait_for_log("deferred", id=other)
    assert srv.stop() == 0
    raw = queue_file(srv, qid).read_bytes()
    queue_file(srv, qid).write_bytes(raw[:len(raw) - 100])    # the trailer and some more
    srv.start()
    srv.wait_for_log("alert", kind="queue_corrupt", id=qid)
    assert srv.stop() == 0

    r = srv.cli("queue", "salvage", qid)
    new = re.search(r"salvaged as ([0-9A-F]{16})", r.stdout).group(1)
    assert queue_file(srv, new).exists()
    assert quarantined(srv, qid)
    # a message in the queue that loads is not salvaged; an unknown id neither
    r = srv.cli("queue", "salvage", other, check=False)
    assert r.returncode == 1 and "not quarantined" in r.stderr, r.stderr
    r = srv.cli("queue", "salvage", "0123456789ABCDEF", check=False)
    assert r.returncode == 1 and "no quarantined message" in r.stderr, r.stderr

    sink.clear_script()
    srv.start()
    srv.wait_for_log("delivered", id=new, timeout=15)
    tx = [x for x in sink.transactions if x.accepted and rcpt in x.rcpts]
    assert tx and b"X-Postern-Salvaged:" in tx[-1].data
    assert ("line 0000 %s" % t).encode() in tx[-1].data


def test_damaged_state_file_loses_no_recipient(make_server, sink):
    """A damaged .state falls back to every recipient pending (logged): the
    recipient still due gets the message, one served may get a second copy,
    none is lost."""
    srv = relay_server(make_server, sink)
    t = token()
    done, due = "done-%s@remote.test" % t[:6], "due-%s@remote.test" % t[:6]
    sink.rcpt_replies[due] = TEMPFAIL
    qid = send(srv, [done, due], simple_message(t))
    srv.wait_for_log("deferred", id=qid)
    assert srv.stop() == 0
    state = srv.data_dir / "queue" / (qid + ".state")
    raw = state.read_bytes()
    assert b"delivered" in raw, raw
    # the recipient already served becomes the one due, if read as is
    state.write_bytes(raw.replace(b"0 delivered", b"1 delivered", 1).replace(b"1 pending", b"0 pending", 1))
    srv.start()
    ev = srv.wait_for_log("error", id=qid)[-1]
    assert "state" in ev.get("reason", ""), ev
    assert queue_file(srv, qid).exists() and not quarantined(srv, qid)
    # set aside for whoever wants to look, not read again
    assert [p for p in corrupt_dir(srv).iterdir() if qid in p.name and "state" in p.name]
    # every recipient pending: both tried again at start (due still refused)
    srv.wait_for_log("deferred", id=qid, count=2)
    assert len(srv.events("delivered", id=qid, rcpt=done)) == 2, "the fallback is all pending"
    del sink.rcpt_replies[due]
    srv.cli("queue", "flush")
    wait_until(lambda: any(due in x.rcpts and x.accepted for x in sink.transactions), 15,
               what="delivery to the recipient still due")


BAD_IDS = ["../../victim.txt", "/etc/passwd", "a/b", "", "0" * 300,
           "0123456789ABCDE", "0123456789ABCDEF/../../../victim.txt", "..", "0123456789abcdef"]
VERBS = ["delete", "hold", "release", "salvage"]


def make_victim(srv):
    """A file outside the queue that ../../victim.txt reaches from
    data_dir/queue/, with the .state a queue delete would take too."""
    victim = srv.dir / "victim.txt"
    victim.write_text("precious\n")
    (srv.dir / "victim.txt.state").write_text("precious state\n")
    return victim


def victim_intact(srv, victim):
    assert victim.read_text() == "precious\n", "victim changed"
    assert (srv.dir / "victim.txt.state").read_text() == "precious state\n", "victim.state changed"


def control(srv, line):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(srv.data_dir / "control"))
    s.sendall(line.encode() + b"\n")
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    s.close()
    return reply.decode(errors="replace").strip()


def test_queue_ids_that_name_other_files_are_refused(make_server):
    srv = make_server(start=False)
    (srv.data_dir / "queue").mkdir(parents=True, exist_ok=True)
    victim = make_victim(srv)
    # without a server: the files would be edited directly
    for bad in BAD_IDS:
        for verb in VERBS:
            r = srv.cli("queue", verb, bad, check=False)
            assert r.returncode == 1, "%s %r: exit %d %s%s" % (verb, bad, r.returncode, r.stdout, r.stderr)
            assert "not a queue ID" in r.stderr, "%s %r: %s" % (verb, bad, r.stderr)
            victim_intact(srv, victim)

    srv.start()
    for bad in BAD_IDS:
        for verb in VERBS:
            r = srv.cli("queue", verb, bad, check=False)
            assert r.returncode == 1 and "not a queue ID" in r.stderr, (verb, bad, r.stderr)
            victim_intact(srv, victim)
    # the control socket checks for itself, whoever talks to it
    for bad in BAD_IDS:
        if len(bad) > 200:
            bad = bad[:200]
        for verb in VERBS:
            reply = control(srv, "%s %s" % (verb, bad))
            assert reply.startswith("error") and "not a queue ID" in reply, (verb, bad, reply)
            victim_intact(srv, victim)
    for line in ["delete", "hold", "salvage ", "delete  0123456789ABCDEF"]:
        reply = control(srv, line)
        assert reply.startswith("error"), (line, reply)
    assert srv.alive()
    victim_intact(srv, victim)
