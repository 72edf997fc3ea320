#!/bin/bash
# Full-pipeline benchmark (issue 18): the corpus, from many clients with
# their own DNS, through postern with every check on and through what users
# deploy instead (Postfix + rspamd milter, Postfix + SpamAssassin through
# spamass-milter, Postfix bare), same load, same run.  See bench/README.md.
# Run by `make bench`, or alone after `make` (as root).
#
# Environment (all optional):
#   BENCH_PIPE_MESSAGES   messages per run (default 20000; the corpus repeated)
#   BENCH_PIPE_TIME       time cap per run in s: no new message after it, the
#                         rate is over what was sent by then (default 120)
#   BENCH_PIPE_SESSIONS   parallel SMTP sessions of the load (default 50)
#   BENCH_PIPE_ROUNDS     rounds; contender order alternates (default 3)
#   BENCH_PIPE_CONTENDERS subset of "postern rspamd sa bare"
#   BENCH_PIPE_CLIENTS    distinct client addresses, >= 200 (default 1000)
#   BENCH_PIPE_TTL        TTL of every record of the private DNS (default 1)
#   BENCH_PIPE_DIR        scratch directory, wiped first (default /tmp/postern-bench-pipeline)
#   BENCH_PIPE_RSPAMD_CACHE  where rspamd's compiled hyperscan database is kept
#                         between runs (default /var/tmp/postern-bench-rspamd-hs)
#   BENCH_PIPE_RSPAMD_WARMUP seconds allowed for rspamd to start (default 600)
#   BENCH_PIPE_SA_CHILDREN spamd children (default 5, Debian's default)
#   BENCH_PIPE_PROFILE=1  record postern's first round with perf (cpu-clock)
#   BENCH_PIPE_POSTERN_WRAP  command prefix for postern serve, e.g.
#                         "valgrind --tool=callgrind --callgrind-out-file=F"
#   BENCH_KEEP=1          keep the delivered mail after the run
#   POSTERN_BIN           server binary (default build/postern)
#
# Everything runs in a private network namespace (only lo) and mount
# namespace (our /etc/resolv.conf and /etc/hosts): only loopback addresses,
# every service private (own configs, ports, directories), none of the
# host's services touched.  Every wait is bounded in time, every loop in
# count.  Exit status 1 when a run lost messages or could not run; targets
# missed print FAILED but never change the exit status.

set -u
umask 022
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

if [ "$(id -u)" != 0 ]; then
	echo "pipeline bench: must run as root (Postfix's master and delivery agents need it)" >&2
	exit 1
fi
if [ -z "${POSTERN_PIPE_NS:-}" ]; then
	if ! command -v unshare >/dev/null 2>&1 || ! unshare -n -m --propagation private true 2>/dev/null; then
		echo "pipeline bench: 'unshare -n -m' does not work here; it is needed for a private network" >&2
		exit 1
	fi
	POSTERN_PIPE_NS=1 exec unshare -n -m --propagation private -- "$SELF" "$@"
fi
/usr/sbin/ip link set lo up || { echo "pipeline bench: cannot bring lo up" >&2; exit 1; }

cd "$(dirname "$SELF")/.." || exit 1
ROOT=$(pwd)
PY=/usr/bin/python3
LIB="$ROOT/bench/pipeline.py"
BLIB="$ROOT/bench/benchlib.py"

