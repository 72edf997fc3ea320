"""The server watches its own reputation (SPEC 9): `postern serve` runs the
doctor's zen, dbl, ptr and certificate checks at start and every
doctor_interval, and raises `event=alert kind=reputation` (one per listed
address, naming every list, with the removal link) or `kind=certificate`
(expiry within 14 days), not again while the finding is unchanged, again
after it cleared and came back; nothing for what could not be checked.
A real unbound serves the zones (dnsfixture.py plus rep.test below).
"""

import re
import subprocess

import pytest

from conftest import DOMAIN, HOSTNAME, wait_until
from dnsfixture import ZONES, Unbound

BOB = "bob@%s" % DOMAIN

REP_ZONES = ZONES + r'''
    local-zone: "example.test." static
    local-data: "mx.example.test. 300 IN A 127.0.0.2"
    local-data: "mx.example.test. 300 IN A 127.0.0.10"
    local-data: "mx.example.test. 300 IN A 127.0.0.40"
    local-data: "2.0.0.127.in-addr.arpa. 300 IN PTR mx.example.test."
    local-data: "10.0.0.127.in-addr.arpa. 300 IN PTR mx.example.test."
    local-data: "40.0.0.127.in-addr.arpa. 300 IN PTR mx.example.test."
'''


@pytest.fixture(scope="module")
def unbound(tmp_path_factory):
    u = Unbound(tmp_path_factory.mktemp("unbound-reputation"), zones=REP_ZONES).start()
    yield u
    u.stop()


def watched(make_server, unbound, tls=False, **config):
    cfg = {"dns_servers": unbound.address, "doctor_interval": "1s",
           "alert_address": BOB}
    cfg.update(config)
    return make_server(tls=tls, config=cfg)


def alerts(srv, kind, **match):
    return srv.events("alert", kind=kind, **match)


def test_listed_address_alerts_once_per_address_naming_the_lists(make_server, unbound):
    srv = watched(make_server, unbound, public_ip="127.0.0.2 127.0.0.10")
    srv.wait_for_log("alert", kind="reputation", check="zen", ip="127.0.0.2")
    srv.wait_for_log("alert", kind="reputation", check="zen", ip="127.0.0.10")
    # several runs later: still one alert each, the finding is unchanged
    runs = len(srv.events("reputation_check"))
    srv.wait_for_log("reputation_check", count=runs + 3, timeout=15)
    a2 = alerts(srv, "reputation", ip="127.0.0.2")
    a10 = alerts(srv, "reputation", ip="127.0.0.10")
    assert len(a2) == 1 and len(a10) == 1, srv.events("alert")
    for lst in ("SBL", "XBL", "PBL"):
        assert "%s listed" % lst in a2[0]["reason"], a2
    assert "PBL listed" in a10[0]["reason"] and "SBL not listed" in a10[0]["reason"]
    assert "https://check.spamhaus.org/" in a2[0]["fix"]
    assert a2[0]["status"] == "fail"
    # the PTRs are right, the domain is not listed: nothing else raised
    assert [e for e in alerts(srv, "reputation") if e.get("check") != "zen"] == []
    # one mail per listed address, saying what and how
    files = srv.wait_for_mail("bob", count=2, timeout=10)
    texts = [f.read_text(errors="replace") for f in files]
    assert any("127.0.0.2" in t and "check.spamhaus.org" in t for t in texts), texts
    assert any("127.0.0.10" in t for t in texts), texts


def test_cleared_finding_is_forgotten_and_raised_when_it_returns(make_server, unbound):
    srv = watched(make_server, unbound, public_ip="127.0.0.2")
    srv.wait_for_log("alert", kind="reputation", ip="127.0.0.2")
    # the address changes to a clean one: that run raises nothing
    srv.write_config(public_ip="127.0.0.40")
    srv.reload()
    wait_until(lambda: [e for e in srv.events("reputation_check")
                        if e.get("ips") == "1" and e.get("problems") == "0"], 10,
               what="a clean run after the reload")
    assert len(alerts(srv, "reputation")) == 1
    # back to the listed one: news again
    srv.write_config(public_ip="127.0.0.2")
    srv.reload()
    srv.wait_for_log("alert", kind="reputation", ip="127.0.0.2", count=2)


def test_healthy_address_raises_nothing(make_server, unbound):
    srv = watched(make_server, unbound, public_ip="127.0.0.40")
    srv.wait_for_log("reputation_check", count=3, timeout=15)
    assert alerts(srv, "reputation") == [] and alerts(srv, "certificate") == []
    assert all(e["problems"] == "0" for e in srv.events("reputation_check"))


def test_what_cannot_be_checked_is_not_a_listing(make_server, unbound):
    """zen answers only errors (127.255.255.254): that is the dnsbl alert's
    business, not a reputation finding."""
    srv = watched(make_server, unbound, public_ip="127.0.0.2",
                  dnsbl_ip_zone="zen-broken.test", dnsbl_domain_zone="dbl-broken.test")
    srv.wait_for_log("reputation_check", count=2, timeout=15)
    assert alerts(srv, "reputation") == [], srv.events("alert")


def test_certificate_expiring_within_14_days_alerts_once(make_server, unbound, tmp_path):
    cert, key = tmp_path / "soon.pem", tmp_path / "soon.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", "/CN=" + HOSTNAME, "-addext", "subjectAltName=DNS:" + HOSTNAME,
                    "-days", "5", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    srv = watched(make_server, unbound, public_ip="127.0.0.40",
                  tls_cert=str(cert), tls_key=str(key))
    a = srv.wait_for_log("alert", kind="certificate")
    assert a[0]["name"] == HOSTNAME
    # five days from the openssl run, counted in whole days
    assert re.search(r"expires in [45] days", a[0]["reason"]), a
    runs = len(srv.events("reputation_check"))
    srv.wait_for_log("reputation_check", count=runs + 2, timeout=15)
    assert len(alerts(srv, "certificate")) == 1


def test_doctor_interval_is_a_duration(make_server, unbound):
    srv = watched(make_server, unbound, public_ip="127.0.0.40")
    srv.write_config(doctor_interval="soon")
    r = srv.cli("check-config", check=False)
    assert r.returncode == 1 and "doctor_interval" in r.stderr
