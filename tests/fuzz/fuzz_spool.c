/*
 * Fuzz target for the queue-file readers (src/queue/spool.h): the loader's
 * parser, the examination of a damaged file (what salvage would keep) and
 * the .state parser, on the same bytes. Invariants: what they return
 * points inside the input; a salvage keeps a prefix of whole lines of the
 * message and a non-empty envelope; a damaged .state changes nothing.
 */
#include "fuzz.h"

#include "queue/spool.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	struct spool_msg msg;
	struct spool_damage d;
	struct spool_envelope env;
	struct spool_rcpt r[3] = {
		{ .addr = "a@x.test", .mailbox = "x.test/a" },
		{ .addr = "b@x.test", .mailbox = "x.test/b" },
		{ .addr = "c@y.test", .mailbox = SPOOL_REMOTE },
	};
	struct spool_envelope senv = { .rcpts = r, .nrcpts = 3 };
	bool held, warned;

	if (spool_parse(buf, size, &msg) == 0) {
		CHECK(msg.env.nrcpts > 0 && msg.env.from != NULL);
		CHECK(fuzz_inside(msg.data, msg.datalen, buf, size));
		spool_msg_clear(&msg);
	}
	if (spool_examine(buf, size, &d, &env) == 0) {
		CHECK(d.reason != NULL && d.why == NULL);
		CHECK(env.nrcpts > 0 && env.from != NULL);
		CHECK(d.good_len > 0 && d.good_len <= d.msg_len);
		CHECK(d.env_len <= size && d.msg_len <= size - d.env_len);
		CHECK(buf[d.env_len + d.good_len - 1] == '\n');
		spool_envelope_clear(&env);
	} else {
		CHECK(d.why != NULL && d.reason != NULL);
		CHECK(env.nrcpts == 0 && env.rcpts == NULL && env.from == NULL);
	}
	if (spool_state_parse(buf, size, &senv, &held, &warned) == 0) {
		for (size_t i = 0; i < 3; i++) {
			CHECK(r[i].done == (r[i].status != RCPT_PENDING));
			free(r[i].reason);
			r[i].reason = NULL;
		}
	} else {
		for (size_t i = 0; i < 3; i++)
			CHECK(r[i].status == RCPT_PENDING && r[i].reason == NULL);
		CHECK(!held && !warned);
	}
	free(buf);
	return 0;
}
