"""DMARC aggregate reports (RFC 7489 7.2) and TLS reports (RFC 8460),
SPEC 12: sent and received.

Sending: inbound mail is evaluated (DMARC on the FakeDNS records below),
`postern dmarc report --now` asks the server for the run it would make
after midnight UTC, and the report arrives at an SMTPSink listening on
the address of the rua domain: gzip'd XML read back with the standard
library. A rua outside the policy domain needs the verification record
of RFC 7489 7.1. TLS reports: mail relayed to a domain that publishes
_smtp._tls, then `postern tlsrpt report --now`, and the JSON checked.

Receiving: report files imported by `postern dmarc import` and a report
mailed to postmaster, summarised by `postern stats --json`; gzip and zip
bombs refused with a log line.
"""

import email
import email.policy
import gzip
import io
import json
import struct
import xml.etree.ElementTree as ET
import zipfile
import zlib

import pytest

from conftest import DOMAIN, fake_dns, free_port, queue_id, token, wait_until
from smtpsink import SMTPSink

SINK_IP = "127.0.1.150"         # rua domains and the TLS-RPT destination
CLIENT_IP = "127.0.1.151"       # the inbound sender's address

# Domains of this module only (FakeDNS is shared by the whole run).
SRC = "dmarcsrc.test"           # p=none, rua external and verified
UNVERIFIED = "dmarcunv.test"    # rua external, no verification record
RUA = "dmarc-collect.test"      # where reports go
TLSDOM = "tlsrcpt.test"         # publishes _smtp._tls
TLSRUA = "tls-collect.test"


def dns_records(sink_ip):
    r = fake_dns().records
    r[(SRC, 16)] = ["v=spf1 ip4:%s -all" % CLIENT_IP]
    r[("_dmarc." + SRC, 16)] = ["v=DMARC1; p=none; rua=mailto:agg@%s" % RUA]
    r[("%s._report._dmarc.%s" % (SRC, RUA), 16)] = ["v=DMARC1"]
    r[(UNVERIFIED, 16)] = ["v=spf1 ip4:%s -all" % CLIENT_IP]
    r[("_dmarc." + UNVERIFIED, 16)] = ["v=DMARC1; p=none; rua=mailto:agg@%s" % RUA]
    r[(RUA, 1)] = [sink_ip]
    r[(TLSDOM, 1)] = [sink_ip]
    r[("_smtp._tls." + TLSDOM, 16)] = ["v=TLSRPTv1; rua=mailto:tls@%s" % TLSRUA]
    r[(TLSRUA, 1)] = [sink_ip]


@pytest.fixture
def sink():
    port = free_port(SINK_IP)
    s = SMTPSink(SINK_IP, port).start()
    dns_records(SINK_IP)
    yield s
    s.stop()


def message(t, from_domain, subject="hello"):
    return ("From: <someone@%s>\r\nTo: <bob@%s>\r\nSubject: %s %s\r\n"
            "Date: Sat, 28 Nov 2026 00:00:00 +0000\r\nMessage-ID: <%s@%s>\r\n\r\n"
            "hello %s\r\n" % (from_domain, DOMAIN, subject, t, t, from_domain, t)).encode()


def send_inbound(srv, mail_from, from_domain):
    t = token()
    c = srv.client(source=CLIENT_IP)
    c.ehlo("mail." + from_domain)
    qid = queue_id(c.send_mail(mail_from, ["bob@%s" % DOMAIN], message(t, from_domain)))
    c.quit()
    srv.wait_for_log("accepted", id=qid)
    return qid


