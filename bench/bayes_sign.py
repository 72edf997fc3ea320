#!/usr/bin/python3
"""Signed copies of the held-out messages for bench/bayes.sh (issue 17).

  bayes_sign.py --in DIR --out DIR --zone FILE [--ttl S]

Each message of --in (sorted by name) is written to --out with CRLF line
ends and a DKIM signature (rsa-sha256, relaxed/relaxed, selector "bench")
of its own domain, s<N>.sign.bench.test, whose key --zone publishes as
unbound local-data, so that scanning it costs what today's mail costs:
the key fetched (a different name per message, so one pass misses every
cache), the body hash and the RSA verification. The signer is
bench/pipeprep.py's. Prints the number of messages written.
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeprep  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--in", dest="src", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--zone", required=True)
    p.add_argument("--ttl", type=int, default=1)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    key = os.path.join(a.out, "..", "sign-key.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", key], check=True, timeout=120, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    pub = pipeprep.pubkey_b64(key)
    t = int(time.time())
    zl = []
    n = 0
    for i, name in enumerate(sorted(os.listdir(a.src))):
        fp = os.path.join(a.src, name)
        if name.startswith(".") or not os.path.isfile(fp):
            continue
        with open(fp, "rb") as f:
            raw = f.read()
        dom = f"s{i}.sign.bench.test"
        # pipeprep's SMTP form: dot-stuffed, ".\r\n" ended, an X-Bench-Item
        # line on top; undone here for a file
        blob = pipeprep.prepare(raw, i, dom, key, t, True)
        lines = blob.split(b"\r\n")[1:-2]
        lines = [l[1:] if l.startswith(b".") else l for l in lines]
        with open(os.path.join(a.out, name), "wb") as f:
            f.write(b"".join(l + b"\r\n" for l in lines))
        zl.append(f'local-data: \'bench._domainkey.{dom}. {a.ttl} IN TXT "v=DKIM1; k=rsa; " '
                  f'"p={pub[:200]}" "{pub[200:]}"\'')
        n += 1
    with open(a.zone, "w") as f:
        f.write("".join("    " + l + "\n" for l in zl))
    print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
