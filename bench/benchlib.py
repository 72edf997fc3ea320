#!/usr/bin/python3
"""Helpers for bench/inbound.sh (stdlib only, every loop bounded in time).

Subcommands:
  wait-port HOST PORT TIMEOUT
      exit 0 once HOST:PORT accepts a TCP connection, 1 after TIMEOUT s.
  dns-check PORT NAME TIMEOUT [A|PTR] [HOST]
      send one A (or PTR) query for NAME to HOST (default 127.0.0.1):PORT,
      print the rcode/answers.
  load --root-pid PID (--maildir DIR [--maildir DIR] | --sink-counter FILE)
       --count N --send-timeout S --deliver-timeout S -- smtp-source ARGS...
      run smtp-source (wall time = accepted), poll the Maildir new/
      directories until N files are there, or the output of `smtp-sink -c`
      until its message counter has grown by N (delivered), and sample the
      memory of PID and all its descendants meanwhile.  Prints key=value.
  sink-count FILE
      print the message counter of `smtp-sink -c` (its last "mesg=N").
  idle --host H --port P --count N --pid PID --timeout S
      VmRSS of PID (and descendants) before and after opening N idle SMTP
      sessions that read the banner and hold.  Prints key=value.
"""

import argparse
import os
import signal
import socket
import selectors
import struct
import subprocess
import sys
import threading
import time


# ---------------------------------------------------------------- /proc utils

