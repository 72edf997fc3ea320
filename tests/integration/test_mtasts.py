"""Outbound MTA-STS (RFC 8461; SPEC 12, issue 16 item 3).

Always on: for each recipient domain postern looks up `_mta-sts.DOMAIN`
TXT (`v=STSv1; id=...`) and fetches the policy from
`https://mta-sts.DOMAIN/.well-known/mta-sts.txt`, here a real HTTPS server
on 127.0.0.170:443 (Python http.server over ssl, certificate from a CA of
the test that the server trusts through SSL_CERT_FILE). A private unbound
serves the zone st.test: the TXT records, the policy host's address and
the MX records; the MX hosts are smtpsink.py sinks with CA-signed or
self-signed certificates.

enforce: only MX hosts the policy lists, with TLS and a certificate valid
for the MX name, else deferred; testing: delivered as usual, failures
logged (event=mta_sts ... result=failure); malformed, oversized,
redirected, mistyped or untrusted policies: ignored and logged
(result=ignored). Policies are cached for max_age on disk under
data_dir/mta-sts (a restart keeps them) and fetched again when the TXT id
changes.
"""

import http.server
import socket
import ssl
import threading
import time

import pytest

from conftest import queue_id, simple_message, token, wait_until
from dnsfixture import Unbound
from smtpsink import SMTPSink
from testca import TestCA

SENDER = "bob@example.test"
IP_POLICY = "127.0.0.170"       # mta-sts.*.st.test, CA-signed
IP_UNTRUSTED = "127.0.0.169"    # mta-sts.untrusted.st.test, self-signed

# MX sinks: (ip, MX names its certificate holds, self-signed?)
MX = {
    "127.0.0.171": (["mx.enf.st.test"], False),
    "127.0.0.172": (["mx.selfsig.st.test"], True),
    "127.0.0.173": (["mx.nomatch.st.test"], False),
    "127.0.0.174": (["mx1.wild.st.test"], False),
    "127.0.0.175": (["mx.testing.st.test"], True),
    "127.0.0.176": (["mx.ignored.st.test"], True),
    "127.0.0.177": (["mx.cache.st.test"], False),
}

DOMAINS = {
    # domain: (TXT id, MX host, MX ip)
    "enf": ("enf1", "mx.enf.st.test", "127.0.0.171"),
    "selfsig": ("s1", "mx.selfsig.st.test", "127.0.0.172"),
    "nomatch": ("n1", "mx.nomatch.st.test", "127.0.0.173"),
    "wild": ("w1", "mx1.wild.st.test", "127.0.0.174"),
    "testing": ("t1", "mx.testing.st.test", "127.0.0.175"),
    "malformed": ("m1", "mx.ignored.st.test", "127.0.0.176"),
    "big": ("b1", "mx.ignored.st.test", "127.0.0.176"),
    "redir": ("r1", "mx.ignored.st.test", "127.0.0.176"),
    "ctype": ("c1", "mx.ignored.st.test", "127.0.0.176"),
    "untrusted": ("u1", "mx.ignored.st.test", "127.0.0.176"),
    "cache": ("k1", "mx.cache.st.test", "127.0.0.177"),
}


def policy(mode, *mx, max_age=86400):
    lines = ["version: STSv1", "mode: %s" % mode] + ["mx: %s" % m for m in mx]
    lines.append("max_age: %d" % max_age)
    return ("\r\n".join(lines) + "\r\n").encode()


POLICIES = {
    "enf": policy("enforce", "mx.enf.st.test"),
    "selfsig": policy("enforce", "mx.selfsig.st.test"),
    "nomatch": policy("enforce", "mail.elsewhere.test", "*.nomatch.example"),
    "wild": policy("enforce", "*.wild.st.test"),
    "testing": policy("testing", "mx.testing.st.test"),
    # an enforce policy that would defer if it were read: it must be ignored
    "malformed": b"version: STSv1\nmode: enforce\nmx mx.nowhere.test\nmax_age: 86400\n",
    "big": policy("enforce", "mx.nowhere.test") + b"x-pad: " + b"y" * (70 * 1024) + b"\n",
    "redir": None,          # 301 to a policy that would defer
    "ctype": policy("enforce", "mx.nowhere.test"),
    "untrusted": policy("enforce", "mx.nowhere.test"),
    "cache": policy("enforce", "mx.cache.st.test"),
}


def zones(ids):
    out = ['    local-zone: "." static', '    local-zone: "st.test." static']
    for d, (_, mxhost, mxip) in DOMAINS.items():
        out.append("    local-data: '_mta-sts.%s.st.test. 1 IN TXT \"v=STSv1; id=%s;\"'"
                   % (d, ids.get(d, DOMAINS[d][0])))
        out.append('    local-data: "mta-sts.%s.st.test. 300 IN A %s"'
                   % (d, IP_UNTRUSTED if d == "untrusted" else IP_POLICY))
        out.append('    local-data: "%s.st.test. 300 IN MX 10 %s."' % (d, mxhost))
    for ip, (names, _) in MX.items():
        out.append('    local-data: "%s. 300 IN A %s"' % (names[0], ip))
    # a domain without any record: no policy, opportunistic as before
    out.append('    local-data: "plain.st.test. 300 IN MX 10 mx.enf.st.test."')
    out += ['    local-zone: "zen.spamhaus.org." static', '    local-zone: "dbl.spamhaus.org." static',
            '    local-data: "dbltest.com.dbl.spamhaus.org. 300 IN A 127.0.1.2"']
    return "\n".join(out) + "\n"


class PolicyHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        srv = self.server
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        with srv.lock:
            srv.requests.append((host, self.path))
        dom = host[len("mta-sts."):-len(".st.test")] if host.startswith("mta-sts.") else ""
        if self.path != "/.well-known/mta-sts.txt" or dom not in srv.policies:
            self.send_error(404)
            return
        if dom == "redir":
            self.send_response(301)
            self.send_header("Location", "https://mta-sts.enf.st.test/redirected")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = srv.policies[dom]
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if dom == "ctype" else
                         "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class PolicyServer:
    """HTTPS on ip:443 serving POLICIES per Host header."""

    def __init__(self, ip, cert, key):
        self.httpd = http.server.ThreadingHTTPServer((ip, 443), PolicyHandler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.socket.settimeout(10)
        self.httpd.timeout = 10
        self.httpd.policies = dict(POLICIES)
        self.httpd.requests = []
        self.httpd.lock = threading.Lock()
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def requests(self, domain=None):
        with self.httpd.lock:
            return [r for r in self.httpd.requests
                    if domain is None or r[0] == "mta-sts.%s.st.test" % domain]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return TestCA(tmp_path_factory.mktemp("sts-ca"))


@pytest.fixture(scope="module")
def unbound(tmp_path_factory):
    u = Unbound(tmp_path_factory.mktemp("unbound-sts"), zones=zones({})).start()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def policy_server(ca):
    names = ["mta-sts.%s.st.test" % d for d in DOMAINS if d != "untrusted"]
    cert, key = ca.leaf(*names, tag="policy-host")
    s = PolicyServer(IP_POLICY, cert, key)
    ucert, ukey = ca.leaf("mta-sts.untrusted.st.test", self_signed=True)
    u = PolicyServer(IP_UNTRUSTED, ucert, ukey)
    yield s
    s.stop()
    u.stop()


@pytest.fixture(scope="module")
def port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


@pytest.fixture
def sinks(ca, port):
    made = {}
    for ip, (names, selfsigned) in MX.items():
        cert, key = ca.leaf(*names, self_signed=selfsigned)
        made[ip] = SMTPSink(ip, port, starttls=True, cert=cert, key=key).start()
    yield made
    errors = []
    for s in made.values():
        s.stop()
        errors += s.errors
    assert not errors, "sink errors: %r" % errors


@pytest.fixture
def mta(make_server, unbound, port, ca, policy_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.cert))

    def make(**cfg):
        config = {
            "dns_servers": unbound.address,
            "trusted_networks": "127.0.0.0/8",
            "outbound_port": str(port),
            "retry_initial": "1s",
            "retry_max": "2s",
            "queue_lifetime": "60s",
            "outbound_timeout": "5s",
        }
        config.update({k: str(v) for k, v in cfg.items()})
        return make_server(config=config)
    return make


def submit(srv, rcpt):
    msg = simple_message(token())
    c = srv.client()
    c.ehlo("client.test")
    qid = queue_id(c.send_mail(SENDER, [rcpt], msg))
    c.quit()
    return qid, msg


def sts_events(srv, domain, **match):
    return srv.events("mta_sts", domain=domain + ".st.test", **match)


# ---------------------------------------------------------------- enforce

def test_enforce_listed_verified_mx_only(mta, sinks, policy_server):
    srv = mta()
    q_enf, m_enf = submit(srv, "alice@enf.st.test")
    q_wild, m_wild = submit(srv, "carol@wild.st.test")
    q_self, _ = submit(srv, "dave@selfsig.st.test")
    q_nomatch, _ = submit(srv, "erin@nomatch.st.test")
    q_plain, m_plain = submit(srv, "frank@plain.st.test")

    for q, ip, m in ((q_enf, "127.0.0.171", m_enf), (q_wild, "127.0.0.174", m_wild)):
        d = srv.wait_for_log("delivered", id=q, timeout=20)[-1]
        assert d["tls"].startswith("TLSv1."), d
        assert any(tx.data.endswith(m) and tx.tls for tx in sinks[ip].wait_for_transactions(1))

    d = srv.wait_for_log("deferred", id=q_self, timeout=20)[-1]
    assert "certificate verify failed: self-signed certificate" in d["reason"], d
    assert "MTA-STS" in d["reason"], d
    assert sinks["127.0.0.172"].transactions == []

    d = srv.wait_for_log("deferred", id=q_nomatch, timeout=20)[-1]
    assert "MTA-STS" in d["reason"] and "mx.nomatch.st.test" in d["reason"], d
    assert sinks["127.0.0.173"].sessions == [], "an MX the policy does not list was contacted"

    # no record: opportunistic TLS as ever (mx.enf's sink)
    d = srv.wait_for_log("delivered", id=q_plain, timeout=20)[-1]
    assert d["tls"].startswith("TLSv1."), d

    for dom, mode in (("enf", "enforce"), ("wild", "enforce"), ("selfsig", "enforce")):
        ev = sts_events(srv, dom, result="fetched")
        assert ev and ev[-1]["mode"] == mode, (dom, ev)
    assert policy_server.requests("plain") == []
    # retried later: still deferred, still nothing sent
    srv.wait_for_log("deferred", id=q_self, count=2, timeout=20)
    assert sinks["127.0.0.172"].transactions == []


