"""Smart host with credentials (SPEC 12, issue 16 item 1).

`relayhost = HOST:PORT` with `relayhost_user` and `relayhost_password_file`:
AUTH PLAIN (preferred) or LOGIN after STARTTLS, or over implicit TLS on
port 465, with the relay's certificate verified for HOST against the trust
store that SSL_CERT_FILE names (a CA of the test, testca.py). Never AUTH in
plain text or to a peer whose certificate does not verify: the delivery is
deferred with the reason in `event=deferred reason="..."` and no credential
is sent. Without relayhost_user the relay gets opportunistic STARTTLS like
an MX.

The relays are tests/integration/smtpsink.py sinks in TLS/AUTH modes on
127.0.0.16x; a private unbound (dnsfixture.Unbound) serves their names.
"""

import base64
import socket
import subprocess

import pytest

from conftest import POSTERN_BIN, queue_id, simple_message, token
from dnsfixture import Unbound
from smtpsink import SMTPSink
from testca import TestCA

SENDER = "bob@example.test"
USER = "relay-user@example.test"
SECRET = "s3cret pass:with spaces"

IP_RELAY = "127.0.0.161"        # smarthost.sh.test
IP_OTHER = "127.0.0.162"        # other.sh.test: a relay whose name is not in the certificate
IP_IMPLICIT = "127.0.0.163"     # implicit.sh.test, port 465

ZONES = r'''
    local-zone: "." static
    local-zone: "sh.test." static
    local-data: "smarthost.sh.test. 300 IN A 127.0.0.161"
    local-data: "other.sh.test. 300 IN A 127.0.0.162"
    local-data: "implicit.sh.test. 300 IN A 127.0.0.163"
    local-zone: "remote.test." static
    local-data: "remote.test. 300 IN MX 10 mx.remote.test."
    local-data: "mx.remote.test. 300 IN A 127.0.0.164"
    local-zone: "zen.spamhaus.org." static
    local-zone: "dbl.spamhaus.org." static
    local-data: "dbltest.com.dbl.spamhaus.org. 300 IN A 127.0.1.2"
'''


@pytest.fixture(scope="module")
def unbound(tmp_path_factory):
    u = Unbound(tmp_path_factory.mktemp("unbound-sh"), zones=ZONES).start()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return TestCA(tmp_path_factory.mktemp("sh-ca"))


@pytest.fixture
def sink():
    made = []

    def make(ip, port, **kw):
        s = SMTPSink(ip, port, **kw).start()
        made.append(s)
        return s

    yield make
    errors = []
    for s in made:
        s.stop()
        errors += s.errors
    assert not errors, "sink errors: %r" % errors


@pytest.fixture
def relay(make_server, unbound, ca, tmp_path, monkeypatch):
    """Factory: a server sending all remote mail to relayhost, trusting
    the test CA; password=None: no password file, user=None: no AUTH."""
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.cert))

    def make(relayhost, user=USER, password=SECRET, pwfile_text=None, **cfg):
        config = {
            "dns_servers": unbound.address,
            "trusted_networks": "127.0.0.0/8",
            "relayhost": relayhost,
            "retry_initial": "1s",
            "retry_max": "2s",
            "queue_lifetime": "60s",
            "outbound_timeout": "5s",
        }
        if user is not None:
            config["relayhost_user"] = user
            pw = tmp_path / ("relay-password-%s" % token(6))
            # first line, without its line ending, is the password
            pw.write_text(pwfile_text if pwfile_text is not None
                          else "%s\r\nthis second line is no part of it\n" % password)
            pw.chmod(0o600)
            config["relayhost_password_file"] = str(pw)
        config.update({k: str(v) for k, v in cfg.items()})
        return make_server(config=config)

    return make


def submit(srv, rcpts):
    """Submits one message on the port 25 role; returns (queue id, message)."""
    msg = simple_message(token())
    c = srv.client()
    c.ehlo("client.test")
    qid = queue_id(c.send_mail(SENDER, rcpts, msg))
    c.quit()
    return qid, msg


def no_credentials(s):
    """The sink never received a credential, in any form."""
    for sess in s.sessions:
        assert sess.auth == [], sess.auth
        text = "\n".join(sess.commands)
        assert "AUTH" not in text.upper(), sess.commands
        assert base64.b64encode(SECRET.encode()).decode() not in text
        assert SECRET not in text


