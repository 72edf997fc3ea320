#!/bin/bash
# Outbound (relay) benchmark, issue 5: postern against Postfix relaying the
# same messages to the same loopback sink, same machine, same run.
# See bench/README.md.  Run after `make` (build/postern must exist).
#
# Environment (all optional):
#   BENCH_OUT_MESSAGES  messages per server and round      (default 5000)
#   BENCH_OUT_TLS=1     relay over verified TLS instead: implicit TLS on
#                       127.0.0.1:465 (bench/tlssink.c, a certificate for
#                       relay.bench.test from a CA made for the run);
#                       Postfix at TLS level "secure" (match=relay.bench.test,
#                       wrapper mode), postern with relayhost
#                       relay.bench.test:465 and SSL_CERT_FILE = that CA
#   BENCH_OUT_ROUNDS    rounds, the order of the two servers alternating;
#                       rates are medians over the rounds  (default 3)
#   BENCH_OUT_SESSIONS  parallel smtp-source sessions      (default 20)
#   BENCH_OUT_SIZE      payload in octets, K/M suffix      (default 5K)
#   BENCH_OUT_DIR       scratch directory, wiped first     (default /tmp/postern-bench-out)
#   BENCH_OUT_POSTFIX_PORT / BENCH_OUT_POSTERN_PORT / BENCH_SINK_PORT /
#   BENCH_OUT_DNS_PORT  loopback ports                     (2636/2637/2638/2654)
#   BENCH_KEEP=1        keep the queues after the run
#   BENCH_SKIP_POSTFIX=1 / BENCH_SKIP_POSTERN=1  run one side only
#   POSTERN_BIN         server binary                      (default build/postern)
#
# Only loopback addresses are used.  Every wait is bounded in time; every
# process started here is stopped (by PID) on exit.
# Exit status: 0 when the sink received every message from each server
# (and each server logged each one as relayed), 1 otherwise.

set -u
umask 022
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)

PY=/usr/bin/python3
LIB="$ROOT/bench/benchlib.py"
SMTP_SOURCE=/usr/sbin/smtp-source
SMTP_SINK=/usr/sbin/smtp-sink

