"""https_listen (SPEC 9, 12): Thunderbird autoconfig, Outlook autodiscover
and the MTA-STS policy over HTTPS with the server's own certificate.

Requests go through Python's urllib with certificate verification on (the
test's certificate names mx.example.test and 127.0.0.1), as a mail client
or a sending MTA would fetch them.
"""

import signal
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from conftest import DOMAIN, HOSTNAME, free_port, wait_until

TB_NS = ""
AD_NS = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"

AUTODISCOVER_REQUEST = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/'
    'requestschema/2006">\n  <Request>\n    <EMailAddress>%s</EMailAddress>\n'
    '    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/'
    'outlook/responseschema/2006a</AcceptableResponseSchema>\n  </Request>\n'
    '</Autodiscover>\n')


def make_san_cert(directory, serial):
    cert, key = directory / ("web%d.pem" % serial), directory / ("web%d.key" % serial)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
         "/CN=" + HOSTNAME, "-days", "2", "-set_serial", str(serial),
         "-addext", "subjectAltName=DNS:%s,IP:127.0.0.1" % HOSTNAME,
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def web(make_server, tmp_path):
    cert, key = make_san_cert(tmp_path, 7)
    port = free_port()
    srv = make_server(config={"tls_cert": str(cert), "tls_key": str(key),
                              "https_listen": "127.0.0.1:%d" % port})
    ctx = ssl.create_default_context(cafile=str(cert))
    return srv, port, ctx, tmp_path


