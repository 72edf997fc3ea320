"""The content classifier shared in Redis (SPEC 10 and 13, issue 17 item 4):
with `state_backend = redis://...` every node learns into, and votes from,
the same counts, and no node keeps a bayes.db of its own.

Two nodes on one private redis-server (the fixture of test_redis.py):
what node A's `postern learn` teaches, node B's `postern scan` and server
vote with; learning twice counts once and relearning moves, whichever
node; two `postern learn --dir` at once lose no update; the caps hold in
Redis (BAYES_STORE_TOKENS_MAX tokens, BAYES_STORE_MESSAGES_MAX messages:
past them the oldest and rarest go, down to 90%); Redis unreachable:
`postern learn` fails and writes nothing locally, the server stops voting,
raises the `bayes` alert and votes again once the store is back.
"""

import subprocess
import time

from conftest import POSTERN_BIN, SLOW, token
from test_bayes import HAM_WORDS, SPAM_WORDS, ham, message, scan_json, send, send_until, \
    spam, symbols
from test_redis import make_node, redis  # noqa: F401 (the fixture)

TOKENS_MAX = 500000      # BAYES_STORE_TOKENS_MAX
MESSAGES_MAX = 200000    # BAYES_STORE_MESSAGES_MAX
DAY = 86400
MASK = (1 << 64) - 1


def bayes_hash(text):
    """src/scan/bayes_token.c bayes_hash(): the key of a token."""
    b = text.encode()
    h = 0x9e3779b97f4a7c15 ^ ((len(b) * 0xc2b2ae3d27d4eb4f) & MASK)
    for i in range(0, len(b), 8):
        k = int.from_bytes(b[i:i + 8], "little")
        h = ((h ^ k) * 0x9fb21c651e98df25) & MASK
        h ^= h >> 29
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & MASK
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & MASK
    return h ^ (h >> 33)


# A token's counts, by the hex of its hash: {spam, ham, day} or nil.
TOKEN_LUA = """
local f = ''
for i = 1, 16, 2 do f = f .. string.char(tonumber(string.sub(ARGV[1], i, i + 1), 16)) end
local v = redis.call('HGET', KEYS[1], f)
if not v then return nil end
local s, h, d = struct.unpack('>I4I4I4', v)
return {s, h, d}
"""


def token_counts(r, text):
    return r.cmd("EVAL", TOKEN_LUA, 1, "postern:bayes:tokens", "%016x" % bayes_hash(text))


def meta(r):
    v = r.cmd("HMGET", "postern:bayes:meta", "nspam", "nham", "serial")
    return [int(x or 0) for x in v]


def nodes(make_server, r, n=2, extra=None):
    cfg = {"bayes_min_learned": "3"}
    cfg.update(extra or {})
    return [make_node(make_server, r, "node-%s" % "ab"[i], cfg) for i in range(n)]


def learn(srv, kind, body, check=True):
    return srv.cli("learn", kind, stdin=body.decode(), check=check)


def test_what_one_node_learns_every_node_votes_with(make_server, redis, tmp_path):
    r = redis(password="bayes-pw")
    a, b = nodes(make_server, r)
    for _ in range(3):
        learn(a, "ham", ham())
        out = learn(a, "spam", spam()).stdout
    assert "now 3 spam and 3 ham learned" in out, out
    assert meta(r)[:2] == [3, 3]
    # the counts are in Redis, not in either node's data_dir
    assert not list(a.data_dir.glob("bayes.db*")) and not list(b.data_dir.glob("bayes.db*"))
    assert token_counts(r, "viagra")[:2] == [3, 0]
    f = tmp_path / "m.eml"
    f.write_bytes(spam())
    (out,), _ = scan_json(b, f)
    assert out["bayes"]["learned_spam"] == 3 and out["bayes"]["votes"] is True, out["bayes"]
    assert out["bayes"]["probability"] >= 0.999, out["bayes"]
    assert "BAYES_SPAM" in {h["symbol"] for h in out["hits"]}, out["hits"]
    # node B's server loads the table from Redis (a thread polls its
    # change counter) and votes
    ev = send_until(b, spam, lambda e: "BAYES_SPAM" in symbols(e), "node B votes BAYES_SPAM")
    assert ev["verdict"] == "junk", ev
    assert "BAYES_HAM" in symbols(send(b, ham())), "node B votes BAYES_HAM"
    loaded = b.events("bayes", status="loaded")
    assert loaded and loaded[-1]["spam"] == "3" and loaded[-1]["ham"] == "3", loaded
    # what B learns next reaches A's server too (a new change counter)
    for _ in range(3):
        learn(b, "spam", message(token(), "x@deals.test", SPAM_WORDS + " zqxnew"))
    # (a server loads when it scans: at its next messages)
    send_until(a, spam, lambda e: a.events("bayes", status="loaded", spam="6"),
               "node A's server loads what B learned")
    assert not list(b.data_dir.glob("bayes.db*"))


