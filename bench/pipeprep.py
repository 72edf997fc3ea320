#!/usr/bin/python3
"""Prepare the load of bench/pipeline.sh (stdlib and the openssl command only).

  pipeprep.py --corpus DIR --out DIR --clients N --ttl S --dqs-key KEY
              [--dkim all|none] [--seed N]

Writes to --out:
  data.bin    every corpus message (ham/ and spam/), mbox "From " line
              removed, CRLF line ends, DKIM-signed, an X-Bench-Item: N header
              on top (for the verdict tables), dot-stuffed, ".\\r\\n" ended
  plan.tsv    one item per message: OFFSET LEN SRCIP HELO MAILFROM RCPT, in a
              fixed shuffled order (ham and spam mixed); bench/loadgen reads it
  items.tsv   item, label, client, corpus file (for the verdict tables)
  clients.tsv client, source IP, HELO/PTR name, sender domain, listing
  zones.conf  unbound "local-zone"/"local-data" lines: per client a PTR and
              its forward A, an SPF record (ip4, a/mx or include: forms), a
              DKIM key (selector "bench"), a DMARC p=none record; listings
              in zen, the DBL and their DQS twins (KEY.zen.dq.spamhaus.net,
              KEY.dbl.dq.spamhaus.net): the Spamhaus test points, a few
              clients (XBL, PBL), a few sender domains (DBL), and items
              found in the corpus's spam (the same as bench/scan.sh's)
  dkim.pem    the signing key
Prints key=value: messages, ham, spam, octets, clients, listed_* counts.

No corpus message carries a DKIM-Signature (they date from 2002-2005), and
nobody can sign as their original domains: every message is signed instead
with d=<its client's sender domain>, s=bench (rsa-sha256, relaxed/relaxed),
the key published in the private DNS, so that every filter does the full
verification (body hash and RSA) a modern message costs.
"""

import argparse
import base64
import hashlib
import os
import random
import re
import subprocess
import sys
import time

# listings also used by bench/scan.sh: domains and IPs of the corpus's spam
CORPUS_DBL = {
    "insuranceiq.com": "127.0.1.2",
    "sendgreatoffers.com": "127.0.1.2",
    "admanmail.com": "127.0.1.2",
    "adclick.ws": "127.0.1.2",
    "btamail.net.cn": "127.0.1.4",
}
CORPUS_ZEN = {"65.217.159.66": "127.0.0.2", "65.217.159.103": "127.0.0.2"}
SIGNED = ["from", "to", "subject", "date", "message-id"]


def client_ip(i):
    return f"127.{30 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}"


def rev(ip):
    return ".".join(reversed(ip.split(".")))


# ---------------------------------------------------------------- DKIM
def relaxed_body(lines):
    out = []
    for l in lines:
        l = re.sub(rb"[ \t]+", b" ", l).rstrip(b" \t")
        out.append(l)
    while out and out[-1] == b"":
        out.pop()
    return b"".join(l + b"\r\n" for l in out)


def relaxed_header(name, value):
    v = re.sub(rb"\r\n", b"", value)
    v = re.sub(rb"[ \t]+", b" ", v).strip(b" \t")
    return name.lower().strip() + b":" + v


def split_headers(head_lines):
    """[(name, raw value including folded continuation lines)]"""
    hs = []
    for l in head_lines:
        if l[:1] in (b" ", b"\t") and hs:
            hs[-1][1] += b"\r\n" + l
        elif b":" in l:
            n, _, v = l.partition(b":")
            hs.append([n, v])
    return hs


def dkim_sign(head_lines, body_lines, domain, keyfile, t):
    hs = split_headers(head_lines)
    bh = base64.b64encode(hashlib.sha256(relaxed_body(body_lines)).digest()).decode()
    chosen, names = [], []
    for want in SIGNED:
        for n, v in reversed(hs):  # the last instance is signed (RFC 6376 5.4.2)
            if n.strip().lower().decode("ascii", "replace") == want:
                chosen.append(relaxed_header(n, v))
                names.append(want)
                break
    sig = (f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=bench; t={t};"
           f" h={':'.join(names)}; bh={bh}; b=")
    data = b"".join(h + b"\r\n" for h in chosen)
    data += relaxed_header(b"DKIM-Signature", b" " + sig.encode())
    b = subprocess.run(["openssl", "dgst", "-sha256", "-sign", keyfile], input=data,
                       stdout=subprocess.PIPE, check=True, timeout=30).stdout
    return b"DKIM-Signature: " + sig.encode() + base64.b64encode(b)


def prepare(raw, item, domain, keyfile, t, sign):
    if raw.startswith(b"From "):
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    lines = [l[:-1] if l.endswith(b"\r") else l for l in raw.split(b"\n")]
    if lines and lines[-1] == b"":
        lines.pop()
    try:
        sep = lines.index(b"")
        head, body = lines[:sep], lines[sep + 1:]
    except ValueError:
        head, body = lines, []
    if sign and head:
        lines = [dkim_sign(head, body, domain, keyfile, t)] + lines
    # not signed, ignored by every filter: which item a delivered file is
    lines = [b"X-Bench-Item: %d" % item] + lines
    out = bytearray()
    for l in lines:
        if l.startswith(b"."):
            out += b"."
        out += l + b"\r\n"
    out += b".\r\n"
    return bytes(out)


