"""SPF (RFC 7208), DKIM (RFC 6376, RFC 8463) and DMARC (RFC 7489) on the
asynchronous resolver, against a real unbound serving test zones under
auth.test (see ZONES below). A small C driver, tests/integration/authcheck.c,
is compiled against build/libpostern.a at module setup; it runs the checks
for one message and prints their results.

Keys are generated here with `openssl genpkey` and messages are signed by
the signer below (RFC 6376 3.7 and RFC 8463 3, written independently of the
C verifier), with signatures made by the openssl command line.
"""

import base64
import hashlib
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from conftest import build_c_driver

from dnsfixture import ZONES, BlackholeDNS, Unbound

REPO = Path(__file__).resolve().parents[2]
OPENSSL = "openssl"


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    return build_c_driver(tmp_path_factory, "authcheck")


# ---- keys and signing ----

def openssl(*args, data=None):
    r = subprocess.run([OPENSSL, *args], input=data, capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout


class Key:
    """A private key file and the p= value of its DNS record."""

    def __init__(self, directory, kind, bits=2048):
        self.kind = kind
        self.path = Path(directory) / ("%s-%d.pem" % (kind, bits))
        if kind == "rsa":
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % bits,
                    "-out", str(self.path))
        else:
            openssl("genpkey", "-algorithm", "ED25519", "-out", str(self.path))
        der = openssl("pkey", "-in", str(self.path), "-pubout", "-outform", "DER")
        # RFC 8463 4.2: ed25519 p= is the raw key, the last 32 octets of
        # the SubjectPublicKeyInfo; RSA p= is the whole SPKI
        raw = der[-32:] if kind == "ed25519" else der
        self.p = base64.b64encode(raw).decode()

    def sign(self, data):
        if self.kind == "rsa":
            return openssl("dgst", "-sha256", "-sign", str(self.path), data=data)
        # RFC 8463 3: Ed25519 over the SHA-256 of the data. pkeyutl needs
        # a file for a one-shot (-rawin) signature.
        digest = self.path.with_suffix(".digest")
        digest.write_bytes(hashlib.sha256(data).digest())
        return openssl("pkeyutl", "-sign", "-inkey", str(self.path), "-rawin",
                       "-in", str(digest))


def canon_body(body, relaxed):
    if relaxed:
        body = b"\r\n".join(re.sub(rb"[ \t]+", b" ", line).rstrip(b" ")
                            for line in body.split(b"\r\n"))
    while body.endswith(b"\r\n\r\n"):
        body = body[:-2]
    if relaxed and body in (b"", b"\r\n"):
        return b""
    if body == b"":
        return b"\r\n"
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return body


def canon_header(field, relaxed):
    """field: b"Name: value\r\n" (folded lines included)."""
    if not relaxed:
        return field
    name, value = field.split(b":", 1)
    value = value.replace(b"\r\n", b"")
    value = re.sub(rb"[ \t]+", b" ", value).strip(b" ")
    return name.rstrip(b" \t").lower() + b":" + value + b"\r\n"


def header_fields(head):
    """Splits a header block (ending in CRLF) into its fields."""
    fields = []
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line + b"\r\n"
        else:
            fields.append(line + b"\r\n")
    return fields


def dkim_sign(msg, key, domain="auth.test", selector=None, canon="relaxed/relaxed",
              headers=("from", "to", "subject", "date"), extra=""):
    hc, bc = canon.split("/")
    head, body = msg.split(b"\r\n\r\n", 1)
    head += b"\r\n"
    alg = "rsa-sha256" if key.kind == "rsa" else "ed25519-sha256"
    selector = selector or key.kind
    bh = base64.b64encode(hashlib.sha256(canon_body(body, bc == "relaxed")).digest()).decode()
    value = (" v=1; a=%s; c=%s; d=%s; s=%s;\r\n\tt=%d; %sh=%s;\r\n\tbh=%s;\r\n\tb="
             % (alg, canon, domain, selector, int(time.time()), extra, ":".join(headers), bh))
    fields = header_fields(head)
    used = set()
    data = b""
    for name in headers:
        for i in range(len(fields) - 1, -1, -1):
            fname = fields[i].split(b":", 1)[0].rstrip(b" \t").lower()
            if i not in used and fname == name.encode():
                used.add(i)
                data += canon_header(fields[i], hc == "relaxed")
                break
    sig_field = b"DKIM-Signature:" + value.encode() + b"\r\n"
    data += canon_header(sig_field, hc == "relaxed")[:-2]
    b = base64.b64encode(key.sign(data)).decode()
    return b"DKIM-Signature:" + value.encode() + b.encode() + b"\r\n" + msg


