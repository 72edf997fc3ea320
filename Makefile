# postern build. `make` builds build/postern; see README.md for the rest.

CC        ?= cc
PKGS      := libevent libevent_openssl libevent_pthreads openssl libsodium libunbound libcares libpsl libidn2 sqlite3 libmicrohttpd libcurl jansson hiredis
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN      := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wno-unused-parameter
CFLAGS    ?= -O2 -g
ALL_CFLAGS := -std=c11 $(WARN) -D_GNU_SOURCE -Isrc $(PKG_CFLAGS) -pthread $(CFLAGS)
ALL_LDLIBS := $(PKG_LIBS) -lzxcvbn -lz -lm -pthread $(LDLIBS)

BUILD     ?= build
SRCS      := $(sort $(wildcard src/*/*.c))
OBJS      := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB       := $(BUILD)/libpostern.a
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
# Fuzz targets link only pure code: no event loop, no threads needed.
FUZZ_LIBSRCS := src/lib/xmalloc.c src/lib/pslist.c src/lib/value.c src/lib/config.c src/smtp/parse.c src/smtp/address.c \
                src/smtp/data.c src/monitor/log.c src/dns/dnsbl.c src/dns/answer.c \
                src/scan/decode.c src/scan/mime.c src/scan/urls.c src/scan/received.c \
                src/scan/score.c src/queue/reply.c src/auth/sasl.c src/scan/hdraddr.c \
                src/policy/learn.c src/lib/durable.c src/acme/answer.c src/web/autoconfig.c src/queue/spool.c \
                src/queue/spool_repair.c src/scan/spf.c src/scan/dkim.c src/scan/dmarc.c \
                src/dns/resolver.c src/dns/reply.c src/dns/stub.c src/dns/cache.c src/scan/wallet.c src/scan/bodyaddr.c src/scan/hbl.c

# config.c reads state_backend with it (SPEC 10)
FUZZ_LIBSRCS += src/lib/state_url.c
# the classifier's tokenizer and combination (SPEC 13)
FUZZ_LIBSRCS += src/scan/bayes_token.c src/scan/bayes.c
# the MTA-STS record and policy parsers (RFC 8461)
FUZZ_LIBSRCS += src/queue/mtasts_policy.c
# the TLSA record reader (RFC 7672 DANE)
FUZZ_LIBSRCS += src/queue/dane.c

.PHONY: all run test unit bench asan fuzz fuzz-smoke deps clean format install deb

all: $(BUILD)/postern

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/main.o: src/main.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/postern: $(BUILD)/obj/main.o $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(ALL_LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) tests/unit/unit.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDFLAGS) $(ALL_LDLIBS) -lcmocka

unit: $(UNIT_BINS)

deps:
	@scripts/deps

run: deps all
	@scripts/run-demo

test: deps
	@$(MAKE) --no-print-directory all unit fuzz-build
	@/usr/bin/python3 tests/run_all.py

# Sanitizer build of the server, used by the integration tests when
# POSTERN_BIN points at it.
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	    LDFLAGS="-fsanitize=address,undefined" all unit

FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Isrc -g -O1 -pthread \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
# The library sources are compiled once for all targets (fuzzer-no-link).
comma := ,
FUZZ_OBJ_CFLAGS := $(subst -fsanitize=fuzzer$(comma),-fsanitize=fuzzer-no-link$(comma),$(FUZZ_CFLAGS))
# the report readers (SPEC 12: DMARC and TLS-RPT reports we receive)
FUZZ_LIBSRCS += src/report/unpack.c src/report/dmarc_xml.c src/report/tlsrpt_json.c src/report/rua.c \
                src/report/tlsrpt_note.c src/report/daylog.c src/report/tally.c
FUZZ_OBJS := $(FUZZ_LIBSRCS:src/%.c=$(BUILD)/fuzz/obj/%.o)
$(BUILD)/fuzz/obj/%.o: src/%.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_OBJ_CFLAGS) -c -o $@ $<
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_OBJS) -lidn2 -lpsl -ljansson -lunbound -lcares -levent -lssl -lcrypto -lz

fuzz-build: $(FUZZ_BINS)

# Long fuzz campaign: FUZZ_SECONDS per target (default 300).
fuzz: deps fuzz-build
	@/usr/bin/python3 tests/run_all.py --fuzz-only --fuzz-seconds $${FUZZ_SECONDS:-300}

# Installs the server, its configuration template, systemd units,
# logrotate, fail2ban and man pages (scripts/install; PREFIX, DESTDIR).
PREFIX ?= /usr/local
install: all
	@BUILD=$(BUILD) PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) scripts/install

# Debian package, written to the parent directory (debian/, README.Debian).
deb:
	@scripts/deb-deps
	DEB_BUILD_OPTIONS="nocheck $${DEB_BUILD_OPTIONS:-}" dpkg-buildpackage -b -us -uc -J
	@ls -1 ../postern_*.deb

bench: deps all
	@scripts/deps bench
	@rc=0; bench/inbound.sh || rc=1; bench/outbound.sh || rc=1; BENCH_OUT_TLS=1 bench/outbound.sh || rc=1; bench/scan.sh || rc=1; bench/bayes.sh || rc=1; bench/pipeline.sh || rc=1; exit $$rc

format:
	clang-format -i src/*/*.c src/*/*.h tests/unit/*.c tests/fuzz/*.c

clean:
	rm -rf build build-asan