MESSAGES=${BENCH_OUT_MESSAGES:-5000}
ROUNDS=${BENCH_OUT_ROUNDS:-3}
TLS=${BENCH_OUT_TLS:-0}
SESSIONS=${BENCH_OUT_SESSIONS:-20}
SIZE_RAW=${BENCH_OUT_SIZE:-5K}
DIR=${BENCH_OUT_DIR:-/tmp/postern-bench-out}
PF_PORT=${BENCH_OUT_POSTFIX_PORT:-2636}
PN_PORT=${BENCH_OUT_POSTERN_PORT:-2637}
SINK_PORT=${BENCH_SINK_PORT:-2638}
[ "${BENCH_OUT_TLS:-0}" = 1 ] && SINK_PORT=465	# postern speaks implicit TLS on 465 (SPEC 12)
DNS_PORT=${BENCH_OUT_DNS_PORT:-2654}
POSTERN=${POSTERN_BIN:-$ROOT/build/postern}
case "$POSTERN" in /*) ;; *) POSTERN="$ROOT/$POSTERN" ;; esac

FAILED=0
ERRORS=()
BENCH_TAG=bench-out
# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

# ------------------------------------------------------------ parameters
SIZE=${SIZE_RAW%[kKmM]}
case "$SIZE" in '' | *[!0-9]*) die "BENCH_OUT_SIZE must be octets with an optional K or M suffix (got '$SIZE_RAW')" ;; esac
case "$SIZE_RAW" in
*[kK]) SIZE=$(( SIZE * 1024 )) ;;
*[mM]) SIZE=$(( SIZE * 1024 * 1024 )) ;;
esac
for v in MESSAGES ROUNDS SESSIONS SIZE PF_PORT PN_PORT SINK_PORT DNS_PORT; do
	case "${!v}" in '' | *[!0-9]*) die "$v must be a number (got '${!v}')" ;; esac
done
if [ "$MESSAGES" -lt 1 ] || [ "$SESSIONS" -lt 1 ] || [ "$ROUNDS" -lt 1 ]; then
	die "BENCH_OUT_MESSAGES, BENCH_OUT_ROUNDS and BENCH_OUT_SESSIONS must be >= 1"
fi
# time bounds: smtp-source must sustain >= 10 msg/s, relaying >= 20 msg/s more
SEND_TIMEOUT=$(( 120 + MESSAGES / 10 ))
RELAY_TIMEOUT=$(( 60 + MESSAGES / 20 ))

[ "$(id -u)" = 0 ] || die "must run as root (Postfix's master and smtp-sink -u need it)"
for f in "$PY" "$SMTP_SOURCE" "$SMTP_SINK" /usr/sbin/postfix /usr/sbin/unbound; do
	[ -x "$f" ] || die "$f missing: run scripts/deps (make deps)"
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

[ ! -e "$DIR" ] || [ -e "$DIR/.postern-bench" ] ||
	die "BENCH_OUT_DIR=$DIR exists and is not a bench directory (no .postern-bench): remove it or pick another"

# leftovers of an earlier run that was killed: stop them by their pid files
# (only processes whose command line names this scratch directory)
if [ -e "$DIR/.postern-bench" ]; then
	if [ -e "$DIR/postfix/queue/pid/master.pid" ]; then
		/usr/sbin/postfix -c "$DIR/postfix/etc" stop >/dev/null 2>&1 && sleep 3
	fi
	stale_stop "$DIR/postern/serve.pid"
	stale_stop "$DIR/dns/unbound.pid"
	stale_stop "$DIR/sink/sink.pid"
fi

for p in "$PF_PORT" "$PN_PORT" "$SINK_PORT" "$DNS_PORT"; do
	if "$PY" "$LIB" wait-port 127.0.0.1 "$p" 0.3; then
		die "127.0.0.1:$p is already in use (set BENCH_OUT_*_PORT / BENCH_SINK_PORT)"
	fi
done

# ------------------------------------------------------------ cleanup
UNBOUND_PID=""
POSTERN_PID=""
SINK_PID=""
PF_STARTED=0
PFDIR="$DIR/postfix"
PNDIR="$DIR/postern"
SINKDIR="$DIR/sink"
SINK_OUT="$SINKDIR/counter.out"

cleanup() {
	[ -n "$POSTERN_PID" ] && kill_wait "$POSTERN_PID" 10
	POSTERN_PID=""
	postfix_stop
	[ -n "$SINK_PID" ] && kill_wait "$SINK_PID" 5
	SINK_PID=""
	[ -n "$UNBOUND_PID" ] && kill_wait "$UNBOUND_PID" 5
	UNBOUND_PID=""
	if [ "${BENCH_KEEP:-0}" != 1 ] && [ -d "$DIR" ]; then
		rm -rf "$PFDIR/queue" "$PNDIR/var/queue" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'say "interrupted"; exit 1' INT TERM

rm -rf "$DIR"
mkdir -p "$DIR" "$PFDIR" "$PNDIR" "$SINKDIR" "$DIR/dns" || die "cannot create $DIR"
chmod 755 "$DIR"
touch "$DIR/.postern-bench"

say "$MESSAGES messages of $SIZE octets over $SESSIONS parallel sessions per server, relayed to a sink on 127.0.0.1:$SINK_PORT; scratch dir $DIR"
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)

# ------------------------------------------------------------ DNS
# Relaying to a literal relayhost needs no DNS, but postern resolves
# through dns_servers for anything else it might look up: a private
# unbound answers NXDOMAIN for everything and never queries anyone.
cat >"$DIR/dns/unbound.conf" <<EOF
server:
    interface: 127.0.0.1
    port: $DNS_PORT
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
    access-control: 127.0.0.0/8 allow
    do-not-query-address: 0.0.0.0/0
    do-not-query-address: ::/0
    do-not-query-localhost: yes
    local-zone: "." static
    local-data: ". 300 IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300"
    local-data: "2.0.0.127.zen.spamhaus.org. 300 IN A 127.0.0.2"
    local-data: "dbltest.com.dbl.spamhaus.org. 300 IN A 127.0.1.2"
    local-data: "relay.bench.test. 300 IN A 127.0.0.1"
EOF
/usr/sbin/unbound -c "$DIR/dns/unbound.conf" >"$DIR/dns/stderr.log" 2>&1 &
UNBOUND_PID=$!
"$PY" "$LIB" dns-check "$DNS_PORT" 2.0.0.127.zen.spamhaus.org 10 2>/dev/null | grep -Eq 'answers=(.*,)?127\.0\.0\.2(,|$)' ||
	die "local unbound on 127.0.0.1:$DNS_PORT did not answer (see $DIR/dns/)"

# ------------------------------------------------------------ sink
# smtp-sink accepts everything and throws it away; -c makes it print
# "sess=N quit=N mesg=N" after every message, which is what we count.
# One sink process serves both servers (deltas of its counter).
chown 65534:65534 "$SINKDIR"
if [ "$TLS" = 1 ]; then
	# smtp-sink has no TLS: bench/tlssink.c counts the same way; its
	# certificate names relay.bench.test, signed by a CA of this run
	cc -O2 -Wall -o "$DIR/tlssink" "$ROOT/bench/tlssink.c" -levent_openssl -levent -lssl -lcrypto \
		2>"$SINKDIR/cc.log" || die "cannot compile bench/tlssink.c: $(head -n 5 "$SINKDIR/cc.log")"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bench CA" \
		-keyout "$SINKDIR/ca.key" -out "$SINKDIR/ca.pem" >/dev/null 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -subj "/CN=relay.bench.test" \
		-keyout "$SINKDIR/relay.key" -out "$SINKDIR/relay.csr" >/dev/null 2>&1 &&
	printf 'subjectAltName=DNS:relay.bench.test\n' >"$SINKDIR/ext.cnf" &&
	openssl x509 -req -in "$SINKDIR/relay.csr" -CA "$SINKDIR/ca.pem" -CAkey "$SINKDIR/ca.key" \
		-CAcreateserial -days 2 -extfile "$SINKDIR/ext.cnf" -out "$SINKDIR/relay.pem" >/dev/null 2>&1 ||
		die "cannot make the relay's certificate"
	"$DIR/tlssink" 127.0.0.1 "$SINK_PORT" "$SINKDIR/relay.pem" "$SINKDIR/relay.key" \
		>"$SINK_OUT" 2>"$SINKDIR/stderr.log" &
else
	"$SMTP_SINK" -c -u nobody "127.0.0.1:$SINK_PORT" 256 >"$SINK_OUT" 2>"$SINKDIR/stderr.log" &
fi
SINK_PID=$!
echo "$SINK_PID" >"$SINKDIR/sink.pid"
if ! "$PY" "$LIB" wait-port 127.0.0.1 "$SINK_PORT" 10; then
	die "the sink does not listen on 127.0.0.1:$SINK_PORT:" "$(tail -n 5 "$SINKDIR/stderr.log")"
fi

sink_count() { "$PY" "$LIB" sink-count "$SINK_OUT"; }
rate() { # SECONDS -> msgs/s, or - when the run did not finish
	if [ -n "${1:-}" ]; then awk -v n="$MESSAGES" -v s="$1" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "-" }'; else echo "-"; fi
}

# ------------------------------------------------------------ results
declare -A R
R[pf_version]=$(/usr/sbin/postconf -d -h mail_version 2>/dev/null)
R[pn_version]=""

run_load() { # PREFIX ROOT_PID PORT
	local prefix=$1 rootpid=$2 port=$3 out s0 s1 k
	for k in accept_seconds deliver_seconds peak_hwm_kib peak_pss_kib smtp_source_rc; do
		unset "R[${prefix}_$k]"
	done
	s0=$(sink_count)
	out=$("$PY" "$LIB" load --root-pid "$rootpid" --sink-counter "$SINK_OUT" --count "$MESSAGES" \
		--send-timeout "$SEND_TIMEOUT" --deliver-timeout "$RELAY_TIMEOUT" \
		--log "$DIR/$prefix-smtp-source.log" -- \
		"$SMTP_SOURCE" -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -M client.bench.test \
		-S "postern outbound bench" -f sender@bench.test -t user@remote.test "127.0.0.1:$port")
	echo "$out" >"$DIR/$prefix-load.txt"
	local k v
	while IFS='=' read -r k v; do
		[ -n "$k" ] && R[${prefix}_$k]=$v
	done <<<"$out"
	# anything arriving after the wait (duplicates) shows up here
	sleep 1
	s1=$(sink_count)
	R[${prefix}_sink]=$(( s1 - s0 ))
	# this round's rates, and the highest memory of any round
	R[${prefix}_acc_list]="${R[${prefix}_acc_list]:-} $(rate "${R[${prefix}_accept_seconds]:-}")"
	R[${prefix}_rel_list]="${R[${prefix}_rel_list]:-} $(rate "${R[${prefix}_deliver_seconds]:-}")"
	local m
	for m in peak_hwm_kib peak_pss_kib; do
		if [ -n "${R[${prefix}_$m]:-}" ] && [ "${R[${prefix}_$m]}" -gt "${R[${prefix}_max_$m]:-0}" ]; then
			R[${prefix}_max_$m]=${R[${prefix}_$m]}
		fi
	done
}

check_load() { # PREFIX NAME RELAYED_IN_LOG
	local p=$1 name=$2 logged=$3
	local rc=${R[${p}_smtp_source_rc]:-none} sink=${R[${p}_sink]:-0}
	if [ "$rc" != 0 ]; then
		loud "$name: smtp-source failed (status $rc); its output:" \
			"$(tail -n 5 "$DIR/$p-smtp-source.log" 2>/dev/null)"
	fi
	if [ "$sink" != "$MESSAGES" ]; then
		R[${p}_short]=1
		loud "$name: the sink received $sink messages, $MESSAGES were sent: the counts differ"
	fi
	if [ "$logged" != "$MESSAGES" ]; then
		loud "$name: its log records $logged messages relayed, $MESSAGES were sent"
	fi
	if [ -z "${R[${p}_deliver_seconds]:-}" ] && [ "$rc" = 0 ]; then
		loud "$name: stopped waiting for the sink (${R[${p}_deliver_wait_end]:-?}) with $sink of $MESSAGES received"
	fi
}

# ------------------------------------------------------------ Postfix
postfix_bench() {
	# every round starts from an empty queue and log
	rm -rf "$PFDIR/queue" "$PFDIR/data" "$PFDIR/maillog"
	mkdir -p "$PFDIR/etc" "$PFDIR/queue" "$PFDIR/data"
	chown postfix "$PFDIR/data"
	cat >"$PFDIR/etc/main.cf" <<EOF
# private Postfix instance for bench/outbound.sh: relays everything from
# 127.0.0.0/8 to the sink; Postfix defaults otherwise (fsync on, destination
# concurrency 20 with slow start, connection cache on demand).
compatibility_level = 3.6
config_directory = $PFDIR/etc
queue_directory = $PFDIR/queue
data_directory = $PFDIR/data
meta_directory = /etc/postfix
maillog_file = $PFDIR/maillog
maillog_file_prefixes = $DIR
myhostname = bench.local
mydomain = bench.local
myorigin = bench.local
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$SINK_PORT
$( [ "$TLS" = 1 ] && printf '%s\n' "# verified TLS to the relay (BENCH_OUT_TLS=1): implicit TLS, certificate checked" \
	"smtp_tls_wrappermode = yes" "smtp_tls_security_level = secure" \
	"smtp_tls_policy_maps = texthash:$PFDIR/etc/tls_policy" "smtp_tls_CAfile = $SINKDIR/ca.pem")
alias_maps =
alias_database =
local_recipient_maps =
# the relayhost is a literal: no DNS (this machine has no resolver it may use)
smtp_host_lookup = native
smtp_dns_support_level = disabled
default_process_limit = 100
smtpd_client_connection_count_limit = 2000
biff = no
EOF
	postfix_master_cf "$PF_PORT" >"$PFDIR/etc/master.cf"
	printf '[127.0.0.1]:%s secure match=relay.bench.test\n' "$SINK_PORT" >"$PFDIR/etc/tls_policy"
	if ! /usr/sbin/postfix -c "$PFDIR/etc" check >"$PFDIR/check.log" 2>&1; then
		loud "Postfix: 'postfix check' failed:" "$(cat "$PFDIR/check.log" "$PFDIR/maillog" 2>/dev/null | tail -n 5)"
		return 1
	fi
	if ! /usr/sbin/postfix -c "$PFDIR/etc" start >"$PFDIR/start.log" 2>&1; then
		loud "Postfix: 'postfix start' failed:" "$(cat "$PFDIR/start.log" "$PFDIR/maillog" 2>/dev/null | tail -n 5)"
		return 1
	fi
	PF_STARTED=1
	if ! "$PY" "$LIB" wait-port 127.0.0.1 "$PF_PORT" 30; then
		loud "Postfix: nothing listens on 127.0.0.1:$PF_PORT after 30 s"
		return 1
	fi
	local mpid
	mpid=$(postfix_master_pid)
	[ -n "$mpid" ] || { loud "Postfix: no master.pid"; return 1; }
	say "Postfix ${R[pf_version]}: master pid $mpid, 127.0.0.1:$PF_PORT, relayhost [127.0.0.1]:$SINK_PORT"
	run_load pf "$mpid" "$PF_PORT"
	postfix_stop
	R[pf_logged]=$(grep -c "relay=127\.0\.0\.1\[127\.0\.0\.1\]:$SINK_PORT,.* status=sent" "$PFDIR/maillog" 2>/dev/null)
	R[pf_deferred]=$(grep -c ' status=deferred' "$PFDIR/maillog" 2>/dev/null)
	check_load pf Postfix "${R[pf_logged]:-0}"
}

# ------------------------------------------------------------ postern
PN_CONF="$PNDIR/postern.conf"
PN_LOG="$PNDIR/var/postern.log"

relaytests() { # how many relay self-tests the event log records
	local n
	n=$(grep -c 'event=relaytest' "$PN_LOG" 2>/dev/null)
	echo "${n:-0}"
}

postern_bench() {
	if [ ! -x "$POSTERN" ]; then
		loud "postern: $POSTERN does not exist (did 'make' succeed?)"
		return 1
	fi
	local v out i=0
	if ! v=$(timeout 10 "$POSTERN" --version 2>&1); then
		loud "postern: '$POSTERN --version' failed: $v"
		return 1
	fi
	R[pn_version]=$(printf '%s' "$v" | head -n 1)
	rm -rf "$PNDIR/var"
	mkdir -p "$PNDIR/var"
	cat >"$PN_CONF" <<EOF
# postern configuration for bench/outbound.sh: relays for 127.0.0.0/8 to
# the sink; Spamhaus checks off (they do not apply to trusted clients
# anyway), other DNS answered by the private unbound.
hostname = bench.local
domains = bench.test
data_dir = $PNDIR/var
listen_smtp = 127.0.0.1:$PN_PORT
listen_submission = off
listen_submissions = off
dns_servers = 127.0.0.1:$DNS_PORT
dnsbl = no
trusted_networks = 127.0.0.0/8
relayhost = $( [ "$TLS" = 1 ] && echo relay.bench.test || echo 127.0.0.1 ):$SINK_PORT
retry_initial = 1s
max_connections = $(( SESSIONS + 1000 ))
max_connections_per_ip = $(( SESSIONS + 1000 ))
EOF
	if ! out=$(timeout 60 "$POSTERN" check-config -c "$PN_CONF" 2>&1); then
		loud "postern: check-config failed:" "$out"
		return 1
	fi
	if [ "$TLS" = 1 ]; then
		SSL_CERT_FILE="$SINKDIR/ca.pem" "$POSTERN" serve -c "$PN_CONF" >"$PNDIR/stderr.log" 2>&1 &
	else
		"$POSTERN" serve -c "$PN_CONF" >"$PNDIR/stderr.log" 2>&1 &
	fi
	POSTERN_PID=$!
	echo "$POSTERN_PID" >"$PNDIR/serve.pid"
	if ! "$PY" "$LIB" wait-port 127.0.0.1 "$PN_PORT" 30; then
		loud "postern: nothing listens on 127.0.0.1:$PN_PORT after 30 s; stderr:" \
			"$(tail -n 10 "$PNDIR/stderr.log")"
		kill_wait "$POSTERN_PID" 5
		POSTERN_PID=""
		return 1
	fi
	# let the start-up relay self-test finish (event=relaytest, at most
	# 60 s) so that it is not part of the measurement
	while [ "$(relaytests)" -lt 1 ] && [ $i -lt 600 ] && kill -0 "$POSTERN_PID" 2>/dev/null; do
		sleep 0.1
		i=$(( i + 1 ))
	done
	[ $i -lt 600 ] || say "postern: no event=relaytest in $PN_LOG after 60 s; measuring anyway"
	if ! kill -0 "$POSTERN_PID" 2>/dev/null; then
		loud "postern exited right after start; stderr:" "$(tail -n 10 "$PNDIR/stderr.log")" \
			"$(tail -n 5 "$PN_LOG" 2>/dev/null)"
		POSTERN_PID=""
		return 1
	fi
	say "${R[pn_version]}: pid $POSTERN_PID, 127.0.0.1:$PN_PORT, relayhost 127.0.0.1:$SINK_PORT"
	run_load pn "$POSTERN_PID" "$PN_PORT"
	kill_wait "$POSTERN_PID" 30
	local rc=$?
	POSTERN_PID=""
	[ "$rc" = 0 ] || loud "postern: exit status $rc after SIGTERM (expected 0)"
	R[pn_logged]=$(grep 'event=delivered ' "$PN_LOG" 2>/dev/null | grep -v -c 'relay=local ')
	R[pn_deferred]=$(grep -c 'event=deferred ' "$PN_LOG" 2>/dev/null)
	check_load pn postern "${R[pn_logged]:-0}"
}

run_postfix() { if [ "${BENCH_SKIP_POSTFIX:-0}" != 1 ]; then postfix_bench; fi; }
run_postern() { if [ "${BENCH_SKIP_POSTERN:-0}" != 1 ]; then postern_bench; fi; }
for round in $(seq 1 "$ROUNDS"); do
	# the order alternates: neither server always runs on a machine the
	# other just warmed (page cache) or loaded (its stopping processes)
	if [ $(( round % 2 )) = 1 ]; then
		say "round $round/$ROUNDS: Postfix, then postern"
		run_postfix
		run_postern
	else
		say "round $round/$ROUNDS: postern, then Postfix"
		run_postern
		run_postfix
	fi
done

# ------------------------------------------------------------ report
pf_acc=$(median "${R[pf_acc_list]:-}")
pn_acc=$(median "${R[pn_acc_list]:-}")
pf_rel=$(median "${R[pf_rel_list]:-}")
pn_rel=$(median "${R[pn_rel_list]:-}")
[ "${R[pf_short]:-0}" = 0 ] && [ -n "${R[pf_sink]:-}" ] || pf_rel="${pf_rel}!"
[ "${R[pn_short]:-0}" = 0 ] && [ -n "${R[pn_sink]:-}" ] || pn_rel="${pn_rel}!"
rel_ratio=$(ratio "${pn_rel%!}" "${pf_rel%!}")

echo
echo "Outbound relay: $ROUNDS round(s) of $MESSAGES messages, $SIZE-octet payload, $SESSIONS parallel sessions into"
echo "each server (smtp-source, one message per connection, recipient user@remote.test),"
if [ "$TLS" = 1 ]; then
	echo "relayed by each over verified TLS (implicit, certificate for relay.bench.test checked"
	echo "against the run's CA) to bench/tlssink.c on 127.0.0.1:$SINK_PORT, $(nproc) cores;"
else
	echo "relayed by each to one smtp-sink on 127.0.0.1:$SINK_PORT (Postfix's test sink), $(nproc) cores;"
fi
echo "1-minute load average at start $LOAD_START, at end $(cut -d' ' -f1 /proc/loadavg)" \
	"(anything else running on the machine skews the figures)"
echo
printf '%-32s %14s %14s %16s\n' "" "Postfix" "postern" "postern/Postfix"
printf '%-32s %14s %14s %16s\n' "" "${R[pf_version]:--}" "$(printf '%s' "${R[pn_version]:--}" | awk '{print $NF}')" ""
printf '%-32s %14s %14s %16s\n' "relayed msgs/s (higher=better)" "$pf_rel" "$pn_rel" "$rel_ratio"
printf '%-32s %14s %14s %16s\n' "  each round" "${R[pf_rel_list]:- -}" "${R[pn_rel_list]:- -}" ""
printf '%-32s %14s %14s %16s\n' "accepted msgs/s" "$pf_acc" "$pn_acc" "$(ratio "$pn_acc" "$pf_acc")"
printf '%-32s %14s %14s %16s\n' "sink got all, every round" "$( [ "${R[pf_short]:-0}" = 0 ] && [ -n "${R[pf_sink]:-}" ] && echo yes || echo NO)" "$( [ "${R[pn_short]:-0}" = 0 ] && [ -n "${R[pn_sink]:-}" ] && echo yes || echo NO)" ""
printf '%-32s %14s %14s %16s\n' "relayed per its log, last round" "${R[pf_logged]:--}/$MESSAGES" "${R[pn_logged]:--}/$MESSAGES" ""
printf '%-32s %14s %14s %16s\n' "deferrals logged" "${R[pf_deferred]:--}" "${R[pn_deferred]:--}" ""
printf '%-32s %14s %14s %16s\n' "peak RSS MiB (lower=better)" "$(mib "${R[pf_max_peak_hwm_kib]:-}")" "$(mib "${R[pn_max_peak_hwm_kib]:-}")" \
	"$(ratio "$(mib "${R[pn_max_peak_hwm_kib]:-}")" "$(mib "${R[pf_max_peak_hwm_kib]:-}")")"
printf '%-32s %14s %14s %16s\n' "peak PSS MiB" "$(mib "${R[pf_max_peak_pss_kib]:-}")" "$(mib "${R[pn_max_peak_pss_kib]:-}")" \
	"$(ratio "$(mib "${R[pn_max_peak_pss_kib]:-}")" "$(mib "${R[pf_max_peak_pss_kib]:-}")")"
echo
echo "rates are medians over the rounds; memory the highest of any round."
echo "relayed  = messages / time from smtp-source start until the sink's message"
echo "           counter (smtp-sink -c, polled every 0.1 s) has grown by $MESSAGES."
echo "accepted = messages / smtp-source wall time (every message got its 250)."
echo "peak RSS/PSS as in bench/inbound.sh (sums over the server's process tree)."
echo "Postfix: stock 3.7 settings (fsync on, default destination concurrency with"
echo "slow start, connection cache on demand), relayhost = [127.0.0.1]:$SINK_PORT,"
echo "mynetworks = 127.0.0.0/8.  postern: trusted_networks = 127.0.0.0/8,"
echo "relayhost = 127.0.0.1:$SINK_PORT, dnsbl = no, retry_initial = 1s, defaults otherwise."
verdict="not measured"
if [ "$rel_ratio" != - ]; then
	if awk -v r="${rel_ratio%x}" 'BEGIN { exit !(r >= 1.5) }'; then verdict="OK, target >= 1.5x"
	else verdict="BELOW the 1.5x target"; fi
fi
echo
echo "postern/Postfix relayed msgs/s$( [ "$TLS" = 1 ] && echo ' (verified TLS)'): $rel_ratio ($verdict)"
echo
if [ "$FAILED" != 0 ]; then
	for e in "${ERRORS[@]}"; do echo "bench-out: ERROR: $e"; done
	echo "bench-out: FAILED (details above; logs in $DIR)"
	exit 1
fi
echo "bench-out: ok (logs in $DIR)"
exit 0
