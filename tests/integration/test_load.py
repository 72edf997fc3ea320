"""Many concurrent sessions, and kill -9 under load (durability of the 250)."""

import re
import threading
import time
import warnings
import uuid

import conftest
from conftest import SLOW, dot_stuff, queue_id, simple_message, wait_until

N_CONCURRENT = 200


def test_200_concurrent_sessions(make_server):
    srv = make_server(config={"max_connections": 1000, "max_connections_per_ip": 1000})
    run = uuid.uuid4().hex[:8]
    barrier = threading.Barrier(N_CONCURRENT, timeout=60 * SLOW)
    results = [None] * N_CONCURRENT
    errors = []

    def worker(i):
        c = None
        try:
            # Spread the clients over a few loopback source addresses.
            c = srv.client(timeout=60, source="127.0.0.%d" % (1 + i % 4 * 10 or 1))
            assert c.banner.code == 220, c.banner
            c.ehlo("c%d.test" % i)
            barrier.wait()  # all 200 sessions are open at this point
            tok = "%s-%03d" % (run, i)
            r = c.send_mail("alice@sender.test", ["bob@example.test"], simple_message(tok))
            results[i] = (tok, queue_id(r))
            c.quit()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("client %d: %r" % (i, e))
            try:
                barrier.abort()
            except Exception:  # noqa: BLE001
                pass
        finally:
            if c is not None:
                c.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(N_CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90 * SLOW)
    assert not any(t.is_alive() for t in threads), "clients still running"
    assert not errors, "\n".join(errors[:10])
    ids = [r[1] for r in results]
    assert len(set(ids)) == N_CONCURRENT, "queue ids not unique"

    def all_there():
        files = srv.mail_files("bob")
        return len(files) >= N_CONCURRENT and files
    files = wait_until(all_there, 60, interval=0.2, what="%d deliveries" % N_CONCURRENT)
    found = set()
    for f in files:
        m = re.search(rb"Subject: test (" + run.encode() + rb"-\d{3})", f.read_bytes())
        assert m, f
        found.add(m.group(1).decode())
    assert found == {r[0] for r in results}
    assert len(files) == N_CONCURRENT, "duplicates: %d files" % len(files)
    srv.wait_for_log("delivered", count=N_CONCURRENT, timeout=30)


def test_kill9_under_load_loses_nothing_acknowledged(make_server):
    srv = make_server(config={"max_connections": 200, "max_connections_per_ip": 200})
    run = uuid.uuid4().hex[:8]
    n_threads = 8
    stop = threading.Event()
    acked = {}  # token -> queue id
    sent = set()  # every token whose DATA was (at least partly) sent
    lock = threading.Lock()
    filler = ["line %04d of filler text to make the message a few kilobytes long" % k
              for k in range(120)]

    def body_for(tok):
        return simple_message(tok, body_lines=["BEGIN " + tok] + filler + ["END " + tok])

    def worker(i):
        seq = 0
        for _ in range(200):  # sessions; bounded
            if stop.is_set():
                return
            try:
                c = srv.client(timeout=10)
                c.ehlo()
                for _ in range(500):  # messages per session; bounded
                    if stop.is_set():
                        break
                    seq += 1
                    tok = "%s-%d-%d" % (run, i, seq)
                    c.send(b"MAIL FROM:<alice@sender.test>\r\nRCPT TO:<bob@example.test>\r\n"
                           b"DATA\r\n")
                    rs = c.replies(3)
                    assert [r.code for r in rs] == [250, 250, 354], rs
                    with lock:
                        sent.add(tok)
                    c.send(dot_stuff(body_for(tok)) + b".\r\n")
                    r = c.reply()
                    qid = queue_id(r)
                    with lock:
                        acked[tok] = qid
                c.close()
            except (OSError, conftest.SMTPError):
                # The server was killed, or is not back yet.
                time.sleep(0.05)
            except AssertionError:
                time.sleep(0.05)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n_threads)]
    for t in threads:
        t.start()
    # Let some messages through, then kill -9 in the middle of the flow.
    wait_until(lambda: len(acked) >= 40, 30, what="40 acknowledged messages before the kill")
    time.sleep(0.3)
    srv.expect_crash = True
    srv.kill9()
    stop.set()
    for t in threads:
        t.join(30 * SLOW)
    assert not any(t.is_alive() for t in threads)
    with lock:
        acked_now = dict(acked)
        sent_now = set(sent)
    assert len(acked_now) >= 40

    # Restart on the same data_dir and port: the queue is recovered.
    srv.expect_crash = False
    srv.start(timeout=30)

    def tokens_delivered():
        out = {}
        for f in srv.mail_files("bob"):
            raw = f.read_bytes()
            m = re.search(rb"BEGIN (" + run.encode() + rb"-\d+-\d+)", raw)
            assert m, "delivered file without a token: %s %r" % (f, raw[:300])
            out.setdefault(m.group(1).decode(), []).append((f, raw))
        return out

    def all_acked_delivered():
        got = tokens_delivered()
        return set(acked_now) <= set(got) and got
    got = wait_until(all_acked_delivered, 60, interval=0.2,
                     what="all %d acknowledged messages delivered after restart" % len(acked_now))
    srv.settle(timeout=30)
    got = tokens_delivered()
    missing = set(acked_now) - set(got)
    assert not missing, "acknowledged but lost: %s" % sorted(missing)[:10]
    # Nothing delivered that was never sent, and every file is complete.
    for tok, items in got.items():
        assert tok in sent_now, "unknown message %s" % tok
        for f, raw in items:
            assert raw.rstrip(b"\r\n").endswith(("END " + tok).encode()), \
                "truncated delivery %s (%d bytes): ...%r" % (f, len(raw), raw[-200:])
            assert raw.count(b"BEGIN ") == 1, f
            assert dot_stuff(body_for(tok)).replace(b"\r\n", b"\n") in \
                raw.replace(b"\r\n", b"\n") or body_for(tok).split(b"\r\n\r\n", 1)[1] in raw, f
    # A crash between the Maildir rename and the queue removal may deliver a
    # message twice (at-least-once, as Postfix); not an error, but visible.
    dups = {t: len(v) for t, v in got.items() if len(v) > 1}
    if dups:
        warnings.warn("delivered more than once after kill -9: %s" % dups)
    # (A partial file may remain in tmp/: Maildir readers never look there.)
    # Queue ids of acknowledged messages were delivered under the same id.
    delivered_ids = {e.get("id") for e in srv.events("delivered")}
    lost_ids = {q for q in acked_now.values() if q not in delivered_ids}
    assert not lost_ids, "no delivered event for %s" % sorted(lost_ids)[:10]
