/*
 * common.h - helpers of the state unit tests (tests/unit/test_state_*.c): a state in
 * a temporary directory, crafted facts, alerts and devices read back from the store,
 * and `otsensor ctl` run in a child process (a second LMDB environment on the same
 * files must not live in the process that holds the state open).
 *
 * Must never: bypass ots_state_apply to change what the engines decide; the store is
 * read, and written only the way the console writes it (ctl_run).
 */
#ifndef OTS_TEST_STATE_COMMON_H
#define OTS_TEST_STATE_COMMON_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alerts.h"
#include "check.h"
#include "config.h"
#include "ctl.h"
#include "otstate.h"
#include "packet.h"

#define US 1000000ull
#define T0 (1767600000ull * US) /* 2026-01-05 */

static inline char *st_tmpdir(void)
{
	static char tmpl[64];
	snprintf(tmpl, sizeof tmpl, "/tmp/ots-state-XXXXXX");
	return strdup(mkdtemp(tmpl));
}

static inline void st_rmdir(char *dir)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(dir);
}

static inline void st_cfg(struct config *c)
{
	config_defaults(c);
	c->state.evidence_max_mb = 0; /* no workers: no evidence */
}

static inline struct ots_state *st_open(const char *dir, const struct config *c, int learning)
{
	struct ots_state *s = NULL;
	char err[700];
	if (ots_state_open(&s, dir, c, learning, err, sizeof err)) {
		fprintf(stderr, "ots_state_open %s: %s\n", dir, err);
		return NULL;
	}
	return s;
}

/* "10.0.0.1" -> IPv4 endpoint, MAC 02:00:<ip> */
static inline void st_ep(struct fact_endpoint *e, const char *ip, uint16_t port)
{
	memset(e, 0, sizeof *e);
	e->family = 4;
	if (inet_pton(AF_INET, ip, e->ip) != 1)
		abort();
	e->mac[0] = 0x02;
	memcpy(e->mac + 2, e->ip, 4);
	e->port = port;
}

static inline struct fact st_base(int type, uint64_t ts, const char *proto, const char *src, uint16_t sport, const char *dst,
			   uint16_t dport)
{
	struct fact f;
	memset(&f, 0, sizeof f);
	f.type = (uint8_t)type;
	f.transport = TR_TCP;
	f.ts_us = ts;
	f.proto = proto;
	f.src_is_client = true;
	f.flow_id = 0;
	st_ep(&f.src, src, sport);
	st_ep(&f.dst, dst, dport);
	return f;
}

/* a request from cli to srv (Modbus on 502 unless proto says otherwise) */
static inline struct fact st_op(uint64_t ts, const char *proto, const char *cli, const char *srv, uint32_t func, bool write,
			 bool has_range, uint32_t lo, uint32_t hi)
{
	struct fact f = st_base(FACT_OPERATION, ts, proto, cli, 40000, srv, 502);
	f.u.op.func = func;
	f.u.op.is_write = write;
	f.u.op.has_range = has_range;
	f.u.op.addr_lo = lo;
	f.u.op.addr_hi = hi;
	f.u.op.object = 1;
	return f;
}

/* what the device at ip says about itself */
static inline struct fact st_id(uint64_t ts, const char *ip, const char *peer, const char *key, const char *val)
{
	struct fact f = st_base(FACT_IDENTITY, ts, "modbus", ip, 502, peer, 40000);
	f.src_is_client = false;
	f.u.id.subject = SUBJ_SRC;
	snprintf(f.u.id.key, sizeof f.u.id.key, "%s", key);
	snprintf(f.u.id.value, sizeof f.u.id.value, "%s", val);
	return f;
}

static inline struct fact st_contact(uint64_t ts, const char *proto, const char *cli, const char *srv, uint16_t dport)
{
	struct fact f = st_base(FACT_CONTACT, ts, proto, cli, 40001, srv, dport);
	f.u.contact.tcp_flags = 0x02;
	return f;
}