def message(frm="alice@auth.test", subject="Dinner", body=b"Hi.\r\n\r\nAre you hungry?\r\n"):
    return (b"From: Alice <" + frm.encode() + b">\r\n"
            b"To: Bob <bob@example.test>\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
            b"Message-ID: <1@auth.test>\r\n"
            b"\r\n" + body)


# ---- the zones ----

def txt(name, text):
    """unbound local-data for a TXT record, in 255-octet strings (a TXT
    character-string holds 255 octets at most)."""
    chunks = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
    return "    local-data: '%s 300 IN TXT %s'\n" % (name, " ".join('"%s"' % c for c in chunks))


def rr(line):
    return '    local-data: "%s"\n' % line


SPF_ZONES = [
    ("pass.auth.test.", "v=spf1 ip4:192.0.2.0/24 -all"),
    ("pass6.auth.test.", "v=spf1 ip6:2001:db8::/32 -all"),
    ("soft.auth.test.", "v=spf1 ip4:192.0.2.1 ~all"),
    ("neutral.auth.test.", "v=spf1 ?all"),
    ("default.auth.test.", "v=spf1 ip4:192.0.2.1"),
    ("nospf.auth.test.", "some other text"),
    ("two.auth.test.", "v=spf1 -all"),
    ("two.auth.test.", "v=spf1 +all"),
    ("syntax.auth.test.", "v=spf1 ip4:192.0.2.300 -all"),
    ("unknown.auth.test.", "v=spf1 foo:bar.auth.test -all"),
    ("inc.auth.test.", "v=spf1 include:pass.auth.test -all"),
    ("incnone.auth.test.", "v=spf1 include:missing.auth.test -all"),
    ("incfail.auth.test.", "v=spf1 include:soft.auth.test ?all"),
    ("redir.auth.test.", "v=spf1 redirect=pass.auth.test"),
    ("redirnone.auth.test.", "v=spf1 redirect=missing.auth.test"),
    ("allredir.auth.test.", "v=spf1 -all redirect=neutral.auth.test"),
    ("mx.auth.test.", "v=spf1 mx -all"),
    ("mxcidr.auth.test.", "v=spf1 mx:mx.auth.test/30 -all"),
    ("a.auth.test.", "v=spf1 a -all"),
    ("aother.auth.test.", "v=spf1 a:host.a.auth.test/24 -all"),
    ("many.auth.test.", "v=spf1 " + " ".join("a:h%d.auth.test" % i for i in range(1, 12))
     + " -all"),
    ("ten.auth.test.", "v=spf1 " + " ".join("a:h%d.auth.test" % i for i in range(1, 10))
     + " ip4:192.0.2.0/24 a:h10.auth.test -all"),
    ("void.auth.test.", "v=spf1 a:v1.auth.test a:v2.auth.test a:v3.auth.test -all"),
    ("void2.auth.test.", "v=spf1 a:v1.auth.test a:v2.auth.test ip4:192.0.2.0/24 -all"),
    ("loop.auth.test.", "v=spf1 include:loop.auth.test -all"),
    ("exists.auth.test.", "v=spf1 exists:%{ir}.list.auth.test -all"),
    ("macro.auth.test.", "v=spf1 exists:%{l}.users.%{d} -all"),
    ("ptr.auth.test.", "v=spf1 ptr -all"),
    ("helo.auth.test.", "v=spf1 ip4:192.0.2.50 -all"),
    ("strict.auth.test.", "v=spf1 ip4:192.0.2.0/24 -all"),
]


