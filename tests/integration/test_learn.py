"""Learning from Junk moves: `postern learn` and LEARNED_SPAM / LEARNED_HAM.

A user moving a message into Junk (Dovecot runs `postern learn spam`) or
out of it (`postern learn ham`) records an opinion about its From:
address for that account; the running server applies it to the next
messages without a reload: LEARNED_SPAM (+6, Junk on its own) whatever
the authentication, LEARNED_HAM (-4) only when SPF or DKIM authenticates
the From: domain. The real IMAP move is in test_dovecot.py.
"""

import re
import uuid

import pytest

from conftest import token, DOMAIN, fake_dns, queue_id

BOB = "bob@" + DOMAIN
CAROL = "carol@" + DOMAIN
# SPF passes for loopback clients: mail From: this domain is authenticated
HAM_DOMAIN = "learn-ham.test"


@pytest.fixture(autouse=True, scope="module")
def spf_record():
    fake_dns().records[(HAM_DOMAIN, 16)] = ["v=spf1 ip4:127.0.0.0/8 -all"]
    yield
    fake_dns().records.pop((HAM_DOMAIN, 16), None)



def message(t, sender, clean=True, to=BOB):
    # clean: Date and Message-ID (score 0); else neither (1.5, over the
    # score_junk of 0.4 these tests use... or not: see junk_config)
    head = "From: Sender <%s>\r\nTo: <%s>\r\nSubject: msg %s\r\n" % (sender, to, t)
    if clean:
        head += ("Date: Sat, 28 Nov 2026 00:00:00 +0000\r\n"
                 "Message-ID: <%s@%s>\r\n" % (t, sender.split("@")[1]))
    return (head + "\r\nhello %s\r\n" % t).encode()


def send(srv, sender, rcpts, body):
    c = srv.client()
    c.ehlo("client.test")
    qid = queue_id(c.send_mail(sender, rcpts, body))
    c.quit()
    return qid


def learn(srv, verdict, body, user=None, check=True):
    args = ["learn", verdict] + (["--user", user] if user else [])
    return srv.cli(*args, stdin=body.decode(), check=check)


def accepted(srv, qid):
    return srv.wait_for_log("accepted", id=qid)[0]


@pytest.fixture
def srv(make_server):
    return make_server(users=("bob", "carol"), config={"score_junk": "1.0"})


def test_learned_spam_goes_to_junk_for_that_account_only(srv):
    sender = "news@promo.test"
    # bob moves a message from news@promo.test into Junk
    r = learn(srv, "spam", message(token(), sender), user=BOB)
    assert "news@promo.test" in r.stdout and "spam" in r.stdout, r.stdout
    listed = srv.cli("learn", "list").stdout.splitlines()
    assert len(listed) == 1 and re.match(r"^bob@example\.test news@promo\.test spam \d+$",
                                         listed[0]), listed

    # the next one to bob: Junk, with the symbol; to carol: INBOX
    t1, t2 = token(), token()
    q1 = send(srv, sender, [BOB], message(t1, sender))
    q2 = send(srv, sender, [CAROL], message(t2, sender, to=CAROL))
    ev = accepted(srv, q1)
    assert ev["verdict"] == "junk" and "LEARNED_SPAM" in ev["symbols"], ev
    assert accepted(srv, q2)["verdict"] == "inbox"
    files = srv.wait_for_mail("bob", token=t1, folder=".Junk")
    assert re.search(rb"^X-Spam-Status: Yes.*LEARNED_SPAM\(news@promo\.test\)",
                     files[0].read_bytes(), re.M | re.S)
    srv.wait_for_mail("carol", token=t2)
    # the sender's case does not matter
    q3 = send(srv, "NEWS@Promo.TEST", [BOB], message(token(), "NEWS@Promo.TEST"))
    assert accepted(srv, q3)["verdict"] == "junk"


def test_learned_ham_needs_an_authenticated_from(srv):
    good = "friend@" + HAM_DOMAIN          # SPF pass from 127.0.0.1
    forged = "friend@unauth.test"           # no SPF: not authenticated
    for sender in (good, forged):
        learn(srv, "ham", message(token(), sender), user=BOB)
    # messages without Date and Message-ID: 1.5 >= score_junk 1.0
    t1, t2 = token(), token()
    q1 = send(srv, good, [BOB], message(t1, good, clean=False))
    q2 = send(srv, forged, [BOB], message(t2, forged, clean=False))
    ev = accepted(srv, q1)
    assert "LEARNED_HAM" in ev["symbols"] and ev["verdict"] == "inbox", ev
    assert float(ev["score"]) < 0, ev
    ev = accepted(srv, q2)
    assert "LEARNED_HAM" not in ev["symbols"] and ev["verdict"] == "junk", ev
    srv.wait_for_mail("bob", token=t1)
    srv.wait_for_mail("bob", token=t2, folder=".Junk")