def attachment(raw):
    """The report attachment of a report mail: (content type, filename, bytes)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    for part in msg.walk():
        if part.get_content_disposition() == "attachment":
            return part.get_content_type(), part.get_filename(), part.get_payload(decode=True)
    raise AssertionError("no attachment in %r" % raw[:400])


def report_mails(sink, to, count=1, timeout=30):
    """The transactions that delivered a report to `to` (at least count)."""
    def done():
        return [t for t in sink.transactions if to in t.rcpts and t.accepted]
    wait_until(lambda: len(done()) >= count, timeout, what="%d report(s) to %s" % (count, to))
    return done()


def test_dmarc_aggregate_report_sent(make_server, sink):
    srv = make_server(config={"dmarc_reports": "yes", "outbound_port": str(sink.port)})
    # aligned SPF pass, twice; then a failure (SPF for an unrelated domain)
    send_inbound(srv, "a@" + SRC, SRC)
    send_inbound(srv, "b@" + SRC, SRC)
    send_inbound(srv, "c@" + UNVERIFIED, SRC)
    send_inbound(srv, "d@" + UNVERIFIED, UNVERIFIED)
    day = list((srv.data_dir / "reports" / "dmarc").iterdir())
    assert day and sum(len(p.read_text().splitlines()) for p in day) == 4, day

    r = srv.cli("dmarc", "report", "--now")
    assert r.returncode == 0, r.stderr
    txs = report_mails(sink, "agg@" + RUA)
    ctype, filename, data = attachment(txs[0].data)
    assert ctype == "application/gzip"
    assert filename.startswith("mx.example.test!%s!" % SRC) and filename.endswith(".xml.gz")
    root = ET.fromstring(gzip.decompress(data))
    assert root.tag == "feedback"
    assert root.findtext("report_metadata/org_name") == "mx.example.test"
    assert root.findtext("policy_published/domain") == SRC
    assert root.findtext("policy_published/p") == "none"
    rows = {}
    for rec in root.findall("record"):
        key = (rec.findtext("row/source_ip"), rec.findtext("row/policy_evaluated/spf"))
        rows[key] = int(rec.findtext("row/count"))
        assert rec.findtext("identifiers/header_from") == SRC
        assert rec.findtext("row/policy_evaluated/disposition") == "none"
    assert rows == {(CLIENT_IP, "pass"): 2, (CLIENT_IP, "fail"): 1}, rows
    msg = email.message_from_bytes(txs[0].data, policy=email.policy.default)
    assert msg["Subject"].startswith("Report Domain: %s Submitter: mx.example.test" % SRC)
    assert txs[0].mail_from == ""

    # RFC 7489 7.1: no verification record, no report for that domain
    ev = srv.wait_for_log("report_skipped", domain=UNVERIFIED)
    assert "not verified" in ev[-1].get("reason", ""), ev
    srv.settle()
    assert len(report_mails(sink, "agg@" + RUA)) == 1
    # the evidence is gone: a second run sends nothing
    assert srv.cli("dmarc", "report", "--now").returncode == 0
    srv.wait_for_log("report_run", count=2, kind="dmarc")
    srv.settle()
    assert len(report_mails(sink, "agg@" + RUA)) == 1


def test_dmarc_reports_off_records_nothing(make_server, sink):
    srv = make_server(config={"outbound_port": str(sink.port)})
    send_inbound(srv, "a@" + SRC, SRC)
    assert not (srv.data_dir / "reports" / "dmarc").exists()


def test_tlsrpt_report_sent(make_server, sink):
    srv = make_server(config={"outbound_port": str(sink.port),
                              "trusted_networks": "127.0.0.0/8"})
    c = srv.client()
    c.ehlo()
    t = token()
    qid = queue_id(c.send_mail("alice@" + DOMAIN, ["friend@" + TLSDOM], message(t, DOMAIN)))
    c.quit()
    srv.wait_for_log("delivered", id=qid)
    r = srv.cli("tlsrpt", "report", "--now")
    assert r.returncode == 0, r.stderr
    txs = report_mails(sink, "tls@" + TLSRUA)
    ctype, filename, data = attachment(txs[0].data)
    assert ctype == "application/tlsrpt+gzip"
    assert filename.endswith("!%s!" % TLSDOM + filename.split("!")[2] + "!" +
                             filename.split("!")[3]) and filename.endswith(".json.gz")
    rep = json.loads(gzip.decompress(data))
    assert rep["organization-name"] == "mx.example.test"
    assert rep["date-range"]["start-datetime"].endswith("Z")
    (pol,) = rep["policies"]
    assert pol["policy"]["policy-domain"] == TLSDOM
    assert pol["policy"]["policy-type"] == "no-policy-found"
    # the sink offers no STARTTLS: one session, a failure of that type
    assert pol["summary"]["total-failure-session-count"] == 1, pol
    assert pol["failure-details"][0]["result-type"] == "starttls-not-supported"
    assert pol["failure-details"][0]["receiving-ip"] == SINK_IP
    msg = email.message_from_bytes(txs[0].data, policy=email.policy.default)
    assert msg["TLS-Report-Domain"] == TLSDOM
    assert msg["TLS-Report-Submitter"] == "mx.example.test"
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "tlsrpt"


# ---- received reports ----

def dmarc_xml(report_id, domain=DOMAIN, ip="203.0.113.5", count=7, dkim="pass"):
    return ("""<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata><org_name>google.com</org_name><email>noreply@google.com</email>
    <report_id>%s</report_id>
    <date_range><begin>1700000000</begin><end>1700086399</end></date_range>
  </report_metadata>
  <policy_published><domain>%s</domain><adkim>r</adkim><aspf>r</aspf><p>none</p>
    <sp>none</sp><pct>100</pct></policy_published>
  <record><row><source_ip>%s</source_ip><count>%d</count>
    <policy_evaluated><disposition>none</disposition><dkim>%s</dkim><spf>fail</spf>
    </policy_evaluated></row>
    <identifiers><header_from>%s</header_from></identifiers>
    <auth_results><dkim><domain>%s</domain><result>%s</result></dkim>
      <spf><domain>%s</domain><result>fail</result></spf></auth_results></record>