# ---------------------------------------------------------------- AUTH works

@pytest.mark.parametrize("mechs,want", [(("PLAIN", "LOGIN"), "PLAIN"), (("LOGIN",), "LOGIN")])
def test_auth_after_starttls_with_verified_certificate(relay, sink, ca, port, mechs, want):
    cert, key = ca.leaf("smarthost.sh.test")
    s = sink(IP_RELAY, port, starttls=True, cert=cert, key=key, auth={USER: SECRET},
             auth_mechs=mechs, auth_required=True)
    srv = relay("smarthost.sh.test:%d" % port)
    qid, msg = submit(srv, ["alice@remote.test"])
    d = srv.wait_for_log("delivered", id=qid, timeout=15)[-1]
    assert "[%s]:%d" % (IP_RELAY, port) in d["relay"], d
    (tx,) = s.wait_for_transactions(1)
    assert tx.tls and tx.auth_user == USER, tx
    assert tx.data.endswith(msg)
    (sess,) = [x for x in s.sessions if x.auth]
    assert sess.auth == [(want, USER, SECRET, True, True)], sess.auth
    # AUTH came after STARTTLS, on the TLS session only
    cmds = [c.split()[0].upper() for c in sess.commands if c]
    assert cmds.index("STARTTLS") < cmds.index("AUTH") < cmds.index("MAIL"), sess.commands
    assert srv.events("deferred") == []


def test_implicit_tls_on_port_465(relay, sink, ca):
    cert, key = ca.leaf("implicit.sh.test")
    s = sink(IP_IMPLICIT, 465, implicit_tls=True, cert=cert, key=key, auth={USER: SECRET},
             auth_mechs=("PLAIN",), auth_required=True)
    srv = relay("implicit.sh.test:465")
    qid, msg = submit(srv, ["alice@remote.test"])
    d = srv.wait_for_log("delivered", id=qid, timeout=15)[-1]
    assert d["tls"].startswith("TLSv1."), d
    (tx,) = s.wait_for_transactions(1)
    assert tx.tls and tx.auth_user == USER
    assert "STARTTLS" not in [c.upper() for c in tx.session.commands]


@pytest.mark.parametrize("implicit", [False, True])
def test_tls_session_to_the_relayhost_is_resumed(relay, sink, ca, port, implicit):
    """The next connection to the smart host resumes the TLS session of a
    verified one (no second full handshake per message), still verified
    and authenticated; a session from an unverified relay is never kept."""
    name = "implicit.sh.test" if implicit else "smarthost.sh.test"
    p = 465 if implicit else port
    cert, key = ca.leaf(name)
    # a relay that closes after each message: every one needs a new
    # connection (else the cached session would carry them all)
    s = sink(IP_IMPLICIT if implicit else IP_RELAY, p, implicit_tls=implicit,
             starttls=not implicit, cert=cert, key=key, auth={USER: SECRET},
             auth_mechs=("PLAIN",), auth_required=True, close_after=1)
    srv = relay("%s:%d" % (name, p))
    for i in range(3):
        qid, msg = submit(srv, ["alice%d@remote.test" % i])
        srv.wait_for_log("delivered", id=qid, timeout=15)
    txs = s.wait_for_transactions(3)
    assert all(tx.tls and tx.auth_user == USER for tx in txs), txs
    resumed = [tx.session.tls_resumed for tx in txs]
    assert resumed[0] is False and resumed[1:] == [True, True], resumed
    assert srv.events("deferred") == []


# ---------------------------------------------------------------- connection cache