def test_learning_twice_counts_once_and_relearning_moves(make_server, redis):
    r = redis()
    a, b = nodes(make_server, r)
    body = spam()
    assert "learned as spam" in learn(a, "spam", body).stdout
    serial = meta(r)[2]
    assert "already learned as spam" in learn(b, "spam", body).stdout
    assert "already learned as spam" in learn(a, "spam", body).stdout
    assert meta(r) == [1, 0, serial]          # nothing changed: no reload either
    assert token_counts(r, "pharmacy")[:2] == [1, 0]
    out = learn(b, "ham", body).stdout
    assert "moved to ham" in out and "now 0 spam and 1 ham learned" in out, out
    assert token_counts(r, "pharmacy")[:2] == [0, 1]
    out = learn(a, "spam", body).stdout
    assert "moved to spam" in out and "now 1 spam and 0 ham learned" in out, out
    assert token_counts(r, "pharmacy")[:2] == [1, 0]
    assert r.cmd("ZCARD", "postern:bayes:messages") == 1


def test_concurrent_learn_dirs_lose_no_update(make_server, redis, tmp_path):
    """Two `postern learn --dir` at once, one per node, on two halves of a
    folder: the totals and a shared token's count are exact."""
    r = redis()
    a, b = nodes(make_server, r)
    half = 150
    dirs = []
    for side in ("one", "two"):
        d = tmp_path / side
        d.mkdir()
        for i in range(half):
            t = "%s%03d" % (side, i)
            words = (SPAM_WORDS if i % 2 else HAM_WORDS) + " zqxshared " + t
            (d / ("%d.eml" % i)).write_bytes(message(t, "s%s@mass.test" % t, words))
        dirs.append(d)
    procs = [subprocess.Popen([POSTERN_BIN, "learn", "spam", "--dir", str(d), "-c", str(srv.conf)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for srv, d in zip((a, b), dirs)]
    outs = [p.communicate(timeout=120 * SLOW) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, (out, err)
        assert "%d learned" % half in out, out
    assert meta(r)[:2] == [2 * half, 0]
    assert token_counts(r, "zqxshared")[:2] == [2 * half, 0]
    assert token_counts(r, "one007")[:2] == [1, 0]
    # again, both at once, as ham: every message moves exactly once
    procs = [subprocess.Popen([POSTERN_BIN, "learn", "ham", "--dir", str(d), "-c", str(srv.conf)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for srv, d in zip((b, a), dirs)]
    outs = [p.communicate(timeout=120 * SLOW) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and "%d moved" % half in out, (out, err)
    assert meta(r)[:2] == [0, 2 * half]
    assert token_counts(r, "zqxshared")[:2] == [0, 2 * half]


# Fills the token hash: ARGV count, first number, spam, ham, day.
FILL_LUA = """
local n, first = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = struct.pack('>I4I4I4', tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
for i = first, first + n - 1 do
  redis.call('HSET', KEYS[1], struct.pack('>I4I4', 4276215469, i), v)
end
return redis.call('HLEN', KEYS[1])
"""

# Counts the tokens by day and total: {day, total, count, ...}.
CENSUS_LUA = """
local c, out = {}, {}
local all = redis.call('HGETALL', KEYS[1])
for i = 2, #all, 2 do
  local s, h, d = struct.unpack('>I4I4I4', all[i])
  local k = d .. ' ' .. (s + h)
  c[k] = (c[k] or 0) + 1
end
for k, n in pairs(c) do table.insert(out, k .. ' ' .. n) end
return out
"""


def census(r):
    out = {}
    for line in r.cmd("EVAL", CENSUS_LUA, 1, "postern:bayes:tokens"):
        d, total, n = map(int, line.split())
        out[(d, total)] = n
    return out


def test_token_and_message_caps_hold_in_redis(make_server, redis):
    """A store at BAYES_STORE_TOKENS_MAX tokens: the learn that passes it
    leaves 90% of it, the frequent and the recent tokens kept, the old rare
    ones dropped; the messages remembered are capped the same way."""
    r = redis()
    a, = nodes(make_server, r, 1)
    today = int(time.time()) // DAY
    old = today - 100
    rare, frequent, recent = 300000, 150000, 50000
    assert r.cmd("EVAL", FILL_LUA, 1, "postern:bayes:tokens", rare, 1, 1, 0, old) == rare
    r.cmd("EVAL", FILL_LUA, 1, "postern:bayes:tokens", frequent, rare + 1, 3, 2, old)
    assert r.cmd("EVAL", FILL_LUA, 1, "postern:bayes:tokens", recent, rare + frequent + 1,
                 1, 0, today - 1) == TOKENS_MAX
    used = r.cmd("MEMORY", "USAGE", "postern:bayes:tokens", "SAMPLES", "0")
    print("redis: %d tokens in %.1f MB (%.0f octets each)" %
          (TOKENS_MAX, used / 1e6, used / TOKENS_MAX))
    # the messages: MESSAGES_MAX old ones
    r.cmd("EVAL", "for i = 1, tonumber(ARGV[1]) do redis.call('ZADD', KEYS[1], "
          "(1000000000 + i) * 4 + 1, 'old' .. i) end", 1, "postern:bayes:messages",
          MESSAGES_MAX)
    t0 = time.monotonic()
    out = learn(a, "spam", spam()).stdout
    took = time.monotonic() - t0
    print("learn with expiry: %.2f s" % took)
    assert "learned as spam" in out, out
    c = census(r)
    assert r.cmd("HLEN", "postern:bayes:tokens") == TOKENS_MAX * 9 // 10
    assert c[(old, 5)] == frequent and c[(today - 1, 1)] == recent, c
    learned = c.get((today, 1), 0)
    assert learned > 10, c                    # the new message's tokens stay
    assert c[(old, 1)] == TOKENS_MAX * 9 // 10 - frequent - recent - learned, c
    assert token_counts(r, "viagra")[:2] == [1, 0]
    assert r.cmd("ZCARD", "postern:bayes:messages") == MESSAGES_MAX * 9 // 10
    assert r.cmd("ZSCORE", "postern:bayes:messages", "old1") is None        # the oldest
    assert r.cmd("ZSCORE", "postern:bayes:messages", "old%d" % MESSAGES_MAX) is not None
    # the server loads the trimmed store
    send_until(a, spam, lambda e: a.events("bayes", status="loaded",
                                           tokens=str(TOKENS_MAX * 9 // 10)),
               "the server's table of the trimmed store")


def test_redis_unreachable(make_server, redis):
    """learn fails and writes nothing locally; the server stops voting,
    says why once (the bayes alert), and votes again when the store is
    back."""
    r = redis()
    a, = nodes(make_server, r, 1)
    for _ in range(3):
        learn(a, "ham", ham())
        learn(a, "spam", spam())
    send_until(a, spam, lambda e: "BAYES_SPAM" in symbols(e), "a vote with Redis up")
    r.kill()
    res = learn(a, "spam", spam(), check=False)
    assert res.returncode == 1, res
    assert "classifier store redis://127.0.0.1:%d/1" % r.port in res.stderr, res.stderr
    assert "cannot connect" in res.stderr, res.stderr
    assert not list(a.data_dir.glob("bayes.db*"))
    # the command's own alert (as for a damaged store), then the server's
    assert len(a.events("alert", kind="bayes")) == 1
    send_until(a, spam, lambda e: "BAYES_SPAM" not in symbols(e), "no vote without Redis")
    alert = a.wait_for_log("alert", kind="bayes", count=2)[1]
    assert "redis://" in alert["reason"] and "is Redis running?" in alert["reason"], alert
    errors = len(a.events("error"))
    for _ in range(3):
        send(a, spam())
        time.sleep(0.4)
    # said once, though it tries again at every look
    assert len(a.events("alert", kind="bayes")) == 2
    assert len(a.events("error")) == errors
    # back (empty: the fixture keeps nothing), learned again: votes again
    r.start()
    for _ in range(3):
        learn(a, "ham", ham())
        learn(a, "spam", spam())
    send_until(a, spam, lambda e: "BAYES_SPAM" in symbols(e), "a vote after Redis returned")
    assert len(a.events("alert", kind="bayes")) == 2
    assert a.alive()
