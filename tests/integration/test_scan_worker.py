"""The content scan's computation runs on a worker thread (issue 18): many
sessions at once get the verdicts, scores and headers they get one at a
time, also while the configuration is reloaded (SIGHUP) and the
classifier's table replaced under them; a client that goes away while
its message is being scanned, and a stop (SIGTERM) while scans are on the
worker, lose or duplicate nothing: a message is delivered exactly when
its 250 was sent. Run against the ASan build (POSTERN_BIN) these are the
tests that would show a worker reading freed memory."""

import random
import re
import signal
import socket
import struct
import threading
import time

import pytest

from conftest import DOMAIN, SLOW, Server, queue_id, token, wait_until
from dnsfixture import Unbound

BOB = "bob@" + DOMAIN
SPAM_WORDS = ("exclusive pharmacy discount cheap meds order viagra tonight guaranteed "
              "lowest prices worldwide shipping")
HAM_WORDS = ("quarterly project meeting agenda minutes review schedule budget "
             "deliverables roadmap milestones")
SOURCE = "127.0.0.50"

# kind -> (From:, Subject:, extra headers, body); each message adds its token
KINDS = {
    "clean": ("alice@remote.test", "lunch", "",
              "Lunch at noon? See https://www.remote.test/menu"),
    "junk_url": ("alice@remote.test", "offer", "",
                 "Cheap pills at http://www.badspam.example/buy now"),
    "reject": ("alice@remote.test", "bank", "Content-Type: text/html\r\n",
               '<html><a href="http://login.phish.test/x">bank</a> '
               '<img src="http://spam-sender.test/p.gif"> malware.example</html>'),
    "bayes_spam": ("promo@deals.test", "exclusive", "", SPAM_WORDS),
    "bayes_ham": ("colleague@work.test", "quarterly", "", HAM_WORDS),
}


def message(kind, t):
    sender, subject, extra, body = KINDS[kind]
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s %s\r\n"
            "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@%s>\r\n%s\r\n"
            "%s\r\n%s\r\n" % (sender, BOB, subject, t, t, sender.split("@")[1], extra, body, t))


def learn_message(kind, t):
    return message(kind, t).encode()


def send(srv, kind, t):
    """One session, one message: (code, queue id or None)."""
    c = srv.client(source=SOURCE, timeout=30 * SLOW)
    c.expect("EHLO client.test", 250)
    c.expect("MAIL FROM:<%s>" % KINDS[kind][0], 250)
    c.expect("RCPT TO:<%s>" % BOB, 250)
    c.expect("DATA", 354)
    c.send(message(kind, t).replace("\r\n.", "\r\n..") + ".\r\n")
    r = c.reply()
    c.cmd("QUIT")
    c.close()
    return r.code, (queue_id(r) if r.code == 250 else None)


def header(text, name):
    m = re.search(r"^%s: (.*(?:\r?\n[ \t].*)*)" % re.escape(name), text, re.M)
    return re.sub(r"\s+", " ", m.group(1)).strip() if m else None


def outcomes(srv, results, loose_bayes=False):
    """What each message became: its reply, verdict, score, symbols and
    the headers the scan added (X-Spam-*), read from the log and the
    mailbox once for all. loose_bayes: the classifier's probability left
    out (it moves while messages are learned)."""
    want = {qid for _, _, code, qid in results if code == 250}
    accepted = {}

    def logged():
        accepted.clear()
        accepted.update({e.get("id"): e for e in srv.events("accepted")})
        return want <= set(accepted)
    wait_until(logged, 30 * SLOW, what="accepted events of %d messages" % len(want))
    srv.settle(30 * SLOW)
    files = {}
    for f in srv.all_delivered_files():
        head = f.read_bytes()[:8192].decode(errors="replace")
        m = re.search(r"^Message-ID: <([^@>]+)@", head, re.M)
        if m:
            files.setdefault(m.group(1), []).append((f, head))
    out = []
    for kind, t, code, qid in results:
        if code != 250:
            out.append((code,))
            continue
        ev = accepted[qid]
        folder = ".Junk" if ev["verdict"] == "junk" else ""
        got = files.get(t, [])
        assert len(got) == 1, (t, got)
        f, head = got[0]
        assert f.parent.parent.name == (folder or "bob"), f
        heads = tuple(header(head, h) for h in ("X-Spam-Score", "X-Spam-Status"))
        if loose_bayes:
            heads = tuple(re.sub(r"(BAYES_\w+)\([0-9.]+\)", r"\1", h or "") for h in heads)
        out.append((code, ev["verdict"], ev["score"], ev["symbols"], folder, heads))
    return out


@pytest.fixture(scope="module")
def unbound(tmp_path_factory):
    u = Unbound(tmp_path_factory.mktemp("unbound")).start()
    yield u
    u.stop()