def test_relayhost_session_carries_the_next_messages(relay, sink, ca, port):
    """The session to the smart host is kept between messages (no new
    TCP, TLS, EHLO and AUTH per message), then closed with QUIT once idle."""
    cert, key = ca.leaf("smarthost.sh.test")
    s = sink(IP_RELAY, port, starttls=True, cert=cert, key=key, auth={USER: SECRET},
             auth_mechs=("PLAIN",), auth_required=True)
    srv = relay("smarthost.sh.test:%d" % port)
    for i in range(3):
        qid, _ = submit(srv, ["alice%d@remote.test" % i])
        d = srv.wait_for_log("delivered", id=qid, timeout=15)[-1]
        assert "smarthost.sh.test[127.0.0.161]" in d["relay"] and d["tls"].startswith("TLS"), d
    txs = s.wait_for_transactions(3)
    assert all(tx.tls and tx.auth_user == USER for tx in txs), txs
    # three messages, fewer sessions (sequential submissions: only a
    # machine stalled for the 2 s idle limit opens more than one)
    assert len(s.sessions) < 3, s.sessions
    for sess in s.sessions:
        assert len(sess.auth) == 1, sess.auth
        assert sum(1 for c in sess.commands if c.upper().startswith("EHLO")) == 2, sess.commands
    # idle for 2 s: QUIT, and the relay sees the session end
    s.wait_for(lambda: all(sess.closed for sess in s.sessions), timeout=10,
               what="cached sessions closed")
    assert s.sessions[-1].commands[-1] == "QUIT", s.sessions[-1].commands
    assert srv.events("deferred") == []


def test_cached_session_closed_by_the_relay_costs_nothing(relay, sink, ca, port):
    """A relay that drops the session after each message, or answers the
    next MAIL with 421: the message goes on a new connection at once, never
    deferred, and exactly once."""
    cert, key = ca.leaf("smarthost.sh.test")
    s = sink(IP_RELAY, port, starttls=True, cert=cert, key=key, auth={USER: SECRET},
             close_after=1)
    srv = relay("smarthost.sh.test:%d" % port)
    qids = []
    for i in range(3):
        qid, _ = submit(srv, ["carol%d@remote.test" % i])
        srv.wait_for_log("delivered", id=qid, timeout=15)
        qids.append(qid)
    assert len(s.wait_for_transactions(3)) == 3 and len(s.sessions) == 3

    s2 = sink(IP_OTHER, port, starttls=True, cert=ca.leaf("other.sh.test")[0],
              key=ca.leaf("other.sh.test")[1], auth={USER: SECRET})
    srv2 = relay("other.sh.test:%d" % port)
    qid, _ = submit(srv2, ["dave@remote.test"])
    srv2.wait_for_log("delivered", id=qid, timeout=15)
    s2.wait_for_transactions(1)
    # the session is parked; its next MAIL gets 421 (the relay closing)
    s2.script("mail", "421 4.4.2 idle too long, closing", first=2)
    qid, _ = submit(srv2, ["erin@remote.test"])
    d = srv2.wait_for_log("delivered", id=qid, timeout=15)[-1]
    txs = s2.wait_for_transactions(2)
    assert [t.rcpts for t in txs] == [["dave@remote.test"], ["erin@remote.test"]], txs
    assert len(s2.sessions) == 2 and s2.transactions[1].mail_from is not None
    assert "421" not in d.get("reason", ""), d
    for srvx in (srv, srv2):
        assert srvx.events("deferred") == [] and srvx.events("bounced") == []


# ---------------------------------------------------------------- never credentials unprotected

def test_self_signed_relay_deferred_without_credentials(relay, sink, ca, port):
    cert, key = ca.leaf("smarthost.sh.test", self_signed=True)
    s = sink(IP_RELAY, port, starttls=True, cert=cert, key=key, auth={USER: SECRET})
    srv = relay("smarthost.sh.test:%d" % port)
    qid, _ = submit(srv, ["alice@remote.test"])
    d = srv.wait_for_log("deferred", id=qid, timeout=15)[-1]
    assert "certificate verify failed: self-signed certificate" in d["reason"], d
    # and at the retry, still nothing
    srv.wait_for_log("deferred", id=qid, count=2, timeout=15)
    assert srv.events("delivered", id=qid) == []
    assert s.sessions, "the relay was never contacted"
    no_credentials(s)
    assert s.transactions == []


def test_certificate_for_another_name_deferred(relay, sink, ca, port):
    cert, key = ca.leaf("smarthost.sh.test")        # valid, but not for other.sh.test
    s = sink(IP_OTHER, port, starttls=True, cert=cert, key=key, auth={USER: SECRET})
    srv = relay("other.sh.test:%d" % port)
    qid, _ = submit(srv, ["alice@remote.test"])
    d = srv.wait_for_log("deferred", id=qid, timeout=15)[-1]
    assert "certificate verify failed: hostname mismatch" in d["reason"], d
    no_credentials(s)