</feedback>
""" % (report_id, domain, ip, count, dkim, domain, domain, dkim, domain)).encode()


def stats(srv):
    return json.loads(srv.cli("stats", "--json").stdout)


def test_dmarc_import_and_stats(make_server, tmp_path):
    srv = make_server()
    before = stats(srv)
    assert before["dmarc_reports"]["reports"] == 0 and before["tls_reports"]["reports"] == 0
    f = tmp_path / "google.com!example.test!1700000000!1700086399.xml.gz"
    f.write_bytes(gzip.compress(dmarc_xml("r-1")))
    z = tmp_path / "other.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("report.xml", dmarc_xml("r-2", ip="198.51.100.66", count=3, dkim="fail"))
    r = srv.cli("dmarc", "import", str(f), str(z))
    assert "DMARC report from google.com" in r.stdout, r.stdout
    s = stats(srv)["dmarc_reports"]
    assert s["reports"] == 2 and s["messages"] == 10 and s["pass"] == 7 and s["fail"] == 3, s
    senders = {x["source_ip"]: x for x in s["senders"]}
    assert senders["203.0.113.5"]["messages"] == 7
    assert [x["source_ip"] for x in s["failing"]] == ["198.51.100.66"]
    # the same report again is not counted twice
    r = srv.cli("dmarc", "import", str(f))
    assert "already imported" in r.stdout
    assert stats(srv)["dmarc_reports"]["reports"] == 2
    text = srv.cli("stats").stdout
    assert "who sends as us" in text and "198.51.100.66" in text
    # a report about someone else's domain is refused
    other = tmp_path / "other.xml"
    other.write_bytes(dmarc_xml("r-3", domain="elsewhere.test"))
    r = srv.cli("dmarc", "import", str(other), check=False)
    assert r.returncode == 1 and "not one of our domains" in r.stderr


def test_bombs_refused(make_server, tmp_path):
    srv = make_server()
    gz = tmp_path / "bomb.xml.gz"
    # 64 MiB of spaces after a valid start: ~64 KiB compressed
    gz.write_bytes(gzip.compress(b"<feedback>" + b" " * (64 << 20), 9))
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("report.xml", b"<feedback>" + b" " * (64 << 20))
    for path in (gz, z):
        assert path.stat().st_size < 1 << 20
        r = srv.cli("dmarc", "import", str(path), check=False)
        assert r.returncode == 1, r.stdout
        assert "compression bomb" in r.stderr, r.stderr
    srv.wait_for_log("warning", file=str(gz))
    assert stats(srv)["dmarc_reports"]["reports"] == 0
    # not what it claims: refused with a reason, never a crash
    junk = tmp_path / "junk.xml"
    junk.write_bytes(b"<feedback><report_metadata><org_name>x</org_name></report_metadata>")
    r = srv.cli("dmarc", "import", str(junk), check=False)
    assert r.returncode == 1 and "cut short" in r.stderr, r.stderr
    assert srv.alive()


def mailed_report(t, kind):
    """A report mail as Google and Microsoft send them."""
    if kind == "dmarc":
        att = gzip.compress(dmarc_xml("mailed-" + t, ip="192.0.2.44", count=5))
        ctype, name = "application/gzip", "google.com!example.test!1!2.xml.gz"
        head = "Subject: Report Domain: example.test Submitter: google.com Report-ID: <%s>\r\n" % t
    else:
        att = gzip.compress(json.dumps(tls_json("mailed-" + t)).encode())
        ctype, name = "application/tlsrpt+gzip", "google.com!example.test!1!2.json.gz"
        head = ("Subject: Report Domain: example.test Submitter: google.com Report-ID: <%s>\r\n"
                "TLS-Report-Domain: example.test\r\nTLS-Report-Submitter: google.com\r\n" % t)
    import base64
    b64 = base64.encodebytes(att).decode().replace("\n", "\r\n")
    return ("From: <noreply-dmarc-support@google.test>\r\nTo: <postmaster@example.test>\r\n%s"
            "Date: Sat, 28 Nov 2026 00:00:00 +0000\r\nMessage-ID: <%s@google.test>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            "--b1\r\nContent-Type: text/plain\r\n\r\nreport\r\n--b1\r\nContent-Type: %s; name=\"%s\"\r\n"
            "Content-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            "%s\r\n--b1--\r\n" % (head, t, ctype, name, name, b64)).encode()


def tls_json(report_id, domain=DOMAIN):
    return {
        "organization-name": "Google Inc.",
        "date-range": {"start-datetime": "2026-11-27T00:00:00Z",
                       "end-datetime": "2026-11-27T23:59:59Z"},
        "contact-info": "smtp-tls-reporting@google.com",
        "report-id": report_id,
        "policies": [{
            "policy": {"policy-type": "sts", "policy-domain": domain,
                       "policy-string": ["version: STSv1", "mode: enforce"]},
            "summary": {"total-successful-session-count": 40, "total-failure-session-count": 2},
            "failure-details": [{"result-type": "certificate-expired",
                                 "sending-mta-ip": "209.85.0.1",
                                 "receiving-mx-hostname": "mx.example.test",
                                 "failed-session-count": 2}]}],
    }


def test_reports_mailed_to_us_are_imported(make_server):
    srv = make_server()
    for kind in ("dmarc", "tlsrpt"):
        t = token()
        c = srv.client(source=CLIENT_IP)
        c.ehlo("mail.google.test")
        queue_id(c.send_mail("noreply@google.test", ["postmaster@" + DOMAIN], mailed_report(t, kind)))
        c.quit()
    wait_until(lambda: stats(srv)["dmarc_reports"]["reports"] == 1 and
               stats(srv)["tls_reports"]["reports"] == 1, 20, what="reports imported")
    s = stats(srv)
    assert s["dmarc_reports"]["senders"][0]["source_ip"] == "192.0.2.44"
    assert s["tls_reports"]["success"] == 40 and s["tls_reports"]["failure"] == 2
    assert s["tls_reports"]["failures"][0]["result_type"] == "certificate-expired"
    srv.wait_for_log("report_import", kind="tlsrpt")
    # the mail itself is delivered as any other
    srv.wait_for_mail("postmaster", count=2)


def test_tlsrpt_import_file(make_server, tmp_path):
    srv = make_server()
    f = tmp_path / "tls.json"
    f.write_text(json.dumps(tls_json("file-1")))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"organization-name": "x"}))
    r = srv.cli("tlsrpt", "import", str(f), str(bad), check=False)
    assert r.returncode == 1 and "TLS report refused" in r.stderr, r.stderr
    s = stats(srv)["tls_reports"]
    assert s["reports"] == 1 and s["failure"] == 2, s