def trained_server(directory, unbound):
    srv = Server(directory, config={"dns_servers": unbound.address, "dnsbl_timeout": "5s",
                                    "bayes_min_learned": "3", "max_connections_per_ip": "200"})
    for i in range(3):
        srv.cli("learn", "spam", stdin=message("bayes_spam", "learn-s%d" % i))
        srv.cli("learn", "ham", stdin=message("bayes_ham", "learn-h%d" % i))
    return srv


@pytest.fixture(scope="module")
def srv(tmp_path_factory, unbound):
    s = trained_server(tmp_path_factory.mktemp("worker"), unbound)
    s.start()
    yield s
    s.teardown()


@pytest.fixture(scope="module")
def reference(srv):
    """Each kind sent alone, one session at a time."""
    results = []
    for kind in KINDS:
        t = "ref-%s-%s" % (kind, token(8))
        results.append((kind, t) + send(srv, kind, t))
    out = dict(zip(KINDS, outcomes(srv, results)))
    assert out["clean"][1] == "inbox" and out["junk_url"][1] == "junk", out
    assert out["reject"] == (550,), out
    assert "BAYES_SPAM" in out["bayes_spam"][3] and "BAYES_HAM" in out["bayes_ham"][3], out
    return out


def parallel(srv, threads, per_thread, prefix):
    """threads sessions at a time, each kind per_thread times per thread in a
    random order; returns [(kind, token, code, qid)]."""
    results, errors = [], []
    lock = threading.Lock()

    def worker(n):
        kinds = list(KINDS) * per_thread
        random.Random(n).shuffle(kinds)
        try:
            for i, kind in enumerate(kinds):
                t = "%s-%d-%d-%s" % (prefix, n, i, token(6))
                code, qid = send(srv, kind, t)
                with lock:
                    results.append((kind, t, code, qid))
        except Exception as e:  # reported below, with the others
            with lock:
                errors.append(repr(e))
    ts = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join(120 * SLOW)
    assert not errors, errors[:5]
    assert len(results) == threads * per_thread * len(KINDS)
    return results


def check_same(srv, results, reference, loose_bayes=False):
    wrong = []
    for (kind, t, _, _), got in zip(results, outcomes(srv, results, loose_bayes)):
        want = reference[kind]
        if loose_bayes and len(want) > 1:
            want = want[:5] + (tuple(re.sub(r"(BAYES_\w+)\([0-9.]+\)", r"\1", h or "")
                                     for h in want[5]),)
        if got != want:
            wrong.append((kind, t, got, want))
    assert not wrong, "%d of %d differ from the message sent alone, e.g. %r" % (
        len(wrong), len(results), wrong[:3])


def test_parallel_sessions_get_the_verdicts_of_one_at_a_time(srv, reference):
    results = parallel(srv, threads=12, per_thread=2, prefix="par")
    check_same(srv, results, reference)
    assert srv.alive()


def test_reload_and_new_classifier_table_during_scans(srv, reference):
    """SIGHUP frees the old configuration and `postern learn` makes the
    server load a new table and drop the old one, both while scans run on
    the worker: the verdicts stay those of a quiet server."""
    stop = threading.Event()
    reloads_before = len(srv.events("reload"))
    loads_before = len(srv.events("bayes", status="loaded"))
    done = {"learned": 0, "failed": []}

    def churn():
        i = 0
        while not stop.is_set():
            srv.signal(signal.SIGHUP)
            kind = "bayes_spam" if i % 2 == 0 else "bayes_ham"
            r = srv.cli("learn", "spam" if kind == "bayes_spam" else "ham",
                        stdin=message(kind, "churn-%d-%s" % (i, token(6))), check=False)
            if r.returncode == 0:
                done["learned"] += 1
            else:
                done["failed"].append(r.stderr)
            i += 1
            time.sleep(0.15)
    big = {}
    body = big_body(1)

    def send_big(n):
        # long scans keep the worker busy (and an old table in use)
        # while loads replace it
        i = 0
        while not stop.is_set():
            t = "churnbig-%d-%d-%s" % (n, i, token(6))
            c = open_data(srv)
            c.send(big_message(t, body=body).encode() + b".\r\n")
            big[t] = c.reply().code
            c.cmd("QUIT")
            c.close()
            i += 1
    ths = [threading.Thread(target=churn)] + [
        threading.Thread(target=send_big, args=(n,)) for n in range(2)]
    for th in ths:
        th.start()
    try:
        # churn until the table was replaced a few times (a load a
        # second at most)
        deadline = time.monotonic() + 30 * SLOW
        results = []
        while True:
            results += parallel(srv, threads=8, per_thread=1, prefix="churn%d" % len(results))
            if ((len(srv.events("bayes", status="loaded")) >= loads_before + 4
                    and len(srv.events("reload")) >= reloads_before + 3)
                    or time.monotonic() > deadline):
                break
    finally:
        stop.set()
        for th in ths:
            th.join(60 * SLOW)
    assert not done["failed"], done["failed"][:3]
    assert len(srv.events("reload")) >= reloads_before + 3
    assert len(srv.events("bayes", status="loaded")) >= loads_before + 1, \
        "the classifier's table was not replaced during the test"
    check_same(srv, results, reference, loose_bayes=True)
    assert big and set(big.values()) == {250}, big
    srv.settle(30 * SLOW)
    for t in big:
        assert delivered_count(srv, t) == 1, t
    assert srv.alive()