def pubkey_b64(keyfile):
    der = subprocess.run(["openssl", "pkey", "-in", keyfile, "-pubout", "-outform", "DER"],
                         stdout=subprocess.PIPE, check=True, timeout=30).stdout
    return base64.b64encode(der).decode()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--corpus", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--ttl", type=int, default=1)
    p.add_argument("--dqs-key", required=True)
    p.add_argument("--dkim", choices=["all", "none"], default="all")
    p.add_argument("--seed", type=int, default=18)
    p.add_argument("--rcpt", default="user@bench.test")
    a = p.parse_args()
    if not 1 <= a.clients <= 100000:
        sys.exit("pipeprep: --clients must be 1..100000")
    os.makedirs(a.out, exist_ok=True)
    key = os.path.join(a.out, "dkim.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", key], check=True, timeout=120, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    pub = pubkey_b64(key)

    files = []
    for label in ("ham", "spam"):
        d = os.path.join(a.corpus, label)
        for name in sorted(os.listdir(d)):
            fp = os.path.join(d, name)
            if not name.startswith(".") and os.path.isfile(fp):
                files.append((label, fp))
    random.Random(a.seed).shuffle(files)

    ttl = a.ttl
    zl = []  # zone lines
    dqs_zen = f"{a.dqs_key}.zen.dq.spamhaus.net"
    dqs_dbl = f"{a.dqs_key}.dbl.dq.spamhaus.net"

    def zen(ip, code):
        for z in ("zen.spamhaus.org", dqs_zen):
            zl.append(f'local-data: "{rev(ip)}.{z}. {ttl} IN A {code}"')

    def dbl(dom, code):
        for z in ("dbl.spamhaus.org", dqs_dbl):
            # redirect: the domain and every name below it are listed
            zl.append(f'local-zone: "{dom}.{z}." redirect')
            zl.append(f'local-data: "{dom}.{z}. {ttl} IN A {code}"')

    for z in ("zen.spamhaus.org", dqs_zen, "dbl.spamhaus.org", dqs_dbl):
        zl.append(f'local-zone: "{z}." static')
        # negative answers carry the zone's SOA, as real zones' do: a
        # resolver caches "not listed" for the SOA's minimum (RFC 2308),
        # the same TTL as every record here, never longer
        zl.append(f'local-data: "{z}. {ttl} IN SOA ns.bench.test. hostmaster.bench.test. '
                  f'1 3600 600 86400 {ttl}"')
    for code in ("127.0.0.2", "127.0.0.4", "127.0.0.10"):
        zen("127.0.0.2", code)
    dbl("dbltest.com", "127.0.1.2")
    for ip, code in CORPUS_ZEN.items():
        zen(ip, code)
    for dom, code in CORPUS_DBL.items():
        dbl(dom, code)

    clients = []
    listed = {"zen_xbl": 0, "zen_pbl": 0, "dbl_sender": 0}
    for i in range(a.clients):
        ip = client_ip(i)
        dom = f"c{i}.test"
        host = f"mx{i}.{dom}"
        listing = "-"
        zl.append(f'local-data: "{rev(ip)}.in-addr.arpa. {ttl} IN PTR {host}."')
        zl.append(f'local-data: "{host}. {ttl} IN A {ip}"')
        if i % 3 == 0:
            spf = f"v=spf1 ip4:{ip} -all"
        elif i % 3 == 1:
            spf = "v=spf1 a:" + host + " mx -all"
            zl.append(f'local-data: "{dom}. {ttl} IN MX 10 {host}."')
        else:
            spf = f"v=spf1 include:_spf.{dom} ~all"
            zl.append(f'local-data: \'_spf.{dom}. {ttl} IN TXT "v=spf1 ip4:{ip}/32 -all"\'')
        zl.append(f'local-data: \'{dom}. {ttl} IN TXT "{spf}"\'')
        zl.append(f'local-data: \'_dmarc.{dom}. {ttl} IN TXT "v=DMARC1; p=none"\'')
        zl.append(f'local-data: \'bench._domainkey.{dom}. {ttl} IN TXT "v=DKIM1; k=rsa; " '
                  f'"p={pub[:200]}" "{pub[200:]}"\'')
        # a few listings: 4% of the clients in zen, 2% of the senders in the DBL
        if i % 50 == 7:
            zen(ip, "127.0.0.4")
            listing = "zen-xbl"
            listed["zen_xbl"] += 1
        elif i % 50 == 31:
            zen(ip, "127.0.0.11")
            listing = "zen-pbl"
            listed["zen_pbl"] += 1
        elif i % 50 == 13:
            dbl(dom, "127.0.1.2")
            listing = "dbl-sender"
            listed["dbl_sender"] += 1
        clients.append((i, ip, host, dom, listing))

    t = int(time.time())
    octets = 0
    with open(os.path.join(a.out, "data.bin"), "wb") as df, \
            open(os.path.join(a.out, "plan.tsv"), "w") as pf, \
            open(os.path.join(a.out, "items.tsv"), "w") as itf:
        off = 0
        for k, (label, fp) in enumerate(files):
            ci = k % a.clients
            _, ip, host, dom, _ = clients[ci]
            with open(fp, "rb") as f:
                raw = f.read()
            blob = prepare(raw, k, dom, key, t, a.dkim == "all")
            df.write(blob)
            pf.write(f"{off}\t{len(blob)}\t{ip}\t{host}\tnews@{dom}\t{a.rcpt}\n")
            itf.write(f"{k}\t{label}\t{ci}\t{fp}\n")
            off += len(blob)
            octets += len(raw)
    with open(os.path.join(a.out, "clients.tsv"), "w") as f:
        for c in clients:
            f.write("\t".join(str(x) for x in c) + "\n")
    with open(os.path.join(a.out, "zones.conf"), "w") as f:
        f.write("".join("    " + l + "\n" for l in zl))
    print(f"messages={len(files)}")
    print(f"ham={sum(1 for l, _ in files if l == 'ham')}")
    print(f"spam={sum(1 for l, _ in files if l == 'spam')}")
    print(f"octets={octets}")
    print(f"clients={a.clients}")
    for k, v in listed.items():
        print(f"listed_{k}={v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
