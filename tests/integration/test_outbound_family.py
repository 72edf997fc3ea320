"""Outbound address family and source addresses (SPEC 9, issue 13 item 5):
`outbound_family = any|ipv4|ipv6` chooses which of the destination's
addresses remote delivery connects to, `outbound_source_ip4` /
`outbound_source_ip6` the address it connects from (the one whose PTR
receivers check). Loopback only: the relay host dual.test has an IPv4
loopback address and ::1, each with a sink on the same port."""

import socket

import pytest

from conftest import fake_dns, free_port, queue_id, simple_message, token
from smtpsink import SMTPSink

V4 = "127.0.1.240"
SRC4 = "127.0.1.241"


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not have_ipv6_loopback(), reason="no ::1 on this machine")


@pytest.fixture
def sinks():
    port = free_port(V4)
    made = [SMTPSink(V4, port).start()]
    if have_ipv6_loopback():
        made.append(SMTPSink("::1", port).start())
    fake_dns().records[("dual.test", 1)] = [V4]
    fake_dns().records[("dual.test", 28)] = ["::1"]
    yield port, made
    for s in made:
        s.stop()


def relay_one(make_server, port, **cfg):
    conf = {"relayhost": "dual.test:%d" % port, "trusted_networks": "127.0.0.0/8"}
    conf.update(cfg)
    srv = make_server(config=conf)
    t = token()
    c = srv.client()
    c.ehlo()
    qid = queue_id(c.send_mail("alice@example.test", ["friend@remote.test"], simple_message(t)))
    c.quit()
    return srv, qid


@needs_ipv6
def test_ipv6_only(make_server, sinks):
    port, (s4, s6) = sinks
    srv, qid = relay_one(make_server, port, outbound_family="ipv6")
    ev = srv.wait_for_log("delivered", id=qid)
    assert "[::1]" in ev[-1].get("relay", ""), ev
    assert len(s6.transactions) == 1 and not s4.transactions


def test_ipv4_only_from_its_source(make_server, sinks):
    port, made = sinks
    s4 = made[0]
    srv, qid = relay_one(make_server, port, outbound_family="ipv4", outbound_source_ip4=SRC4)
    ev = srv.wait_for_log("delivered", id=qid)
    assert "[%s]" % V4 in ev[-1].get("relay", ""), ev
    assert len(s4.transactions) == 1
    assert s4.sessions[-1].peer[0] == SRC4, s4.sessions[-1].peer
    for s in made[1:]:
        assert not s.transactions


def test_bad_values_are_config_errors(make_server):
    srv = make_server(start=False)
    srv.write_config(outbound_family="ipv5", outbound_source_ip4="::1",
                     outbound_source_ip6="192.0.2.1")
    r = srv.cli("check-config", check=False)
    assert r.returncode == 1
    for key in ("outbound_family", "outbound_source_ip4", "outbound_source_ip6"):
        assert key in r.stdout + r.stderr, r.stdout + r.stderr