def big_body(mib):
    """Lines of words and URLs: a message whose scan takes a while."""
    rnd = random.Random(mib)
    lines, size, i = [], 0, 0
    while size < mib * 1024 * 1024:
        line = " ".join("w%d" % rnd.randrange(100000) for _ in range(8))
        line += " http://h%d.site%d.test/p\r\n" % (i, i % 40)
        lines.append(line)
        size += len(line)
        i += 1
    return "".join(lines)


def big_message(t, mib=3, body=None):
    return ("From: <alice@remote.test>\r\nTo: <%s>\r\nSubject: big %s\r\n"
            "Date: Sat, 28 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@remote.test>\r\n\r\n"
            "%s\r\n%s\r\n" % (BOB, t, t, t, body if body is not None else big_body(mib)))


def open_data(srv):
    c = srv.client(source=SOURCE, timeout=60 * SLOW)
    c.expect("EHLO client.test", 250)
    c.expect("MAIL FROM:<alice@remote.test>", 250)
    c.expect("RCPT TO:<%s>" % BOB, 250)
    c.expect("DATA", 354)
    return c


def delivered_count(srv, t):
    return sum(1 for f in srv.all_delivered_files() if t.encode() in f.read_bytes()[:4096])


def test_client_gone_while_its_message_is_scanned(srv, reference):
    """Clients send big messages and reset the connection right after the
    final dot, while others wait for their verdicts. A session does not
    read while its message is scanned, so it learns of the reset when its
    reply is written, as before the worker: the server goes on, the
    others' verdicts are right, and a message whose client left is
    delivered at most once."""
    gone = ["gone-%d-%s" % (i, token(6)) for i in range(6)]
    bodies = {t: big_message(t).encode() for t in gone}
    disconnects = len(srv.events("disconnect"))
    errors = []

    def leave(t):
        try:
            c = open_data(srv)
            c.send(bodies[t] + b".\r\n")
            # RST, not FIN: the 250 (if one comes) finds no one
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.sock.close()
        except Exception as e:
            errors.append(repr(e))
    ts = [threading.Thread(target=leave, args=(t,)) for t in gone]
    for th in ts:
        th.start()
    results = parallel(srv, threads=4, per_thread=1, prefix="stay")
    for th in ts:
        th.join(60 * SLOW)
    assert not errors, errors
    check_same(srv, results, reference)
    wait_until(lambda: len(srv.events("disconnect")) >= disconnects + len(gone) + len(results),
               30 * SLOW, what="the gone clients' sessions ended")
    srv.settle(30 * SLOW)
    for t in gone:
        assert delivered_count(srv, t) <= 1, t
    assert srv.alive()
    srv.check_no_crash()


def test_stop_while_scans_are_on_the_worker(tmp_path, unbound):
    """SIGTERM while big messages wait for or run on the worker (sent at
    once, the signal comes with the first reply, so the others are
    queued behind it): each client gets 250 or 421; after a restart every
    250'd message is delivered exactly once and no 421'd one at all."""
    srv = trained_server(tmp_path / "stop", unbound)
    srv.start()
    try:
        n = 8
        body = big_body(2)
        toks = ["stop-%d-%s" % (i, token(6)) for i in range(n)]
        clients = {t: open_data(srv) for t in toks}
        replies, errors = {}, []
        first = threading.Event()

        def finish(t):
            c = clients[t]
            try:
                c.send(big_message(t, body=body).encode() + b".\r\n")
                replies[t] = c.reply().code
            except Exception as e:
                errors.append(repr(e))
            first.set()
        ts = [threading.Thread(target=finish, args=(t,)) for t in toks]
        for th in ts:
            th.start()
        assert first.wait(60 * SLOW)
        srv.signal(signal.SIGTERM)
        for th in ts:
            th.join(60 * SLOW)
        assert not errors, errors
        assert srv.proc.wait(30 * SLOW) == 0, srv.stderr_text()[-4000:]
        srv.check_no_crash()
        assert set(replies.values()) <= {250, 421}, replies
        srv.start()
        srv.settle(30 * SLOW)
        for t, code in replies.items():
            want = 1 if code == 250 else 0
            if want:
                srv.wait_for_mail("bob", token=t, timeout=20 * SLOW)
            assert delivered_count(srv, t) == want, (t, code)
    finally:
        srv.teardown()