MESSAGES=${BENCH_PIPE_MESSAGES:-20000}
TCAP=${BENCH_PIPE_TIME:-120}
SESSIONS=${BENCH_PIPE_SESSIONS:-50}
ROUNDS=${BENCH_PIPE_ROUNDS:-3}
CLIENTS=${BENCH_PIPE_CLIENTS:-1000}
TTL=${BENCH_PIPE_TTL:-1}
DIR=${BENCH_PIPE_DIR:-/tmp/postern-bench-pipeline}
RS_CACHE=${BENCH_PIPE_RSPAMD_CACHE:-/var/tmp/postern-bench-rspamd-hs}
RS_WARMUP=${BENCH_PIPE_RSPAMD_WARMUP:-600}
SA_CHILDREN=${BENCH_PIPE_SA_CHILDREN:-5}
CORPUS=${BENCH_PIPE_CORPUS:-$ROOT/../shared/corpus}
POSTERN=${POSTERN_BIN:-$ROOT/build/postern}
case "$POSTERN" in /*) ;; *) POSTERN="$ROOT/$POSTERN" ;; esac
DQS_KEY=pipelinebenchdqskey0000000
NPROC=$(nproc 2>/dev/null || echo 1)

# ports: the namespace is ours, so fixed ones cannot collide with anything
PN_PORT=2501 PF_BARE_PORT=2502 PF_RS_PORT=2503 PF_SA_PORT=2504
RS_NORMAL_PORT=2511 RS_CTL_PORT=2512 RS_MILTER_PORT=2513 SA_PORT=2521 SAM_PORT=2522

FAILED=0
ERRORS=()
BENCH_TAG="pipeline bench"
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

for v in MESSAGES TCAP SESSIONS ROUNDS CLIENTS TTL RS_WARMUP SA_CHILDREN; do
	case "${!v}" in '' | *[!0-9]*) die "$v must be a number (got '${!v}')" ;; esac
done
[ "$MESSAGES" -ge 1 ] && [ "$SESSIONS" -ge 1 ] && [ "$ROUNDS" -ge 1 ] && [ "$TCAP" -ge 5 ] ||
	die "BENCH_PIPE_MESSAGES, _SESSIONS, _ROUNDS must be >= 1 and BENCH_PIPE_TIME >= 5"
[ "$CLIENTS" -ge 200 ] && [ "$CLIENTS" -le 60000 ] || die "BENCH_PIPE_CLIENTS must be 200..60000"
CONTENDERS=""
for c in ${BENCH_PIPE_CONTENDERS:-postern rspamd sa bare}; do
	case "$c" in postern | rspamd | sa | bare) ;; *) die "BENCH_PIPE_CONTENDERS: unknown '$c' (postern rspamd sa bare)" ;; esac
	CONTENDERS="$CONTENDERS $c"
done
CONTENDERS=${CONTENDERS# }
has() { case " $CONTENDERS " in *" $1 "*) return 0 ;; esac; return 1; }

need=("$PY" /usr/sbin/unbound /usr/sbin/unbound-control /usr/bin/openssl)
has postern && need+=("$POSTERN")
{ has rspamd || has sa || has bare; } && need+=(/usr/sbin/postfix /usr/sbin/postmap)
has rspamd && need+=(/usr/bin/rspamd)
has sa && need+=(/usr/sbin/spamd /usr/bin/spamc /usr/sbin/spamass-milter)
for f in "${need[@]}"; do
	[ -x "$f" ] || die "$f missing: run 'make' and scripts/deps bench"
done
command -v cc >/dev/null 2>&1 || die "no C compiler (cc) for bench/loadgen.c"
[ -d "$CORPUS/ham" ] && [ -d "$CORPUS/spam" ] || die "no corpus at $CORPUS (ham/ and spam/ expected)"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

[ ! -e "$DIR" ] || [ -e "$DIR/.postern-bench-pipeline" ] ||
	die "BENCH_PIPE_DIR=$DIR exists and is not a pipeline bench directory: remove it or pick another"

# ------------------------------------------------------------ processes
UNBOUND_PID="" POSTERN_PID="" RSPAMD_PID="" SPAMD_PID="" SAM_PID="" PF_STARTED=0 PFDIR=""

descendants() { # children of PID, recursively (by parent pid, never by name)
	local c
	for c in $(pgrep -P "$1" 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}
kill_tree() { # PID SECONDS: SIGTERM, wait, then SIGKILL to it and its descendants
	local pid=$1 secs=$2 i=0 kids
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null && [ $i -lt $((secs * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kids=$(descendants "$pid")
		# shellcheck disable=SC2086
		kill -KILL "$pid" $kids 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}
cleanup() {
	[ -n "$POSTERN_PID" ] && kill_tree "$POSTERN_PID" 10
	postfix_stop
	[ -n "$SAM_PID" ] && kill_tree "$SAM_PID" 10
	[ -n "$SPAMD_PID" ] && kill_tree "$SPAMD_PID" 20
	[ -n "$RSPAMD_PID" ] && kill_tree "$RSPAMD_PID" 20
	[ -n "$UNBOUND_PID" ] && kill_tree "$UNBOUND_PID" 5
	POSTERN_PID="" SAM_PID="" SPAMD_PID="" RSPAMD_PID="" UNBOUND_PID=""
	if [ "${BENCH_KEEP:-0}" != 1 ] && [ -d "$DIR" ]; then
		rm -rf "$DIR"/pf-*/mail "$DIR"/pf-*/queue "$DIR/postern/var/mail" "$DIR/postern/var/queue" \
		    "$DIR/aside" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM HUP

# leftovers of a killed run live in a namespace that died with it, except
# files: wipe the directory
rm -rf "$DIR"
mkdir -p "$DIR/dns" "$DIR/res" "$DIR/etc" || die "cannot create $DIR"
chmod 755 "$DIR"
touch "$DIR/.postern-bench-pipeline"
RES="$DIR/res"
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)