def zones(keys):
    z = ZONES + '    local-zone: "auth.test." static\n'
    for name, text in SPF_ZONES:
        z += txt(name, text)
    for i in range(1, 11):
        z += rr("h%d.auth.test. 300 IN A 10.0.0.%d" % (i, i))
    z += rr("h11.auth.test. 300 IN A 10.0.0.11")
    z += rr("mx.auth.test. 300 IN MX 10 mail1.mx.auth.test.")
    z += rr("mx.auth.test. 300 IN MX 20 mail2.mx.auth.test.")
    z += rr("mail1.mx.auth.test. 300 IN A 192.0.2.20")
    z += rr("mail2.mx.auth.test. 300 IN AAAA 2001:db8::20")
    z += rr("a.auth.test. 300 IN A 192.0.2.30")
    z += rr("host.a.auth.test. 300 IN A 198.51.100.1")
    z += rr("10.2.0.192.list.auth.test. 300 IN A 127.0.0.2")
    z += rr("alice.users.macro.auth.test. 300 IN A 127.0.0.2")
    # reverse names live in the fixture's 127.in-addr.arpa zone: libunbound
    # answers the documentation ranges' reverse zones itself (RFC 6303)
    z += rr("host.ptr.auth.test. 300 IN A 127.0.0.40")
    z += rr("40.0.0.127.in-addr.arpa. 300 IN PTR host.ptr.auth.test.")
    z += rr("41.0.0.127.in-addr.arpa. 300 IN PTR host.elsewhere.test.")
    # DKIM keys; the RSA record is longer than 255 octets
    z += txt("rsa._domainkey.auth.test.", "v=DKIM1; k=rsa; p=" + keys["rsa"].p)
    z += txt("ed25519._domainkey.auth.test.", "v=DKIM1; k=ed25519; p=" + keys["ed25519"].p)
    z += txt("short._domainkey.auth.test.", "v=DKIM1; k=rsa; p=" + keys["short"].p)
    z += txt("revoked._domainkey.auth.test.", "v=DKIM1; k=rsa; p=")
    z += txt("rsa._domainkey.strict.auth.test.", "v=DKIM1; k=rsa; p=" + keys["rsa"].p)
    z += txt("rsa._domainkey.other.test.", "v=DKIM1; k=rsa; p=" + keys["rsa"].p)
    # DMARC: the org domain (auth.test) rejects, its subdomains quarantine
    z += txt("_dmarc.auth.test.", "v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@auth.test")
    z += txt("_dmarc.strict.auth.test.", "v=DMARC1; p=reject; adkim=s; aspf=s")
    z += txt("_dmarc.monitor.auth.test.", "v=DMARC1; p=none")
    z += txt("_dmarc.broken.auth.test.", "v=DMARC1; p=bogus")
    z += txt("_dmarc.twice.auth.test.", "v=DMARC1; p=none")
    z += txt("_dmarc.twice.auth.test.", "v=DMARC1; p=reject")
    z += txt("_dmarc.brokenrua.auth.test.", "v=DMARC1; p=bogus; rua=mailto:d@auth.test")
    z += '    local-zone: "other.test." static\n'
    z += rr("other.test. 300 IN A 192.0.2.99")
    return z


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    return {"rsa": Key(d, "rsa"), "ed25519": Key(d, "ed25519"), "short": Key(d, "rsa", 512)}


@pytest.fixture(scope="module")
def dns(tmp_path_factory, keys):
    u = Unbound(tmp_path_factory.mktemp("unbound-auth"), zones=zones(keys)).start()
    yield u
    u.stop()


class Result:
    def __init__(self, out):
        self.out = out
        self.spf = self.spf_domain = self.dmarc = self.policy = self.from_domain = None
        self.dkim = []
        for line in out.splitlines():
            if line.startswith("spf="):
                m = re.match(r"spf=(\S+) domain=(.*)", line)
                self.spf, self.spf_domain = m.group(1), m.group(2)
            elif line.startswith("dkim="):
                m = re.match(r"dkim=(\S+)(?: d=(\S*) s=(\S*) reason=(.*))?$", line)
                self.dkim.append((m.group(1), m.group(2), m.group(3), m.group(4)))
            elif line.startswith("dmarc="):
                m = re.match(r"dmarc=(\S+) policy=(\S+) from=(.*)", line)
                self.dmarc, self.policy, self.from_domain = m.groups()

    @property
    def dkim_results(self):
        return [d[0] for d in self.dkim]

    def __repr__(self):
        return self.out