def _status_kib(pid, fields):
    """Return {field: KiB} from /proc/PID/status, or None if gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in fields:
                    out[k] = int(v.split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return out


def _pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _ppid_map():
    m = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            # comm may contain spaces/parens: split after the last ')'
            rest = s[s.rindex(")") + 2:].split()
            m[int(d)] = int(rest[1])
        except (OSError, ValueError, IndexError):
            continue
    return m


def process_tree(root):
    """root and all its descendants that are alive now."""
    m = _ppid_map()
    children = {}
    for pid, ppid in m.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in m or p == root:
            tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


class Sampler(threading.Thread):
    """Every INTERVAL s, sum VmHWM, VmRSS and Pss over the process tree of
    ROOT; keep the maximum of each sum over the run."""

    def __init__(self, root, interval=0.25):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.stop_ev = threading.Event()
        self.peak_hwm = self.peak_rss = self.peak_pss = 0
        self.peak_procs = 0
        self.samples = 0
        self.names = set()

    def sample(self):
        hwm = rss = pss = n = 0
        for pid in process_tree(self.root):
            st = _status_kib(pid, ("VmHWM", "VmRSS"))
            if not st:
                continue
            n += 1
            hwm += st.get("VmHWM", 0)
            rss += st.get("VmRSS", 0)
            pss += _pss_kib(pid)
            c = _comm(pid)
            if c != "?":
                self.names.add(c)
        self.peak_hwm = max(self.peak_hwm, hwm)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_procs = max(self.peak_procs, n)
        self.samples += 1

    def run(self):
        while not self.stop_ev.is_set():
            self.sample()
            self.stop_ev.wait(self.interval)

    def stop(self):
        self.stop_ev.set()
        self.join(timeout=10)
        self.sample()


# ---------------------------------------------------------------- commands

def cmd_wait_port(a):
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((a.host, a.port), timeout=1):
                return 0
        except OSError:
            time.sleep(0.1)
    return 1


def _wire_name(data, p):
    """Decode the (possibly compressed) name at data[p:]; bounded."""
    labels, hops = [], 0
    while hops < 64:
        n = data[p]
        if n & 0xC0 == 0xC0:
            p = ((n & 0x3F) << 8) | data[p + 1]
            hops += 1
            continue
        if n == 0:
            break
        labels.append(data[p + 1:p + 1 + n].decode("ascii", "replace"))
        p += n + 1
        hops += 1
    return ".".join(labels) + "."


def cmd_dns_check(a):
    qid = os.getpid() & 0xFFFF
    qtype = {"A": 1, "PTR": 12}[a.type.upper()]
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in a.name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    deadline = time.monotonic() + a.timeout
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    try:
        while time.monotonic() < deadline:
            try:
                s.sendto(q, (a.host, a.port))
                data = s.recv(4096)
            except OSError:
                time.sleep(0.2)
                continue
            if len(data) < 12 or struct.unpack(">H", data[:2])[0] != qid:
                continue
            rcode = data[3] & 0xF
            ancount = struct.unpack(">H", data[6:8])[0]
            addrs = []
            # answers follow the echoed question (same bytes as ours)
            p = len(q)
            for _ in range(ancount):
                if data[p] & 0xC0 == 0xC0:
                    p += 2
                else:
                    while data[p]:
                        p += data[p] + 1
                    p += 1
                typ, _cls, _ttl, rdlen = struct.unpack(">HHIH", data[p:p + 10])
                p += 10
                if typ == 1 and rdlen == 4:
                    addrs.append(socket.inet_ntoa(data[p:p + 4]))
                elif typ == 12 and qtype == 12:
                    addrs.append(_wire_name(data, p))
                p += rdlen
            print(f"rcode={rcode} answers={','.join(addrs) or '-'}")
            return 0
    finally:
        s.close()
    print("rcode=timeout answers=-")
    return 1


def _count_files(dirs):
    n = 0
    for d in dirs:
        try:
            n += sum(1 for e in os.scandir(d) if not e.name.startswith("."))
        except OSError:
            pass
    return n


class SinkCounter:
    """The message counter of `smtp-sink -c`, whose stdout (redirected to
    FILE) is a stream of "sess=N quit=N mesg=N\\r" updates: read what was
    appended since the last call, keep the last mesg= value."""

    def __init__(self, path):
        self.path, self.off, self.value, self.tail = path, 0, 0, b""

    def __call__(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                chunk = f.read(1 << 22)
        except OSError:
            return self.value
        self.off += len(chunk)
        buf = self.tail + chunk
        # only complete updates (each ends with CR or LF)
        cut = max(buf.rfind(b"\r"), buf.rfind(b"\n"))
        if cut < 0:
            self.tail = buf[-4096:]
            return self.value
        done, self.tail = buf[:cut], buf[cut + 1:]
        i = done.rfind(b"mesg=")
        if i >= 0:
            digits = b""
            for ch in done[i + 5:i + 25]:
                if not 48 <= ch <= 57:
                    break
                digits += bytes([ch])
            if digits:
                self.value = int(digits)
        return self.value


def cmd_sink_count(a):
    print(SinkCounter(a.file)())
    return 0


def cmd_load(a):
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if bool(a.maildir) == bool(a.sink_counter):
        print("load: give --maildir or --sink-counter (not both)", file=sys.stderr)
        return 2
    if a.sink_counter:
        count = SinkCounter(a.sink_counter)
    else:
        def count():
            return _count_files(a.maildir)
    sampler = Sampler(a.root_pid, a.interval)
    sampler.start()
    before = count()
    t0 = time.monotonic()
    log = open(a.log, "wb") if a.log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    t_accept = t_deliver = None
    rc = None
    delivered = before
    send_deadline = t0 + a.send_timeout
    deliver_deadline = None  # set when smtp-source is done
    target = before + a.count
    last_count, last_change = before, t0
    why = ""
    while True:
        now = time.monotonic()
        if rc is None:
            rc = proc.poll()
            if rc is None and now > send_deadline:
                proc.kill()
                proc.wait(timeout=10)
                rc = "timeout"
            if rc is not None:
                t_accept = now - t0
                deliver_deadline = now + a.deliver_timeout
        if t_deliver is None:
            delivered = count()
            if delivered >= target:
                t_deliver = time.monotonic() - t0
            elif delivered != last_count:
                last_count, last_change = delivered, now
        if rc is not None and (t_deliver is not None or rc != 0):
            break
        if deliver_deadline is not None:
            if now > deliver_deadline:
                why = f"timeout after {a.deliver_timeout:.0f} s"
                break
            if now - max(last_change, deliver_deadline - a.deliver_timeout) > a.stall:
                why = f"no new message for {a.stall:.0f} s"
                break
        time.sleep(a.poll)
    # let stragglers (duplicates, late deliveries) show up, then recount
    if rc == 0 and t_deliver is not None:
        time.sleep(min(1.0, a.poll * 5))
    sampler.stop()
    delivered = count() - before
    if log is not subprocess.DEVNULL:
        log.close()
    print(f"smtp_source_rc={rc}")
    print(f"accept_seconds={t_accept:.3f}" if t_accept else "accept_seconds=")
    print(f"deliver_seconds={t_deliver:.3f}" if t_deliver else "deliver_seconds=")
    print(f"delivered={delivered}")
    print(f"deliver_wait_end={why}")
    print(f"peak_hwm_kib={sampler.peak_hwm}")
    print(f"peak_rss_kib={sampler.peak_rss}")
    print(f"peak_pss_kib={sampler.peak_pss}")
    print(f"peak_procs={sampler.peak_procs}")
    print(f"samples={sampler.samples}")
    print(f"process_names={','.join(sorted(sampler.names))}")
    return 0


def _tree_rss(pid):
    total = 0
    for p in process_tree(pid):
        st = _status_kib(p, ("VmRSS",))
        if st:
            total += st.get("VmRSS", 0)
    return total


def cmd_idle(a):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    time.sleep(a.settle)
    before = _tree_rss(a.pid)
    sel = selectors.DefaultSelector()
    socks = []
    deadline = time.monotonic() + a.timeout
    failed = 0
    # connect in batches so the listen backlog never overflows
    for i in range(a.count):
        if time.monotonic() > deadline:
            break
        try:
            s = socket.create_connection((a.host, a.port), timeout=5)
        except OSError:
            failed += 1
            continue
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ, bytearray())
    banners = 0
    pending = len(socks)
    closed = 0
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s, buf = key.fileobj, key.data
            try:
                chunk = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                closed += 1
                pending -= 1
                sel.unregister(s)
                continue
            buf += chunk
            # a complete banner: a "220 " line ending with CRLF
            if b"\r\n" in buf and (buf.startswith(b"220 ") or b"\r\n220 " in buf):
                if buf.endswith(b"\r\n"):
                    banners += 1
                    pending -= 1
                    sel.unregister(s)
    time.sleep(a.settle)
    after = _tree_rss(a.pid)
    # still open? (the server must not have dropped the idle sessions yet)
    still_open = 0
    for s in socks:
        try:
            d = s.recv(1, socket.MSG_PEEK)
            if d:
                still_open += 1  # data waiting (e.g. a 421): counted open
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
    print(f"requested={a.count}")
    print(f"connected={len(socks)}")
    print(f"connect_failed={failed}")
    print(f"banners={banners}")
    print(f"closed_by_server={closed}")
    print(f"still_open={still_open}")
    print(f"rss_before_kib={before}")
    print(f"rss_after_kib={after}")
    if banners:
        print(f"kib_per_session={(after - before) / banners:.1f}")
    else:
        print("kib_per_session=")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd_name", required=True)

    w = sub.add_parser("wait-port")
    w.add_argument("host")
    w.add_argument("port", type=int)
    w.add_argument("timeout", type=float)
    w.set_defaults(fn=cmd_wait_port)

    d = sub.add_parser("dns-check")
    d.add_argument("port", type=int)
    d.add_argument("name")
    d.add_argument("timeout", type=float)
    d.add_argument("type", nargs="?", default="A", choices=["A", "PTR", "a", "ptr"])
    d.add_argument("host", nargs="?", default="127.0.0.1")
    d.set_defaults(fn=cmd_dns_check)

    c = sub.add_parser("sink-count")
    c.add_argument("file")
    c.set_defaults(fn=cmd_sink_count)

    l = sub.add_parser("load")
    l.add_argument("--root-pid", type=int, required=True)
    l.add_argument("--maildir", action="append")
    l.add_argument("--sink-counter")
    l.add_argument("--count", type=int, required=True)
    l.add_argument("--send-timeout", type=float, required=True)
    l.add_argument("--deliver-timeout", type=float, required=True)
    l.add_argument("--interval", type=float, default=0.25)
    l.add_argument("--poll", type=float, default=0.1)
    l.add_argument("--stall", type=float, default=30.0)
    l.add_argument("--log")
    l.add_argument("cmd", nargs=argparse.REMAINDER)
    l.set_defaults(fn=cmd_load)

    i = sub.add_parser("idle")
    i.add_argument("--host", default="127.0.0.1")
    i.add_argument("--port", type=int, required=True)
    i.add_argument("--count", type=int, default=1000)
    i.add_argument("--pid", type=int, required=True)
    i.add_argument("--timeout", type=float, default=60)
    i.add_argument("--settle", type=float, default=2.0)
    i.set_defaults(fn=cmd_idle)

    a = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(2))
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