# ------------------------------------------------------------ the load
cc -O2 -Wall -Wextra -o "$DIR/loadgen" "$ROOT/bench/loadgen.c" 2>"$DIR/loadgen-cc.log" ||
	die "cannot compile bench/loadgen.c: $(head -n 5 "$DIR/loadgen-cc.log")"
say "preparing the load: corpus $CORPUS, $CLIENTS clients, DKIM signatures"
prep=$("$PY" "$ROOT/bench/pipeprep.py" --corpus "$CORPUS" --out "$DIR/prep" --clients "$CLIENTS" \
	--ttl "$TTL" --dqs-key "$DQS_KEY") || die "bench/pipeprep.py failed"
declare -A P
while IFS='=' read -r k v; do [ -n "$k" ] && P[$k]=$v; done <<<"$prep"
say "load: ${P[messages]} corpus messages (${P[ham]} ham, ${P[spam]} spam), repeated to $MESSAGES per run" \
	"(at most $TCAP s of sending), $SESSIONS sessions, one message per connection"

# ------------------------------------------------------------ DNS
# One private unbound answers everyone on 127.0.0.1:53 of this namespace:
# per client a forward-confirmed PTR, SPF, DKIM key, DMARC record; the
# listings in zen, DBL and their DQS twins; NXDOMAIN for anything else.
cat >"$DIR/dns/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@53
    port: 53
    do-ip6: no
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$DIR/dns"
    pidfile: "$DIR/dns/unbound.pid"
    logfile: "$DIR/dns/unbound.log"
    use-syslog: no
    verbosity: 1
    num-threads: 1
    # a burst of questions waits in the buffer instead of being dropped
    # (and asked again a quarter of a second or more later)
    so-rcvbuf: 4m
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
    do-not-query-address: 0.0.0.0/0
    do-not-query-address: ::/0
    do-not-query-localhost: yes
    ratelimit: 0
    ip-ratelimit: 0
    local-zone: "." static
    local-data: ". $TTL IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 $TTL"
$(cat "$DIR/prep/zones.conf")
remote-control:
    control-enable: yes
    control-interface: "$DIR/dns/control.sock"
    control-use-cert: no
EOF
/usr/sbin/unbound -c "$DIR/dns/unbound.conf" >"$DIR/dns/stderr.log" 2>&1 &
UNBOUND_PID=$!
dns_ok=0
for _ in $(seq 60); do
	if "$PY" "$BLIB" dns-check 53 2.0.0.127.zen.spamhaus.org 0.5 2>/dev/null | grep -Eq 'answers=(.*,)?127\.0\.0\.2(,|$)'; then
		dns_ok=1
		break
	fi
	kill -0 "$UNBOUND_PID" 2>/dev/null || break
	sleep 0.25
done
[ "$dns_ok" = 1 ] || die "the private unbound does not answer (see $DIR/dns/)"
"$PY" "$BLIB" dns-check 53 1.0.30.127.in-addr.arpa 2 PTR 2>/dev/null | grep -q 'answers=mx0.c0.test.' ||
	die "the private unbound does not answer the clients' PTR (see $DIR/dns/)"
# every resolver of this namespace (libc: Postfix, spamd, spamass-milter) uses it
printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:2\n' >"$DIR/etc/resolv.conf"
printf '127.0.0.1 localhost\n' >"$DIR/etc/hosts"
mount --bind "$DIR/etc/resolv.conf" /etc/resolv.conf && mount --bind "$DIR/etc/hosts" /etc/hosts ||
	die "cannot bind-mount resolv.conf/hosts in the private mount namespace"
dns_queries() {
	timeout 10 /usr/sbin/unbound-control -c "$DIR/dns/unbound.conf" stats_noreset 2>/dev/null |
		awk -F= '$1 == "total.num.queries" { print $2 }'
}