# ---------------------------------------------------------------- testing

def test_testing_mode_delivers_and_reports(mta, sinks):
    srv = mta()
    qid, msg = submit(srv, "alice@testing.st.test")
    d = srv.wait_for_log("delivered", id=qid, timeout=20)[-1]
    assert d["tls"].startswith("TLSv1."), d
    (tx,) = sinks["127.0.0.175"].wait_for_transactions(1)
    assert tx.data.endswith(msg)
    ev = sts_events(srv, "testing", result="failure")
    assert ev and ev[-1]["mode"] == "testing" and ev[-1]["mx"] == "mx.testing.st.test", ev
    assert "self-signed certificate" in ev[-1]["reason"], ev
    assert srv.events("deferred", id=qid) == []


# ---------------------------------------------------------------- bad policies

def test_bad_policies_are_ignored_and_logged(mta, sinks, policy_server):
    srv = mta()
    want = {
        "malformed": "key: value",
        "big": "64 KiB",
        "redir": "301",
        "ctype": "text/plain",
        "untrusted": "https://mta-sts.untrusted.st.test/",
    }
    qids = {d: submit(srv, "alice@%s.st.test" % d)[0] for d in want}
    for d, q in qids.items():
        # each policy would have deferred the mail had it been used
        srv.wait_for_log("delivered", id=q, timeout=20)
        ev = sts_events(srv, d, result="ignored")
        assert ev and want[d] in ev[-1]["reason"], (d, ev)
    assert srv.events("deferred") == []
    # the redirect was not followed
    assert [r for r in policy_server.requests() if r[1] == "/redirected"] == []
    assert policy_server.requests("redir"), "the redirecting policy was never asked for"


# ---------------------------------------------------------------- cache

def test_cache_on_disk_survives_restart_and_refreshes_on_new_id(mta, sinks, policy_server,
                                                                 unbound):
    srv = mta()
    before = len(policy_server.requests("cache"))
    q1, _ = submit(srv, "a@cache.st.test")
    srv.wait_for_log("delivered", id=q1, timeout=20)
    q2, _ = submit(srv, "b@cache.st.test")
    srv.wait_for_log("delivered", id=q2, timeout=20)
    assert len(policy_server.requests("cache")) == before + 1, policy_server.requests("cache")
    cached = srv.data_dir / "mta-sts" / "cache.st.test"
    assert cached.exists(), list((srv.data_dir / "mta-sts").iterdir())
    assert "id k1" in cached.read_text()

    # a restart reads it back: no fetch, the policy still applies
    srv.stop()
    srv.start()
    q3, _ = submit(srv, "c@cache.st.test")
    srv.wait_for_log("delivered", id=q3, timeout=20)
    assert len(policy_server.requests("cache")) == before + 1

    # the domain publishes a new policy under a new id: fetched again
    policy_server.httpd.policies["cache"] = policy("enforce", "mx.other.st.test")
    try:
        unbound.stop()
        unbound.conf.write_text(unbound.conf.read_text().replace("id=k1;", "id=k2;"))
        unbound.start()
        # the TXT record's TTL is 1 s; a lookup that failed while unbound
        # restarted leaves the cached policy in force (RFC 8461 5.1), so
        # the change shows at one of the next deliveries
        d = None
        for i in range(10):
            time.sleep(1.1)
            q4, _ = submit(srv, "d%d@cache.st.test" % i)
            wait_until(lambda: srv.events("delivered", id=q4) or srv.events("deferred", id=q4),
                       20, what="an outcome for %s" % q4)
            got = srv.events("deferred", id=q4)
            if got:
                d = got[-1]
                break
        assert d is not None, "the new policy id was never fetched"
        assert "MTA-STS" in d["reason"], d
        assert len(policy_server.requests("cache")) == before + 2
        wait_until(lambda: "id k2" in cached.read_text(), 5, what="the new policy on disk")
    finally:
        policy_server.httpd.policies["cache"] = POLICIES["cache"]
        unbound.stop()
        unbound.conf.write_text(unbound.conf.read_text().replace("id=k2;", "id=k1;"))
        unbound.start()
