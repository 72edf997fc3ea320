"""A certificate authority of the tests, made with the openssl command.

The server under test trusts it through SSL_CERT_FILE (SPEC 12: the
variable names the whole trust store), so a leaf it signs verifies and a
self-signed one, or one for another name, does not:

    ca = TestCA(tmp_path)
    cert, key = ca.leaf("mx.example.test")                 # signed by the CA
    cert, key = ca.leaf("mx.example.test", self_signed=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca.cert))      # before the server starts

Keys are P-256 (fast to make); certificates live 30 days.
"""

import subprocess
from pathlib import Path


def _openssl(*args):
    r = subprocess.run(["openssl", *args], capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), r.stderr.decode()))
    return r.stdout


class TestCA:
    __test__ = False        # not a pytest test class

    def __init__(self, directory, name="Postern Test CA"):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = self.dir / "ca.key"
        self.cert = self.dir / "ca.pem"
        if not self.cert.exists():
            _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-subj", "/CN=" + name, "-days", "30",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                     "-keyout", str(self.key), "-out", str(self.cert))

    def leaf(self, *names, self_signed=False, tag=None):
        """A certificate for names (DNS names or IP addresses, the first
        is the CN) and its key: (cert_path, key_path)."""
        tag = tag or ("%s%s" % (names[0], "-self" if self_signed else ""))
        key = self.dir / ("%s.key" % tag)
        cert = self.dir / ("%s.pem" % tag)
        if cert.exists():
            return cert, key
        san = ",".join(("IP:%s" % n) if n.replace(".", "").isdigit() or ":" in n
                       else ("DNS:%s" % n) for n in names)
        if self_signed:
            _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-subj", "/CN=" + names[0], "-days", "30",
                     "-addext", "subjectAltName=" + san,
                     "-keyout", str(key), "-out", str(cert))
            return cert, key
        csr = self.dir / ("%s.csr" % tag)
        ext = self.dir / ("%s.ext" % tag)
        ext.write_text("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % san)
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-subj", "/CN=" + names[0], "-keyout", str(key), "-out", str(csr))
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
                 "-CAcreateserial", "-days", "30", "-extfile", str(ext), "-out", str(cert))
        return cert, key