static inline int st_apply1(struct ots_state *s, struct fact f)
{
	return ots_state_apply(s, &f, 1);
}

/* ---- reading back */

/* the alerts of a kind (NULL: all), in id order; returns how many; *last gets the
 * last one (caller puts it) when last is not NULL */
static inline int st_alerts(struct ots_state *s, const char *kind, json_object **last)
{
	MDB_txn *txn;
	MDB_cursor *c;
	int n = 0;
	if (last)
		*last = NULL;
	if (mdb_txn_begin(s->st.env, NULL, MDB_RDONLY, &txn))
		return -1;
	if (mdb_cursor_open(txn, s->st.alerts, &c)) {
		mdb_txn_abort(txn);
		return -1;
	}
	MDB_val k, v;
	while (!mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		json_object *o = json_tokener_parse((const char *)v.mv_data), *kd;
		if (!o)
			continue;
		if (!kind || (json_object_object_get_ex(o, "kind", &kd) && !strcmp(json_object_get_string(kd), kind))) {
			n++;
			if (last) {
				json_object_put(*last);
				*last = json_object_get(o);
			}
		}
		json_object_put(o);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return n;
}

static inline const char *jstr_(json_object *o, const char *k)
{
	json_object *v;
	if (o && json_object_object_get_ex(o, k, &v) && v)
		return json_object_get_string(v);
	return "";
}

static inline int64_t jint_(json_object *o, const char *k)
{
	json_object *v;
	if (o && json_object_object_get_ex(o, k, &v) && v)
		return json_object_get_int64(v);
	return -1;
}

/* the stored device record (caller puts it), NULL when absent */
static inline json_object *st_device(struct ots_state *s, const char *id)
{
	MDB_txn *txn;
	MDB_val v;
	json_object *o = NULL;
	if (mdb_txn_begin(s->st.env, NULL, MDB_RDONLY, &txn))
		return NULL;
	if (db_get_str(txn, s->st.devices, id, &v) == 0)
		o = json_tokener_parse((const char *)v.mv_data);
	mdb_txn_abort(txn);
	return o;
}

static inline bool st_learning(struct ots_state *s)
{
	MDB_txn *txn;
	bool on = false;
	if (mdb_txn_begin(s->st.env, NULL, MDB_RDONLY, &txn))
		return false;
	learning_get(&s->st, txn, &on);
	mdb_txn_abort(txn);
	return on;
}

static inline bool st_baseline_has(struct ots_state *s, const char *key)
{
	MDB_txn *txn;
	if (mdb_txn_begin(s->st.env, NULL, MDB_RDONLY, &txn))
		return false;
	bool r = db_has(txn, s->st.baseline, key);
	mdb_txn_abort(txn);
	return r;
}

/* `otsensor ctl --state dir ARGS...` in a child; its stdout (and stderr) into out.
 * Returns the exit status, -1 if it did not exit. */
static inline int st_ctl(const char *dir, bool json, char *out, size_t outlen, ...)
{
	char *argv[8];
	int argc = 0;
	va_list ap;
	va_start(ap, outlen);
	const char *a;
	while (argc < 7 && (a = va_arg(ap, const char *)))
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	int fd[2];
	if (pipe(fd))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 1);
		dup2(fd[1], 2);
		close(fd[1]);
		int rc = ctl_run(dir, json, argc, argv);
		fflush(stdout);
		fflush(stderr);
		_exit(rc);
	}
	close(fd[1]);
	size_t n = 0;
	ssize_t r;
	char sink[4096];
	while ((r = read(fd[0], n + 1 < outlen ? out + n : sink, n + 1 < outlen ? outlen - n - 1 : sizeof sink)) > 0)
		if (n + 1 < outlen)
			n += (size_t)r;
	close(fd[0]);
	if (outlen)
		out[n < outlen ? n : outlen - 1] = 0;
	int st;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

#endif