# ------------------------------------------------------------ postern
PNDIR="$DIR/postern"
PN_MAILDIR="$PNDIR/var/mail/bench.test/user"
postern_setup() {
	mkdir -p "$PNDIR/var"
	cat >"$PNDIR/postern.conf" <<EOF
# bench/pipeline.sh: default settings, i.e. every check on (zen and DBL
# through DQS, SPF, DKIM, DMARC, content scan), Maildir delivery
hostname = bench.local
domains = bench.test
data_dir = $PNDIR/var
listen_smtp = 127.0.0.1:$PN_PORT
listen_submission = off
listen_submissions = off
dns_servers = 127.0.0.1:53
spamhaus_dqs_key = $DQS_KEY
max_connections = $((SESSIONS + 1000))
max_connections_per_ip = $((SESSIONS + 1000))
EOF
	local out pw
	out=$(timeout 60 "$POSTERN" check-config -c "$PNDIR/postern.conf" 2>&1) ||
		{ loud "postern: check-config failed: $out"; return 1; }
	pw="Bench-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')-Zq9"
	out=$(printf '%s\n' "$pw" | timeout 60 "$POSTERN" user add user@bench.test -c "$PNDIR/postern.conf" --password-stdin 2>&1) ||
		{ loud "postern: 'user add' failed: $out"; return 1; }
	# the classifier trained as a site's Junk moves would train it (SPEC
	# 13): the even half of the corpus, names sorted, as bench/bayes.sh
	# splits it; so it votes (and costs) in every round
	local kind f i
	for kind in ham spam; do
		rm -rf "$DIR/learn/$kind"
		mkdir -p "$DIR/learn/$kind"
		i=0
		while IFS= read -r f; do
			[ $((i % 2)) = 0 ] && ln -s "$CORPUS/$kind/$f" "$DIR/learn/$kind/$f"
			i=$((i + 1))
		done < <(ls "$CORPUS/$kind" | LC_ALL=C sort)
		out=$(timeout 300 "$POSTERN" learn "$kind" --dir "$DIR/learn/$kind" -c "$PNDIR/postern.conf" 2>&1) ||
			{ loud "postern: 'learn $kind --dir' failed: $out"; return 1; }
	done
	R_PN_VERSION=$(timeout 10 "$POSTERN" --version 2>&1 | head -n 1 | awk '{print $NF}')
}
postern_start() { # TAG
	local n0 b0 i=0 evlog="$PNDIR/var/postern.log"
	n0=$(grep -c 'event=relaytest' "$evlog" 2>/dev/null)
	b0=$(grep -c 'event=bayes status=loaded' "$evlog" 2>/dev/null)
	# shellcheck disable=SC2086 # BENCH_PIPE_POSTERN_WRAP: a command prefix (valgrind ...)
	${BENCH_PIPE_POSTERN_WRAP:-} "$POSTERN" serve -c "$PNDIR/postern.conf" >"$PNDIR/stderr-$1.log" 2>&1 &
	POSTERN_PID=$!
	if ! "$PY" "$BLIB" wait-port 127.0.0.1 "$PN_PORT" 30; then
		loud "postern: nothing listens on 127.0.0.1:$PN_PORT after 30 s: $(tail -n 5 "$PNDIR/stderr-$1.log")"
		kill_tree "$POSTERN_PID" 5
		POSTERN_PID=""
		return 1
	fi
	# the start-up self-tests are not part of the measurement, and the
	# classifier votes from the first message: its table is loaded
	# (event=bayes status=loaded) after the relay self-test at times
	sleep 1
	while { [ "$(grep -c 'event=relaytest' "$evlog" 2>/dev/null)" -le "${n0:-0}" ] ||
		[ "$(grep -c 'event=bayes status=loaded' "$evlog" 2>/dev/null)" -le "${b0:-0}" ]; } &&
		[ $i -lt 600 ] && kill -0 "$POSTERN_PID" 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -0 "$POSTERN_PID" 2>/dev/null || { loud "postern exited at start: $(tail -n 5 "$PNDIR/stderr-$1.log")"; POSTERN_PID=""; return 1; }
	[ "$(grep -c 'event=bayes status=loaded' "$evlog" 2>/dev/null)" -gt "${b0:-0}" ] ||
		loud "postern: no event=bayes status=loaded after 60 s: measuring without its classifier's votes"
}
postern_stop() {
	[ -n "$POSTERN_PID" ] || return 0
	kill_wait "$POSTERN_PID" 30 || loud "postern: exit status $? after SIGTERM (expected 0)"
	POSTERN_PID=""
}