def test_last_move_wins_and_recipients_must_agree(srv):
    sender = "list@" + HAM_DOMAIN
    learn(srv, "spam", message(token(), sender), user=BOB)
    learn(srv, "ham", message(token(), sender), user=BOB)   # moved back out of Junk
    lines = srv.cli("learn", "list", "--user", BOB).stdout.splitlines()
    assert len(lines) == 1 and " ham " in lines[0], lines
    learn(srv, "spam", message(token(), sender), user=CAROL)
    # bob says ham, carol spam: one message, one folder -> neither applies
    q = send(srv, sender, [BOB, CAROL], message(token(), sender))
    ev = accepted(srv, q)
    assert "LEARNED" not in ev["symbols"] and ev["verdict"] == "inbox", ev
    # carol alone: spam
    q = send(srv, sender, [CAROL], message(token(), sender, to=CAROL))
    assert accepted(srv, q)["verdict"] == "junk"
    assert len(srv.cli("learn", "list").stdout.splitlines()) == 2


def test_learn_account_from_delivered_to(srv):
    # what Dovecot pipes: the stored message, with the Delivered-To of
    # its delivery, and no --user
    t = token()
    q = send(srv, "promo@shop.test", [BOB], message(t, "promo@shop.test"))
    stored = srv.wait_for_mail("bob", token=t)[0].read_bytes()
    assert stored.startswith(b"Return-Path: <promo@shop.test>\r\nDelivered-To: " + BOB.encode())
    r = learn(srv, "spam", stored)
    assert BOB in r.stdout, r.stdout
    assert srv.cli("learn", "list", "--user", BOB).stdout.startswith(
        BOB + " promo@shop.test spam ")
    assert accepted(srv, q)["verdict"] == "inbox"
    # what Dovecot's LMTP writes for mail filed into Junk: local+Junk@
    other = message(token(), "deals@shop.test").replace(
        b"From:", b"Delivered-To: bob+Junk@example.test\r\nFrom:", 1)
    assert BOB in learn(srv, "spam", other).stdout
    assert " deals@shop.test spam " in srv.cli("learn", "list", "--user", BOB).stdout


def test_learn_bad_input(srv):
    ok = message(token(), "x@y.test")
    cases = [
        (["learn", "spam", "--user", "nobody@" + DOMAIN], ok, 1, "not an account"),
        (["learn", "spam", "--user", "not an address"], ok, 1, ""),
        # SPEC 13: without an account (or a From:) only the classifier
        # learns the message: said, and not a failure of the move
        (["learn", "spam"], ok, 0, "Delivered-To"),
        (["learn", "ham", "--user", BOB], b"Subject: no from\r\n\r\nbody\r\n", 0, "From:"),
        (["learn", "maybe", "--user", BOB], ok, 2, "usage"),
        (["learn"], ok, 2, "usage"),
        (["learn", "spam", "/nonexistent/file", "--user", BOB], ok, 1, "cannot read"),
    ]
    for args, body, code, text in cases:
        r = srv.cli(*args, stdin=body.decode(), check=False)
        assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
        assert text in r.stderr, (args, r.stderr)
    assert srv.cli("learn", "list").stdout == ""


def test_learned_file_damage_is_survived(srv):
    sender = "bulk@promo.test"
    learn(srv, "spam", message(token(), sender), user=BOB)
    path = srv.data_dir / "learned"
    # a hand edit gone wrong: garbage lines are skipped, the rest applies
    path.write_text("garbage\n" + path.read_text() + "bob@example.test\n\x00\x01 x ham 1\n")
    q = send(srv, sender, [BOB], message(token(), sender))
    assert accepted(srv, q)["verdict"] == "junk"
    # the next learn keeps the good lines
    learn(srv, "spam", message(token(), "other@promo.test"), user=BOB)
    assert "bulk@promo.test" in path.read_text()


def test_dmarc_record_asked_with_spf_not_after(srv):
    """The DMARC record lookups start with SPF and DKIM, not after them
    (dmarc_check_begin, then dmarc_check_evaluate once SPF and DKIM are
    in); each name is asked once."""
    dns = fake_dns()
    org = "p%s.test" % token()                  # names no other test asked for
    dns.records[("sub." + org, 16)] = ["v=spf1 ip4:127.0.0.0/8 -all"]
    sender = "news@sub." + org
    t = token()
    q = send(srv, sender, [BOB], message(t, sender))
    assert "spf=pass" in srv.wait_for_mail("bob", token=t)[0].read_text()
    accepted(srv, q)
    names = [(n, typ) for n, typ in list(dns.queries)]
    spf_q = ("sub." + org, 16)
    dmarc_from = ("_dmarc.sub." + org, 16)
    dmarc_org = ("_dmarc." + org, 16)
    assert spf_q in names and dmarc_from in names and dmarc_org in names, names[-20:]
    # the record lookup starts before SPF's own query (the org domain's
    # follows the From domain's NXDOMAIN), and nothing is asked twice
    assert names.index(dmarc_from) < names.index(spf_q), names[-20:]
    assert names.index(dmarc_from) < names.index(dmarc_org), names[-20:]
    assert names.count(dmarc_from) == 1 and names.count(dmarc_org) == 1, names[-20:]