def fetch(port, ctx, path, data=None, method=None, headers=None):
    req = urllib.request.Request("https://127.0.0.1:%d%s" % (port, path), data=data,
                                 method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def servers_of_thunderbird(xml):
    root = ET.fromstring(xml)
    assert root.tag == "clientConfig" and root.get("version") == "1.1"
    prov = root.find("emailProvider")
    out = []
    for tag in ("incomingServer", "outgoingServer"):
        for s in prov.findall(tag):
            out.append((s.get("type"), s.findtext("hostname"), int(s.findtext("port")),
                        s.findtext("socketType"), s.findtext("username")))
    return prov.findtext("domain"), sorted(out)


EXPECTED_TB = sorted([
    ("imap", HOSTNAME, 993, "SSL", "%EMAILADDRESS%"),
    ("smtp", HOSTNAME, 465, "SSL", "%EMAILADDRESS%"),
    ("smtp", HOSTNAME, 587, "STARTTLS", "%EMAILADDRESS%"),
])


@pytest.mark.parametrize("path", ["/.well-known/autoconfig/mail/config-v1.1.xml",
                                  "/mail/config-v1.1.xml"])
def test_thunderbird_autoconfig(web, path):
    srv, port, ctx, _ = web
    status, ctype, body = fetch(port, ctx, path + "?emailaddress=bob%40" + DOMAIN)
    assert status == 200 and "xml" in ctype, (status, ctype, body)
    domain, servers = servers_of_thunderbird(body)
    assert domain == DOMAIN
    assert servers == EXPECTED_TB
    # without the address: the domain from the Host, else the first one
    status, _, body = fetch(port, ctx, path)
    assert status == 200 and servers_of_thunderbird(body)[0] == DOMAIN
    # someone else's domain is not ours to configure
    status, _, _ = fetch(port, ctx, path + "?emailaddress=eve%40elsewhere.test")
    assert status == 404


def test_outlook_autodiscover(web):
    srv, port, ctx, _ = web
    status, ctype, body = fetch(port, ctx, "/autodiscover/autodiscover.xml",
                                data=(AUTODISCOVER_REQUEST % ("bob@" + DOMAIN)).encode(),
                                headers={"Content-Type": "text/xml"})
    assert status == 200 and "xml" in ctype, (status, body)
    acct = ET.fromstring(body).find(AD_NS + "Response").find(AD_NS + "Account")
    protos = sorted((p.findtext(AD_NS + "Type"), p.findtext(AD_NS + "Server"),
                     int(p.findtext(AD_NS + "Port")), p.findtext(AD_NS + "LoginName"),
                     p.findtext(AD_NS + "Encryption"))
                    for p in acct.findall(AD_NS + "Protocol"))
    assert protos == sorted([("IMAP", HOSTNAME, 993, "bob@" + DOMAIN, "SSL"),
                             ("SMTP", HOSTNAME, 465, "bob@" + DOMAIN, "SSL"),
                             ("SMTP", HOSTNAME, 587, "bob@" + DOMAIN, "TLS")])
    # the same path in Outlook's capitals
    status, _, _ = fetch(port, ctx, "/Autodiscover/Autodiscover.xml",
                         data=(AUTODISCOVER_REQUEST % ("bob@" + DOMAIN)).encode())
    assert status == 200


@pytest.mark.parametrize("body,code", [
    (b"", 400),
    (b"<html>hello</html>", 400),
    (b"<Autodiscover><Request></Request></Autodiscover>", 400),
    (b"<Autodiscover><Request><EMailAddress>no-at-sign</EMailAddress></Request>"
     b"</Autodiscover>", 400),
    (b"<Autodiscover><Request><EMailAddress>a<b@example.test</EMailAddress></Request>"
     b"</Autodiscover>", 400),
    (b"<Autodiscover><Request><EMailAddress>eve@elsewhere.test</EMailAddress></Request>"
     b"</Autodiscover>", 404),
    (b"<Autodiscover><Request><EMailAddress>" + b"a" * 20000, 413),
], ids=["empty", "html", "no-address", "no-at", "xml-special", "foreign", "too-large"])
def test_autodiscover_malformed_body(web, body, code):
    srv, port, ctx, _ = web
    try:
        status, _, text = fetch(port, ctx, "/autodiscover/autodiscover.xml", data=body)
    except urllib.error.URLError as e:
        # over the body cap libevent may drop the connection instead of a 413
        status, text = (413 if code == 413 else None), str(e)
    assert status == code, (status, text)
    # and the server goes on serving
    assert fetch(port, ctx, "/mail/config-v1.1.xml")[0] == 200


def test_autodiscover_needs_post(web):
    _, port, ctx, _ = web
    assert fetch(port, ctx, "/autodiscover/autodiscover.xml")[0] == 405


def test_mta_sts_policy(web):
    srv, port, ctx, _ = web
    status, ctype, body = fetch(port, ctx, "/.well-known/mta-sts.txt")
    assert status == 200 and ctype.startswith("text/plain")
    # RFC 8461 3.2: CRLF-terminated key: value lines, version first
    lines = body.split("\r\n")
    assert lines[0] == "version: STSv1" and lines[-1] == ""
    fields = dict(l.split(": ", 1) for l in lines[1:-1])
    assert fields == {"mode": "testing", "mx": HOSTNAME, "max_age": "604800"}
    srv.write_config(mta_sts_mode="enforce")
    srv.reload()
    assert "mode: enforce\r\n" in fetch(port, ctx, "/.well-known/mta-sts.txt")[2]
    assert fetch(port, ctx, "/nothing-here")[0] == 404


def test_mta_sts_mode_is_checked(make_server):
    srv = make_server(start=False)
    srv.write_config(mta_sts_mode="strict")
    r = srv.cli("check-config", check=False)
    assert r.returncode == 1 and "mta_sts_mode" in r.stdout + r.stderr


def test_https_serves_the_reloaded_certificate(web):
    srv, port, ctx, tmp_path = web
    cert, key = make_san_cert(tmp_path, 8)
    srv.write_config(tls_cert=str(cert), tls_key=str(key))
    srv.reload()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ssl.create_default_context(cafile=str(cert)).wrap_socket(
                raw, server_hostname=HOSTNAME) as tls:
            der = tls.getpeercert(binary_form=True)
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-serial"],
                         input=der, capture_output=True, check=True, timeout=30).stdout
    assert out.decode().strip() == "serial=08"


def test_no_plain_http_on_the_https_port(web):
    _, port, _, _ = web
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: x\r\n\r\n")
        s.settimeout(10)
        try:
            data = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            data = b""
    assert b"STSv1" not in data