def test_no_starttls_deferred_even_if_auth_offered_in_plain_text(relay, sink, port):
    s = sink(IP_RELAY, port, auth={USER: SECRET}, auth_plaintext=True)
    srv = relay("smarthost.sh.test:%d" % port)
    qid, _ = submit(srv, ["alice@remote.test"])
    d = srv.wait_for_log("deferred", id=qid, timeout=15)[-1]
    assert "STARTTLS" in d["reason"] and "relayhost" in d["reason"], d
    no_credentials(s)
    assert s.transactions == []


def test_relay_without_auth_deferred_reason_logged(relay, sink, ca, port):
    cert, key = ca.leaf("smarthost.sh.test")
    s = sink(IP_RELAY, port, starttls=True, cert=cert, key=key)      # no AUTH at all
    srv = relay("smarthost.sh.test:%d" % port)
    qid, _ = submit(srv, ["alice@remote.test"])
    d = srv.wait_for_log("deferred", id=qid, timeout=15)[-1]
    assert "offers no AUTH" in d["reason"], d
    assert s.transactions == [], "mail sent unauthenticated"
    no_credentials(s)


def test_wrong_password_deferred_not_bounced(relay, sink, ca, port):
    cert, key = ca.leaf("smarthost.sh.test")
    s = sink(IP_RELAY, port, starttls=True, cert=cert, key=key, auth={USER: "another"},
             auth_required=True)
    srv = relay("smarthost.sh.test:%d" % port)
    qid, _ = submit(srv, ["alice@remote.test"])
    d = srv.wait_for_log("deferred", id=qid, timeout=15)[-1]
    assert "535" in d["reason"] and "AUTH" in d["reason"], d
    assert srv.events("bounced") == []
    assert s.transactions == []
    # the credential went only over verified TLS
    assert all(a[4] for sess in s.sessions for a in sess.auth)


def test_without_relayhost_user_opportunistic_like_an_mx(relay, sink, ca, port):
    """No credentials: STARTTLS when offered, the certificate not required
    to verify (a self-signed relay still gets the mail, encrypted)."""
    cert, key = ca.leaf("smarthost.sh.test", self_signed=True)
    s = sink(IP_RELAY, port, starttls=True, cert=cert, key=key)
    srv = relay("smarthost.sh.test:%d" % port, user=None)
    qid, msg = submit(srv, ["alice@remote.test"])
    d = srv.wait_for_log("delivered", id=qid, timeout=15)[-1]
    assert d["tls"].startswith("TLSv1."), d
    (tx,) = s.wait_for_transactions(1)
    assert tx.tls and tx.auth_user is None
    no_credentials(s)


# ---------------------------------------------------------------- configuration

def test_check_config_password_file(make_server, tmp_path):
    srv = make_server(start=False)
    srv.write_config(relayhost="smarthost.sh.test:587", relayhost_user=USER)
    r = srv.cli("check-config", check=False)
    assert r.returncode == 1, r
    assert "relayhost_user needs relayhost_password_file" in r.stderr, r.stderr
    assert ":%d:" % _line_of(srv.conf, "relayhost_user") in r.stderr, r.stderr

    srv.write_config(relayhost_password_file=str(tmp_path / "missing"))
    r = srv.cli("check-config", check=False)
    assert r.returncode == 1, r
    assert "relayhost_password_file" in r.stderr and "No such file" in r.stderr, r.stderr

    empty = tmp_path / "empty"
    empty.write_text("\nsecond\n")
    srv.write_config(relayhost_password_file=str(empty))
    r = srv.cli("check-config", check=False)
    assert r.returncode == 1 and "empty" in r.stderr, r

    good = tmp_path / "good"
    good.write_text(SECRET + "\n")
    srv.write_config(relayhost_password_file=str(good))
    r = srv.cli("check-config", check=False)
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout + r.stderr


def test_serve_refuses_an_unreadable_password_file(make_server, tmp_path):
    srv = make_server(start=False)
    srv.write_config(relayhost="smarthost.sh.test:587", relayhost_user=USER,
                     relayhost_password_file=str(tmp_path / "missing"))
    r = subprocess.run([POSTERN_BIN, "serve", "-c", str(srv.conf)], capture_output=True,
                       text=True, timeout=30, cwd=str(srv.dir))
    assert r.returncode != 0
    assert "relayhost_password_file" in r.stderr, r.stderr


def _line_of(path, key):
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith(key + " "):
            return i
    raise AssertionError("%s not in %s" % (key, path))
