"""A host is a domain whatever its TLD (SPEC 5.1, issue 15): the host of a
URL with a scheme, a www. name, a mailto: target and an address's domain
are looked up even when the public-suffix list does not know the TLD, in
every extraction path (text, HTML attributes, quoted-printable, base64,
Subject), in text of any declared charset (UTF-16/32 with or without BOM,
others through iconv), with protocol-relative URLs in a query and IPv4
hosts read as browsers read them. Through `postern scan` and through the
server, with a real unbound listing badspam.test and badspam2.test."""

import base64
import json
import re

import pytest

from conftest import Server, wait_until
from dnsfixture import ZONES, Unbound

EXTRA_ZONES = '''
    local-data: "badspam.test.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-data: "badspam2.test.dbl.spamhaus.org. 300 IN A 127.0.1.2"
'''
HDR = ("From: Alice <alice@remote.test>\r\nTo: bob@example.test\r\n"
       "Subject: {subject}\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
       "Message-ID: <{token}@remote.test>\r\nMIME-Version: 1.0\r\n")


def b64(data):
    return base64.b64encode(data).decode()


def part(body, ctype="text/plain", cte=None):
    h = "Content-Type: %s\r\n" % ctype
    if cte:
        h += "Content-Transfer-Encoding: %s\r\n" % cte
    return h + "\r\n" + body + "\r\n"


def subject_b64(text):
    return "=?UTF-8?B?%s?=" % b64(text.encode())


SPAM = "URL_DBL_SPAM(badspam.test)"
SPAM2 = "URL_DBL_SPAM(badspam2.test)"

# (name, subject, entity starting with its Content-Type, expected hit)
CASES = [
    ("text_www", "hi", part("Visit www.badspam.test today"), SPAM),
    ("text_mailto", "hi", part("write to mailto:someone@badspam2.test now"), SPAM2),
    ("text_address", "hi", part("orders: sales@badspam2.test"), SPAM2),
    ("text_scheme", "hi", part("see http://badspam.test/offer"), SPAM),
    ("html_href", "hi", part('<a href="http://www.badspam.test/x">x</a>', "text/html"), SPAM),
    ("html_mailto", "hi", part('<a href="mailto:someone@badspam2.test">x</a>', "text/html"),
     SPAM2),
    ("html_text_www", "hi", part("<p>go to www.badspam.test</p>", "text/html"), SPAM),
    ("qp_www", "hi", part("Visit www.badspam=\r\n.test today=3D", cte="quoted-printable"),
     SPAM),
    ("qp_address", "hi", part("mail sales=40badspam2.test", cte="quoted-printable"), SPAM2),
    ("base64_protocol_relative", "hi",
     part(b64(b'<a href="//www.badspam.test/x">x</a>'), "text/html", "base64"), SPAM),
    ("base64_mailto", "hi",
     part(b64(b'<a href="mailto:someone@badspam2.test">x</a>'), "text/html", "base64"), SPAM2),
    ("subject_www", subject_b64("see www.badspam.test"), part("nothing here"), SPAM),
    ("subject_address", subject_b64("write sales@badspam2.test"), part("nothing here"), SPAM2),
    ("query_protocol_relative", "hi",
     part("http://r.example/go?next=%2F%2Fwww.badspam.test%2Fx"), SPAM),
    ("utf16le_no_bom", "hi",
     part(b64("sales@badspam2.test".encode("utf-16-le")), 'text/plain; charset="utf-16"',
          "base64"), SPAM2),
    ("utf16be_bom", "hi",
     part(b64(b"\xfe\xff" + "www.badspam.test".encode("utf-16-be")),
          "text/plain; charset=UTF-16", "base64"), SPAM),
    ("utf32_bom", "hi",
     part(b64("www.badspam.test".encode("utf-32")), "text/plain; charset=utf-32", "base64"),
     SPAM),
    ("utf32le_no_bom", "hi",
     part(b64("sales@badspam2.test".encode("utf-32-le")), "text/plain; charset=utf-32",
          "base64"), SPAM2),
    ("iso8859_2_idn", "hi",
     part(b64("http://b\u00fccher.example/".encode("iso-8859-2")),
          "text/plain; charset=iso-8859-2", "base64"),
     "URL_DBL_SPAM(xn--bcher-kva.example)"),
    ("fullwidth_ipv4", "hi",
     part("http://\uff11\uff19\uff12.0.2.2/x", "text/plain; charset=utf-8", "8bit"),
     "URL_IP_SBL(192.0.2.2)"),
    ("hex_ipv4", "hi", part('<a href="http://0xC0.0.0x2.02/">x</a>', "text/html"),
     "URL_IP_SBL(192.0.2.2)"),
]


def message(name, subject, entity):
    return HDR.format(subject=subject, token="anytld-" + name) + entity + "anytld-%s\r\n" % name


@pytest.fixture(scope="module")
def unbound(tmp_path_factory):
    u = Unbound(tmp_path_factory.mktemp("unbound"), zones=ZONES + EXTRA_ZONES).start()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, unbound):
    s = Server(tmp_path_factory.mktemp("anytld"),
               config={"dns_servers": unbound.address, "dnsbl_timeout": "3s"})
    s.start()
    yield s
    s.teardown()


@pytest.mark.parametrize("name,subject,entity,want", CASES, ids=[c[0] for c in CASES])
def test_any_tld_through_postern_scan(server, tmp_path, name, subject, entity, want):
    eml = tmp_path / "m.eml"
    eml.write_bytes(message(name, subject, entity).encode())
    r = server.cli("scan", "--json", str(eml))
    d = json.loads(r.stdout.strip().splitlines()[0])
    sym, detail = re.fullmatch(r"([A-Z_]+)\((.*)\)", want).groups()
    assert {"symbol": sym, "score": 6.0, "detail": detail} in d["hits"], d["hits"]
    assert d["verdict"] == "junk", d


@pytest.mark.parametrize("name,subject,entity,want", CASES, ids=[c[0] for c in CASES])
def test_any_tld_through_the_server(server, name, subject, entity, want):
    token = "anytld-" + name
    c = server.client(source="127.0.0.50")
    c.expect("EHLO client.test", 250)
    c.expect("MAIL FROM:<alice@remote.test>", 250)
    c.expect("RCPT TO:<bob@example.test>", 250)
    c.expect("DATA", 354)
    c.send(message(name, subject, entity).replace("\r\n.", "\r\n..").encode() + b".\r\n")
    r = c.reply()
    c.cmd("QUIT")
    assert r.code == 250, r
    files = server.wait_for_mail("bob", token=token, folder=".Junk")
    text = files[0].read_text(errors="replace")
    status = re.search(r"^X-Spam-Status: (.*)$", text, re.M).group(1)
    assert want in status, status


def test_ordinary_mail_stays_clean(server, tmp_path):
    """Addresses and www. names of unknown TLDs that nobody lists cost a
    lookup, not a score; a cid: reference is no address."""
    body = ('<p>write to team@corp.internal or see www.intranet.corp, '
            '<img src="cid:image001.png@01D3A1B2.C3D4E5F0"></p>')
    eml = tmp_path / "clean.eml"
    eml.write_bytes(message("clean", "hi", part(body, "text/html")).encode())
    d = json.loads(server.cli("scan", "--json", str(eml)).stdout.strip().splitlines()[0])
    hosts = {i["host"] for i in d["items"]}
    assert {"corp.internal", "www.intranet.corp"} <= hosts, hosts
    assert not [h for h in hosts if "01d3a1b2" in h], hosts
    assert d["verdict"] == "inbox" and d["score"] == 0.0, d