def check(driver, dns_address, tmp_path, ip="192.0.2.10", helo="client.auth.test",
          sender="alice@pass.auth.test", msg=None, timeout_ms=5000, cancel=False):
    path = tmp_path / ("msg-%d.eml" % time.monotonic_ns())
    path.write_bytes(msg if msg is not None else message())
    args = [str(driver), "-t", str(timeout_ms)] + (["-c"] if cancel else []) + \
        [dns_address, ip, helo, sender, str(path)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert "runtime error" not in r.stderr and "Sanitizer" not in r.stderr, r.stderr
    assert r.returncode == 0, "rc=%d\n%s\n%s" % (r.returncode, r.stdout, r.stderr)
    assert "error=" not in r.stdout, r.stdout
    return Result(r.stdout)


@pytest.fixture
def run(driver, dns, tmp_path):
    return lambda **kw: check(driver, dns.address, tmp_path, **kw)


# ---- SPF ----

@pytest.mark.parametrize("sender,ip,want", [
    ("alice@pass.auth.test", "192.0.2.10", "pass"),
    ("alice@pass.auth.test", "198.51.100.1", "fail"),
    ("alice@pass.auth.test", "::ffff:192.0.2.10", "pass"),     # IPv4-mapped
    ("alice@PASS.Auth.Test", "192.0.2.10", "pass"),
    ("alice@pass6.auth.test", "2001:db8::1", "pass"),
    ("alice@pass6.auth.test", "2001:db9::1", "fail"),
    ("alice@pass6.auth.test", "192.0.2.10", "fail"),
    ("alice@soft.auth.test", "198.51.100.1", "softfail"),
    ("alice@soft.auth.test", "192.0.2.1", "pass"),
    ("alice@neutral.auth.test", "192.0.2.10", "neutral"),
    ("alice@default.auth.test", "192.0.2.10", "neutral"),      # no match, no all
    ("alice@nospf.auth.test", "192.0.2.10", "none"),           # TXT, but no SPF
    ("alice@missing.auth.test", "192.0.2.10", "none"),         # NXDOMAIN
    ("alice@localhost", "192.0.2.10", "none"),                 # single label (4.3)
    ("alice@two.auth.test", "192.0.2.10", "permerror"),        # two records (4.5)
    ("alice@syntax.auth.test", "192.0.2.10", "permerror"),
    ("alice@unknown.auth.test", "192.0.2.10", "permerror"),
    ("alice@inc.auth.test", "192.0.2.10", "pass"),
    ("alice@inc.auth.test", "198.51.100.1", "fail"),
    ("alice@incnone.auth.test", "192.0.2.10", "permerror"),    # include of nothing
    ("alice@incfail.auth.test", "198.51.100.1", "neutral"),    # softfail: no match
    ("alice@redir.auth.test", "192.0.2.10", "pass"),
    ("alice@redir.auth.test", "198.51.100.1", "fail"),
    ("alice@redirnone.auth.test", "192.0.2.10", "permerror"),
    ("alice@allredir.auth.test", "192.0.2.10", "fail"),        # all wins over redirect
    ("alice@mx.auth.test", "192.0.2.20", "pass"),
    ("alice@mx.auth.test", "2001:db8::20", "pass"),
    ("alice@mx.auth.test", "192.0.2.21", "fail"),
    ("alice@mxcidr.auth.test", "192.0.2.21", "pass"),
    ("alice@mxcidr.auth.test", "192.0.2.24", "fail"),
    ("alice@a.auth.test", "192.0.2.30", "pass"),
    ("alice@a.auth.test", "192.0.2.31", "fail"),
    ("alice@aother.auth.test", "198.51.100.200", "pass"),
    ("alice@many.auth.test", "192.0.2.10", "permerror"),       # 11 lookups
    ("alice@ten.auth.test", "192.0.2.10", "pass"),             # 9 lookups, then a match
    ("alice@void.auth.test", "192.0.2.10", "permerror"),       # 3 void lookups
    ("alice@void2.auth.test", "192.0.2.10", "pass"),           # 2 are allowed
    ("alice@loop.auth.test", "192.0.2.10", "permerror"),
    ("alice@exists.auth.test", "192.0.2.10", "pass"),
    ("alice@exists.auth.test", "192.0.2.11", "fail"),
    ("alice@macro.auth.test", "192.0.2.10", "pass"),           # %{l} = alice
    ("bob@macro.auth.test", "192.0.2.10", "fail"),
    ("alice@ptr.auth.test", "127.0.0.40", "pass"),
    ("alice@ptr.auth.test", "127.0.0.41", "fail"),             # PTR outside the domain
    ("alice@ptr.auth.test", "127.0.0.42", "fail"),             # no PTR
])
def test_spf(run, sender, ip, want):
    r = run(sender=sender, ip=ip)
    assert r.spf == want, r
    assert r.spf_domain == sender.split("@")[1], r


def test_spf_null_sender_uses_helo(run):
    r = run(sender="", helo="helo.auth.test", ip="192.0.2.50")
    assert (r.spf, r.spf_domain) == ("pass", "helo.auth.test"), r
    r = run(sender="", helo="helo.auth.test", ip="192.0.2.51")
    assert r.spf == "fail", r


def test_spf_null_sender_with_address_literal_helo(run):
    # no domain to check: none, still delivered from the loop
    r = run(sender="", helo="[192.0.2.1]", ip="192.0.2.1")
    assert r.spf == "none", r


def test_timeouts_give_temperror(driver, tmp_path):
    hole = BlackholeDNS()
    try:
        msg = dkim_sign_placeholder()
        t0 = time.monotonic()
        r = check(driver, hole.address, tmp_path, msg=msg, timeout_ms=700)
        elapsed = time.monotonic() - t0
    finally:
        hole.close()
    assert r.spf == "temperror", r
    assert r.dkim_results == ["temperror"], r
    assert r.dmarc == "temperror", r
    # SPF and DKIM in parallel, then DMARC: about two deadlines
    assert elapsed < 5, elapsed


def dkim_sign_placeholder():
    """A message with a syntactically complete signature (no key needed
    for a lookup that never answers)."""
    sig = (b"DKIM-Signature: v=1; a=rsa-sha256; d=auth.test; s=rsa; h=from; "
           b"bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n")
    return sig + message()


def test_cancel_runs_no_callback(driver, dns, tmp_path):
    r = check(driver, dns.address, tmp_path, cancel=True, msg=dkim_sign_placeholder())
    assert r.out.strip() == "cancelled", r


# ---- DKIM ----

def test_dkim_rsa_pass(run, keys):
    r = run(msg=dkim_sign(message(), keys["rsa"]))
    assert r.dkim == [("pass", "auth.test", "rsa", "")], r


def test_dkim_ed25519_pass(run, keys):
    r = run(msg=dkim_sign(message(), keys["ed25519"]))
    assert r.dkim == [("pass", "auth.test", "ed25519", "")], r


@pytest.mark.parametrize("canon", ["simple/simple", "relaxed/simple", "simple/relaxed"])
def test_dkim_canonicalizations(run, keys, canon):
    r = run(msg=dkim_sign(message(), keys["rsa"], canon=canon))
    assert r.dkim_results == ["pass"], r


def test_dkim_two_signatures(run, keys):
    m = dkim_sign(dkim_sign(message(), keys["rsa"]), keys["ed25519"], canon="simple/simple")
    r = run(msg=m)
    assert r.dkim == [("pass", "auth.test", "ed25519", ""), ("pass", "auth.test", "rsa", "")], r


def test_dkim_bare_lf_message(run, keys):
    m = dkim_sign(message(), keys["rsa"]).replace(b"\r\n", b"\n")
    r = run(msg=m)
    assert r.dkim_results == ["pass"], r


def test_dkim_body_tampered(run, keys):
    m = dkim_sign(message(), keys["rsa"]).replace(b"hungry", b"hungrY")
    r = run(msg=m)
    assert r.dkim[0][0] == "fail" and "body hash" in r.dkim[0][3], r


def test_dkim_header_tampered(run, keys):
    m = dkim_sign(message(), keys["ed25519"]).replace(b"Subject: Dinner", b"Subject: Dinned")
    r = run(msg=m)
    assert r.dkim[0][0] == "fail" and "signature" in r.dkim[0][3], r


def test_dkim_revoked_and_missing_keys(run, keys):
    r = run(msg=dkim_sign(message(), keys["rsa"], selector="revoked"))
    assert r.dkim[0][0] == "permerror" and "revoked" in r.dkim[0][3], r
    r = run(msg=dkim_sign(message(), keys["rsa"], selector="nokey"))
    assert r.dkim[0][0] == "permerror" and "no key" in r.dkim[0][3], r


def test_dkim_short_rsa_key_refused(run, keys):
    r = run(msg=dkim_sign(message(), keys["short"], selector="short"))
    assert r.dkim[0][0] == "permerror" and "1024" in r.dkim[0][3], r


def test_dkim_no_signature(run):
    r = run(msg=message())
    assert r.dkim_results == ["none"], r


# ---- DMARC ----

def test_dmarc_pass_by_dkim(run, keys):
    # SPF fails, the aligned DKIM signature passes
    r = run(ip="198.51.100.1", msg=dkim_sign(message(), keys["rsa"]))
    assert r.spf == "fail" and r.dkim_results == ["pass"], r
    assert (r.dmarc, r.policy, r.from_domain) == ("pass", "reject", "auth.test"), r


def test_dmarc_pass_by_relaxed_spf(run):
    # MAIL FROM pass.auth.test, From auth.test: same organizational domain
    r = run(msg=message())
    assert r.spf == "pass" and r.dmarc == "pass", r


def test_dmarc_fail_reject(run, keys):
    m = dkim_sign(message(), keys["rsa"]).replace(b"hungry", b"thirsty")
    r = run(ip="198.51.100.1", msg=m)
    assert (r.dmarc, r.policy) == ("fail", "reject"), r


def test_dmarc_fail_unaligned_dkim(run, keys):
    # a valid signature by another organization does not align
    r = run(ip="198.51.100.1", msg=dkim_sign(message(), keys["rsa"], domain="other.test"))
    assert r.dkim == [("pass", "other.test", "rsa", "")], r
    assert (r.dmarc, r.policy) == ("fail", "reject"), r


def test_dmarc_policy_none(run):
    r = run(ip="198.51.100.1", msg=message(frm="bob@monitor.auth.test"))
    assert (r.dmarc, r.policy, r.from_domain) == ("fail", "none", "monitor.auth.test"), r


def test_dmarc_subdomain_policy(run):
    # no _dmarc.sub.auth.test: the org domain's record applies, with sp=
    r = run(ip="198.51.100.1", msg=message(frm="carol@sub.auth.test"))
    assert (r.dmarc, r.policy) == ("fail", "quarantine"), r
    r = run(ip="192.0.2.10", msg=message(frm="carol@sub.auth.test"))
    assert (r.dmarc, r.policy) == ("pass", "quarantine"), r


def test_dmarc_strict_alignment(run, keys):
    frm = "alice@strict.auth.test"
    # relaxed would align (same org domain); strict does not
    r = run(msg=dkim_sign(message(frm=frm), keys["rsa"]))
    assert r.spf == "pass" and r.dkim_results == ["pass"], r
    assert (r.dmarc, r.policy) == ("fail", "reject"), r
    # exact domains align
    r = run(ip="198.51.100.1", msg=dkim_sign(message(frm=frm), keys["rsa"],
                                             domain="strict.auth.test"))
    assert r.dmarc == "pass", r
    r = run(sender="alice@strict.auth.test", msg=message(frm=frm))
    assert (r.spf, r.dmarc) == ("pass", "pass"), r


def test_dmarc_no_record(run):
    r = run(ip="198.51.100.1", msg=message(frm="dave@other.test"))
    assert (r.dmarc, r.policy) == ("none", "none"), r


def test_dmarc_bad_records(run):
    # RFC 7489 6.6.3: DMARC is not applied (none) for a record without a
    # valid p= and without rua=, and for several records; a bad p= with a
    # rua= is read as p=none and evaluated
    r = run(msg=message(frm="eve@broken.auth.test"))
    assert (r.dmarc, r.policy) == ("none", "none"), r
    r = run(msg=message(frm="eve@twice.auth.test"))
    assert (r.dmarc, r.policy) == ("none", "none"), r
    r = run(msg=message(frm="eve@brokenrua.auth.test"))
    assert r.dmarc in ("pass", "fail") and r.policy == "none", r


def test_dmarc_no_from_domain(run):
    r = run(msg=b"Subject: no From\r\n\r\nbody\r\n")
    assert r.dmarc == "none", r