# ------------------------------------------------------------ Postfix
PF_RBL="reject_rbl_client zen.spamhaus.org, reject_rhsbl_helo dbl.spamhaus.org, reject_rhsbl_sender dbl.spamhaus.org, reject_rhsbl_reverse_client dbl.spamhaus.org"
postfix_setup() { # NAME PORT EXTRA-MAIN.CF-LINES
	local d="$DIR/pf-$1" port=$2 extra=$3
	mkdir -p "$d/etc" "$d/queue" "$d/data" "$d/mail"
	chown postfix "$d/data"
	chown 65534:65534 "$d/mail"
	cat >"$d/etc/main.cf" <<EOF
# private Postfix instance of bench/pipeline.sh ($1); Postfix defaults
# otherwise (fsync on, client name lookups through DNS)
compatibility_level = 3.6
config_directory = $d/etc
queue_directory = $d/queue
data_directory = $d/data
meta_directory = /etc/postfix
maillog_file = $d/maillog
maillog_file_prefixes = $DIR
myhostname = bench.local
mydomain = bench.local
myorigin = bench.local
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks =
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $d/mail
virtual_mailbox_maps = hash:$d/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtp_dns_support_level = disabled
default_process_limit = 200
smtpd_client_connection_count_limit = 2000
biff = no
$extra
EOF
	postfix_master_cf "$port" >"$d/etc/master.cf"
	echo "user@bench.test bench.test/user/" >"$d/etc/vmailbox"
	/usr/sbin/postmap -c "$d/etc" "hash:$d/etc/vmailbox" || { loud "Postfix ($1): postmap failed"; return 1; }
	/usr/sbin/postfix -c "$d/etc" check >"$d/check.log" 2>&1 ||
		{ loud "Postfix ($1): 'postfix check' failed: $(tail -n 5 "$d/check.log")"; return 1; }
}
postfix_start() { # NAME PORT
	PFDIR="$DIR/pf-$1"
	/usr/sbin/postfix -c "$PFDIR/etc" start >"$PFDIR/start.log" 2>&1 ||
		{ loud "Postfix ($1): start failed: $(tail -n 5 "$PFDIR/start.log" "$PFDIR/maillog" 2>/dev/null)"; return 1; }
	PF_STARTED=1
	"$PY" "$BLIB" wait-port 127.0.0.1 "$2" 30 || { loud "Postfix ($1): nothing listens on port $2 after 30 s"; return 1; }
	[ -n "$(postfix_master_pid)" ] || { loud "Postfix ($1): no master.pid"; return 1; }
}
MILTER_MAIN="milter_protocol = 6
milter_mail_macros = i {mail_addr} {client_addr} {client_name} {auth_authen}
milter_default_action = tempfail"

# ------------------------------------------------------------ rspamd
RSDIR="$DIR/rspamd"
rspamd_start() {
	local d=$RSDIR i loaded
	mkdir -p "$d/local.d" "$d/override.d" "$d/run" "$d/log" "$RS_CACHE"
	R_RS_VERSION=$(/usr/bin/rspamd --version 2>/dev/null | awk '/version/ {print $NF; exit}')
	sed -e "s/localhost:11333/127.0.0.1:$RS_NORMAL_PORT/" \
		-e "s/localhost:11334/127.0.0.1:$RS_CTL_PORT/" \
		-e "s/localhost:11332/127.0.0.1:$RS_MILTER_PORT/" \
		-e "s/localhost:11335/127.0.0.1:2514/" \
		/etc/rspamd/rspamd.conf >"$d/rspamd.conf"
	# the stock configuration, except: DNS from the private unbound, as many
	# normal workers as cores, the proxy (milter mode, Debian's default)
	# scanning through them, no greylisting action (it needs Redis and
	# would answer 451 to the first try), fuzzy checks off (Internet servers)
	cat >"$d/local.d/options.inc" <<EOF
dns {
  nameserver = ["127.0.0.1:53"];
}
EOF
	echo "count = $NPROC;" >"$d/local.d/worker-normal.inc"
	cat >"$d/local.d/worker-proxy.inc" <<EOF
upstream "local" {
  default = yes;
  hosts = "127.0.0.1:$RS_NORMAL_PORT";
}
EOF
	echo "greylist = null;" >"$d/local.d/actions.conf"
	echo "enabled = false;" >"$d/local.d/fuzzy_check.conf"
	echo 'level = "info";' >"$d/local.d/logging.inc"
	/usr/bin/rspamd -f -i -c "$d/rspamd.conf" -p "$d/run/rspamd.pid" \
		--var "LOCAL_CONFDIR=$d" --var "DBDIR=$RS_CACHE" --var "RUNDIR=$d/run" --var "LOGDIR=$d/log" \
		>"$d/stdout.log" 2>&1 &
	RSPAMD_PID=$!
	say "rspamd $R_RS_VERSION: starting (pid $RSPAMD_PID; compiling its rules can take minutes the first time)"
	"$PY" "$BLIB" wait-port 127.0.0.1 "$RS_MILTER_PORT" "$RS_WARMUP" ||
		{ loud "rspamd: its milter port is closed after $RS_WARMUP s: $(tail -n 5 "$d/log/rspamd.log" 2>/dev/null)"; return 1; }
	if ldd /usr/bin/rspamd 2>/dev/null | grep -q 'libhs\.so'; then
		# (with a cached database some rspamd versions never log the
		# workers' load: wait at most 60 s for it)
		for i in $(seq 120); do
			loaded=$(grep -E '\(normal\).*hyperscan database of [0-9]+ regexps has been loaded' \
				"$d/log/rspamd.log" 2>/dev/null | sed -E 's/^[^#]*#([0-9]+).*/\1/' | sort -u | wc -l)
			[ "$loaded" -ge "$NPROC" ] && break
			kill -0 "$RSPAMD_PID" 2>/dev/null || break
			sleep 0.5
		done
		[ "$loaded" -ge "$NPROC" ] || say "rspamd: workers did not load the hyperscan database in time (measured anyway)"
	fi
}

# ------------------------------------------------------------ SpamAssassin
SADIR="$DIR/sa"
sa_start() {
	local d=$SADIR i
	mkdir -p "$d/site" "$d/home"
	chmod 755 "$d" "$d/site"
	chown nobody "$d/home" 2>/dev/null
	R_SA_VERSION=$(/usr/sbin/spamd --version 2>/dev/null | awk '/version/ {print $NF; exit}')
	# Debian's site configuration plus: DNS tests on (the private unbound),
	# no Razor/Pyzor (Internet services), no Bayes (nothing learned yet)
	cp /etc/spamassassin/*.pre /etc/spamassassin/*.cf "$d/site/"
	cat >>"$d/site/local.cf" <<EOF

# bench/pipeline.sh
dns_available yes
use_razor2 0
use_pyzor 0
use_bayes 0
bayes_auto_learn 0
EOF
	/usr/sbin/spamd -C /usr/share/spamassassin --siteconfigpath="$d/site" -x \
		-u nobody -g nogroup -H "$d/home" -i "127.0.0.1:$SA_PORT" -A 127.0.0.1 \
		-m "$SA_CHILDREN" --min-children="$SA_CHILDREN" --min-spare=1 --max-spare="$SA_CHILDREN" \
		-r "$d/spamd.pid" -s "$d/spamd.log" >"$d/stderr.log" 2>&1 &
	SPAMD_PID=$!
	say "SpamAssassin $R_SA_VERSION: starting spamd (pid $SPAMD_PID, $SA_CHILDREN children)"
	"$PY" "$BLIB" wait-port 127.0.0.1 "$SA_PORT" 180 ||
		{ loud "spamd: nothing listens on 127.0.0.1:$SA_PORT after 180 s: $(tail -n 5 "$d/stderr.log")"; return 1; }
	for i in $(seq 120); do
		[ "$(pgrep -P "$SPAMD_PID" 2>/dev/null | wc -l)" -ge "$SA_CHILDREN" ] && break
		sleep 0.5
	done
	# Debian's spamass-milter, in the foreground, talking to that spamd
	/usr/sbin/spamass-milter -p "inet:$SAM_PORT@127.0.0.1" -P "$d/milter.pid" -- \
		-d 127.0.0.1 -p "$SA_PORT" >"$d/milter.log" 2>&1 &
	SAM_PID=$!
	"$PY" "$BLIB" wait-port 127.0.0.1 "$SAM_PORT" 30 ||
		{ loud "spamass-milter: nothing listens on 127.0.0.1:$SAM_PORT: $(tail -n 5 "$d/milter.log")"; return 1; }
}

# ------------------------------------------------------------ one run
# The previous run's delivered files are moved aside, not deleted, until
# the end: thousands of files deleted just before a run make every file
# created in it slower (ext4 skips inodes freed in the last minutes when
# it allocates, and this machine's root has no journal, where that check
# reads the inode table each time), a cost no mail server has in service.
clear_maildir() { # DIR: delivered files of the previous run
	local s aside
	aside="$DIR/aside/$(date +%s%N)"
	for s in new cur tmp .Junk/new .Junk/cur; do
		if [ -d "$1/$s" ]; then
			mkdir -p "$aside/$s" &&
				find "$1/$s" -mindepth 1 -maxdepth 1 -type f -exec mv -t "$aside/$s" {} + 2>/dev/null
		fi
	done
	return 0
}
run_one() { # CONTENDER ROUND
	local c=$1 r=$2 port roots=() mds=() junk=() hdr='^$x' q0 q1 out md
	case "$c" in
	postern)
		port=$PN_PORT
		md=$PN_MAILDIR
		clear_maildir "$md"
		postern_start "r$r" || return 1
		roots=(--root-pid "$POSTERN_PID")
		mds=(--maildir "$md/new" --maildir "$md/.Junk/new")
		junk=(--junk "$md/.Junk/new")
		;;
	rspamd | sa | bare)
		case "$c" in rspamd) port=$PF_RS_PORT ;; sa) port=$PF_SA_PORT ;; bare) port=$PF_BARE_PORT ;; esac
		md="$DIR/pf-$c/mail/bench.test/user"
		clear_maildir "$md"
		postfix_start "$c" "$port" || return 1
		roots=(--root-pid "$(postfix_master_pid)")
		case "$c" in
		rspamd) roots+=(--root-pid "$RSPAMD_PID"); hdr='^X-Spam: *Yes' ;;
		sa) roots+=(--root-pid "$SPAMD_PID" --root-pid "$SAM_PID"); hdr='^X-Spam-Flag: *YES' ;;
		esac
		mds=(--maildir "$md/new")
		;;
	esac
	q0=$(dns_queries)
	local prof=()
	if [ "$c" = postern ] && [ "${BENCH_PIPE_PROFILE:-0}" = 1 ] && [ "$r" = 1 ] && command -v perf >/dev/null 2>&1; then
		perf record -e cpu-clock -F 999 -g -p "$POSTERN_PID" -o "$DIR/perf-postern.data" >"$DIR/perf-record.log" 2>&1 &
		prof=($!)
	fi
	out=$("$PY" "$LIB" run "${roots[@]}" "${mds[@]}" --deliver-timeout $((120 + MESSAGES / 20)) \
		--log "$RES/$c-$r.loadgen.err" -- \
		"$DIR/loadgen" --plan "$DIR/prep/plan.tsv" --data "$DIR/prep/data.bin" --port "$port" \
		--count "$MESSAGES" --sessions "$SESSIONS" --time "$TCAP" --grace 300 --conn-timeout 300 \
		--outcomes "$RES/$c-$r.outcomes")
	[ ${#prof[@]} -gt 0 ] && { kill -INT "${prof[0]}" 2>/dev/null; wait "${prof[0]}" 2>/dev/null; }
	q1=$(dns_queries)
	{
		echo "$out"
		[ -n "$q0" ] && [ -n "$q1" ] && echo "dns_queries=$((q1 - q0))"
	} >"$RES/$c-$r.kv"
	case "$c" in postern) postern_stop ;; *) postfix_stop ;; esac
	"$PY" "$LIB" verdicts --items "$DIR/prep/items.tsv" --outcomes "$RES/$c-$r.outcomes" \
		--spam-header "$hdr" "${mds[@]}" "${junk[@]}" --per-item "$RES/$c-$r.items" >"$RES/$c-$r.verdicts.kv"
	declare -A K=()
	while IFS='=' read -r k v; do [ -n "$k" ] && K[$k]=$v; done <<<"$out"
	say "$c round $r: sent ${K[started]:-?}, 250 ${K[accepted]:-?}, 5xx ${K[refused]:-?}," \
		"4xx ${K[tempfailed]:-?}, errors ${K[errors]:-?}, delivered ${K[delivered]:-?}" \
		"in ${K[deliver_seconds]:-?} s, p50/p99 ${K[lat_p50_ms]:-?}/${K[lat_p99_ms]:-?} ms," \
		"DNS queries $(( ${q1:-0} - ${q0:-0} ))"
	if [ "${K[delivered]:-x}" != "${K[accepted]:-y}" ]; then
		loud "$c round $r: ${K[accepted]:-?} messages got their 250 but ${K[delivered]:-?} are in the Maildir"
	fi
	if [ "${K[errors]:-0}" != 0 ] || [ "${K[tempfailed]:-0}" != 0 ]; then
		loud "$c round $r: ${K[errors]:-?} connection errors and ${K[tempfailed]:-?} 4xx answers (see $RES/$c-$r.outcomes)"
	fi
	[ "${BENCH_KEEP:-0}" = 1 ] || clear_maildir "$md"
}

# ------------------------------------------------------------ set-up
R_PN_VERSION="" R_RS_VERSION="" R_SA_VERSION=""
R_PF_VERSION=$(/usr/sbin/postconf -d -h mail_version 2>/dev/null)
has postern && { postern_setup || die "postern set-up failed"; }
has bare && { postfix_setup bare "$PF_BARE_PORT" "" || die "Postfix set-up failed"; }
has rspamd && {
	postfix_setup rspamd "$PF_RS_PORT" "smtpd_recipient_restrictions = reject_unauth_destination, $PF_RBL
smtpd_milters = inet:127.0.0.1:$RS_MILTER_PORT
$MILTER_MAIN" || die "Postfix set-up failed"
	rspamd_start || die "rspamd did not start"
}
has sa && {
	postfix_setup sa "$PF_SA_PORT" "smtpd_recipient_restrictions = reject_unauth_destination, $PF_RBL
smtpd_milters = inet:127.0.0.1:$SAM_PORT
$MILTER_MAIN" || die "Postfix set-up failed"
	sa_start || die "SpamAssassin did not start"
}

# ------------------------------------------------------------ rounds
# untimed warm-up of each contender's caches (page cache, rspamd's and
# spamd's lazily loaded parts) would hide nothing the rounds do not repeat;
# the alternating order keeps a drift of the machine's load from favouring one
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order=$CONTENDERS; else order=$(printf '%s\n' $CONTENDERS | tac | tr '\n' ' '); fi
	say "round $r/$ROUNDS: $order"
	for c in $order; do
		run_one "$c" "$r" || loud "$c round $r could not run"
	done
done

# ------------------------------------------------------------ report
echo
echo "Full pipeline (issue 18): the corpus (${P[messages]} messages, ${P[ham]} ham, ${P[spam]} spam) repeated"
echo "to $MESSAGES messages per run, at most $TCAP s of sending per run, $SESSIONS parallel sessions,"
echo "one message per connection, from $CLIENTS client addresses in 127.30.0.0/16, each with"
echo "its own HELO/PTR name and sender domain; $ROUNDS round(s), order alternating;"
echo "$NPROC cores; 1-minute load average at start $LOAD_START, at end $(cut -d' ' -f1 /proc/loadavg)."
echo "postern ${R_PN_VERSION:--}, Postfix ${R_PF_VERSION:--}, rspamd ${R_RS_VERSION:--}, SpamAssassin ${R_SA_VERSION:--}."
echo
"$PY" "$LIB" report --dir "$RES" --contenders "$CONTENDERS" --rounds "$ROUNDS" >"$RES/report.txt"
sed '$d' "$RES/report.txt"
echo
cat <<EOF
delivered msg/s = messages in the Maildir / time from the first connection
  until the last of them was there (polled every 0.1 s); a run stops sending
  after $TCAP s (BENCH_PIPE_TIME) so slow contenders are measured on what
  they took in by then.  p50/p99: end of DATA (the final ".") until the 250.
  CPU: user+sys of the contender's processes (Postfix's master and every
  child, rspamd or spamd and spamass-milter) per message sent.  Peak RSS:
  highest sum of VmHWM over those processes (samples every 0.25 s; shared
  pages counted once per process), PSS beside it.  *: counted over the
  processes alive at the start and end of the run (Postfix's smtpd and
  cleanup children that exit meanwhile are missed).  rspamd and spamd are
  started once and serve every round (their start takes minutes).
Checks: postern with its defaults (zen and DBL through DQS for client IP,
  HELO, PTR name and sender domain, SPF, DKIM, DMARC, the content scan with
  its URL/Received lookups, the classifier trained on the even half of the
  corpus with postern learn --dir; Junk folder from score 5, refusal from 12).
  The three Postfix set-ups look client names up in DNS (as stock Postfix
  does); the rspamd and SpamAssassin ones also refuse at RCPT with
  reject_rbl_client zen and reject_rhsbl_{helo,sender,reverse_client} dbl.
  rspamd: stock Debian configuration, proxy worker in milter mode, $NPROC
  normal workers, greylisting action and fuzzy checks off; spam = header
  X-Spam: Yes (add_header from 6) or refused (reject from 15).
  SpamAssassin: Debian's rules, network tests on, no Bayes/Razor/Pyzor,
  $SA_CHILDREN spamd children, spamass-milter without -r: spam = X-Spam-Flag: YES.
DNS: every record, and every negative answer (by its SOA), served with a
  TTL of $TTL s by one private unbound, so a client's records have expired
  by its next connection (every $CLIENTS messages) as for the mostly-new
  clients of a real MX; listed: 4% of the
  clients in zen (XBL, PBL), 2% of the sender domains in the DBL, and a few
  domains and IPs found in the corpus's spam.  DKIM: no corpus message was
  signed; each is signed by its client's sender domain (key in the private
  DNS), so every filter verifies a signature.
Verdicts differ where the filters differ: postern's score counts Spamhaus
  listings, authentication results, structure and its classifier (trained
  on half of this very corpus, so its spam verdicts here are optimistic:
  bench/bayes.sh measures it on held-out mail); rspamd and SpamAssassin run
  no Bayes here (stock rspamd keeps it in Redis, none is configured) but
  hundreds of content rules tuned on exactly this era of spam.  Per-message verdicts: $RES/*.items.
EOF
tail -n 1 "$RES/report.txt" >"$RES/ratio.txt"
if [ "$FAILED" != 0 ]; then
	for e in "${ERRORS[@]}"; do echo "pipeline bench: ERROR: $e"; done
	echo "pipeline bench: FAILED (logs in $DIR)"
fi
tail -n 1 "$RES/report.txt"
[ "$FAILED" = 0 ]
