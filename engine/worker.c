/*
 * worker.c - the per-packet path: decode, fragments, flows, TCP reassembly, dissectors,
 * and the dctx_* / pdu_* calls dissectors report through.
 *
 * Everything a worker touches per packet was allocated in worker_init. Frames from an
 * input ring arrive decoded (the capture thread's half: see worker_predecode). Facts go to the state thread through a lock-free ring after the
 * worker's fact cache has dropped repeats; PDU records (only with --emit pdus) go to the
 * worker's output buffer. In replay a worker that must wait for the state thread wakes
 * it (a futex, at most once per FACT_LAG_PACKETS packets) and yields its core.
 *
 * Must never: allocate, lock or make a system call per packet when no records are
 * asked for, or keep a pointer to packet bytes after the packet is processed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker.h"

/* facts to the state thread, and frames from the reader or capture thread (see
 * enum worker_mode): every byte of a ring is written each time round, and memory a
 * process touches for the first time costs more than the copying */
#define STATE_RING_LIVE 16384
#define STATE_RING_REPLAY 4096
#define INPUT_RING_LIVE (16u << 20)
#define INPUT_RING_REPLAY (4u << 20)
#define PROBE_LIMIT 8

int worker_init(struct worker *w, int id, const struct config *cfg, unsigned emit, enum worker_mode mode)
{
	memset(w, 0, sizeof *w);
	w->id = id;
	w->emit = emit;
	w->threaded = mode == WORKER_REPLAY || mode == WORKER_LIVE_RING;
	bool live = mode == WORKER_LIVE_RING || mode == WORKER_LIVE_QUEUE;
	if (flow_table_init(&w->ft, cfg->sensor.max_flows, cfg->sensor.flow_timeout_s, cfg->sensor.tcp_timeout_s) ||
	    stream_pool_init(&w->sp, cfg->sensor.stream_buffers) || ipfrag_init(&w->frag) ||
	    spsc_init(&w->facts, sizeof(struct fact), live ? STATE_RING_LIVE : STATE_RING_REPLAY) ||
	    outbuf_init(&w->out, 1u << 18) || !(w->fcache = calloc(FACT_CACHE_SIZE, sizeof *w->fcache)) ||
	    (w->threaded && bring_init(&w->in, live ? INPUT_RING_LIVE : INPUT_RING_REPLAY))) {
		worker_free(w);
		return -1;
	}
	if (cfg->state.evidence_max_mb)
		evring_init(&w->ev); /* without memory for it, alerts just have no evidence */
	return 0;
}

void worker_free(struct worker *w)
{
	flow_table_free(&w->ft);
	stream_pool_free(&w->sp);
	ipfrag_free(&w->frag);
	spsc_free(&w->facts);
	outbuf_free(&w->out);
	free(w->fcache);
	w->fcache = NULL;
	evring_free(&w->ev);
	if (w->threaded)
		bring_free(&w->in);
}

/* ---------------------------------------------------------------- facts */

static uint64_t fnv1a(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* Eight bytes at a time: a fact's union is ~120 bytes, hashed for every PDU. */
static uint64_t mix_words(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	uint64_t w;
	for (; n >= 8; n -= 8, b += 8) {
		memcpy(&w, b, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	return n ? fnv1a(b, n, h) : h;
}

static inline uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 32);
}

static inline uint64_t load_mac(const uint8_t m[6])
{
	uint32_t lo;
	uint16_t hi;
	memcpy(&lo, m, 4);
	memcpy(&hi, m + 4, 2);
	return (uint64_t)hi << 32 | lo;
}

static inline uint64_t mix_ip(uint64_t h, const uint8_t ip[16])
{
	uint64_t a, b;
	memcpy(&a, ip, 8);
	memcpy(&b, ip + 8, 8);
	return mix(mix(h, a), b);
}

/* Identity of a fact for the repeat cache: everything but time, flow and client port,
 * plus the addresses of the packet that carried it (a DNS answer's fact names a third
 * host; with the carrier's host pair in, a repeat is recognised only on the worker that
 * owns that pair, so what is dropped is the same for any number of workers).
 * dctx_fact_init zeroes the whole fact, so padding and unused union bytes are stable.
 * Fields are read where the fact holds them (words gathered into a fresh buffer
 * first would each wait for the stores that just filled it), and a protocol name,
 * nearly always the same constant as last time, is hashed once per change. */
static uint64_t fact_hash(struct worker *w, const struct fact *f, const struct packet *p)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	if (p) {
		uint64_t a[2], b[2];
		memcpy(a, p->src_ip, 16);
		memcpy(b, p->dst_ip, 16);
		h ^= (a[0] ^ b[0]) * 0x9e3779b97f4a7c15ULL + (a[1] ^ b[1]); /* the same both ways */
	}
	if (f->proto != w->hashed_proto) {
		w->hashed_proto = f->proto;
		w->hashed_proto_h = fnv1a(f->proto, strlen(f->proto), 0xcbf29ce484222325ULL);
	}
	h = mix(h, w->hashed_proto_h ^ (uint64_t)f->type << 56 ^ (uint64_t)f->vlan << 40);
	const struct fact_endpoint *srv = f->src_is_client ? &f->dst : &f->src;
	const struct fact_endpoint *cli = f->src_is_client ? &f->src : &f->dst;
	h = mix(h, load_mac(cli->mac) ^ (uint64_t)srv->port << 48);
	h = mix_ip(h, cli->ip);
	h = mix(h, load_mac(srv->mac));
	h = mix_ip(h, srv->ip);
	/* the union's member for the type (the rest is zero): an operation is half of it */
	size_t ulen = f->type == FACT_OPERATION ? sizeof f->u.op : f->type == FACT_CONTACT ? sizeof f->u.contact
											       : sizeof f->u;
	h = mix_words(&f->u, ulen, h);
	h ^= h >> 29;
	return h;
}

/* The worker has to wait for the state thread: wakes it, then backs off until
 * facts_applied reaches `target`. */
static void wait_applied(struct worker *w, uint64_t target)
{
	if (atomic_load_explicit(&w->facts_applied, memory_order_acquire) >= target)
		return;
	w->st.fact_waits++;
	if (w->state_wake)
		wake_if_sleeping(w->state_wake);
	for (unsigned round = 0; atomic_load_explicit(&w->facts_applied, memory_order_acquire) < target; round++)
		wait_backoff(round);
}

static void set_deadline(struct worker *w)
{
	w->lag_deadline = w->st.packets + FACT_LAG_PACKETS;
	w->lag_target = w->st.facts;
	if (w->state_wake && !w->state_polls)
		wake_if_sleeping(w->state_wake);
}

static void push_fact(struct worker *w, const struct fact *f)
{
	w->st.facts++;
	for (unsigned round = 0; !spsc_try_push(&w->facts, f); round++) {
		if (round == 0) {
			w->st.fact_waits++;
			if (w->state_wake)
				wake_if_sleeping(w->state_wake);
		}
		wait_backoff(round);
	}
	if (!w->sync_events)
		return;
	/* replay: an event or violation waits until the state thread has applied it; any
	 * other fact must be applied within FACT_LAG_PACKETS packets (worker_packet checks),
	 * so an alert's evidence request reaches this worker while the packets that raised
	 * it are still in its evidence ring. Starting a deadline wakes the state thread if
	 * it sleeps, so it has the whole window to catch up: at most one wake-up per
	 * FACT_LAG_PACKETS packets, and no wait at all while it keeps up */
	if (f->type == FACT_EVENT || f->type == FACT_VIOLATION) {
		wait_applied(w, w->st.facts);
	} else if (!w->lag_deadline) {
		set_deadline(w);
	}
}

/* Replay: the facts pushed by the time lag_deadline was set must be applied by now;
 * those pushed since get a deadline of their own (so a fact waits at most about twice
 * FACT_LAG_PACKETS, and the worker never waits for one it has only just pushed). */
static void wait_for_state(struct worker *w)
{
	wait_applied(w, w->lag_target);
	w->lag_deadline = 0;
	if (atomic_load_explicit(&w->facts_applied, memory_order_acquire) < w->st.facts)
		set_deadline(w);
}

void dctx_emit(struct dctx *ctx, const struct fact *f)
{
	struct worker *w = ctx->w;
	if (f->type == FACT_VIOLATION)
		w->st.violations++;
	if (f->type != FACT_EVENT) {
		/* FACT_CACHE_WAYS-way sets, the oldest way replaced: a fact is dropped only
		 * as a repeat of itself, not because another fact evicted it (so what goes
		 * out does not depend on which other flows share this worker) */
		uint64_t h = fact_hash(w, f, ctx->pkt);
		struct fact_cache_entry *set = &w->fcache[(h & (FACT_CACHE_SIZE / FACT_CACHE_WAYS - 1)) * FACT_CACHE_WAYS];
		struct fact_cache_entry *e = NULL, *oldest = &set[0];
		for (int k = 0; k < FACT_CACHE_WAYS; k++) {
			if (set[k].hash == h)
				e = &set[k];
			if (set[k].ts < oldest->ts)
				oldest = &set[k];
		}
		if (e && f->ts_us >= e->ts && f->ts_us - e->ts < FACT_CACHE_TTL_US) {
			w->st.facts_cached++;
			return;
		}
		if (!e)
			e = oldest;
		e->hash = h;
		e->ts = f->ts_us;
	}
	if (w->in_parse && w->npend < PEND_FACTS) {
		w->pend[w->npend++] = *f;
		return;
	}
	push_fact(w, f);
}

/* The facts of one PDU leave in a fixed order, events first: the state thread then
 * knows a flow carried an operational event before it judges that flow's operations,
 * however its batches happen to fall. */
static void flush_pending(struct worker *w)
{
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < w->npend; i++)
			if ((w->pend[i].type == FACT_EVENT) == (pass == 0))
				push_fact(w, &w->pend[i]);
	w->npend = 0;
}

static void endpoint_from(struct fact_endpoint *e, const struct packet *p, bool src)
{
	if (p->has_mac)
		memcpy(e->mac, src ? p->src_mac : p->dst_mac, 6);
	e->family = p->ip_version;
	memcpy(e->ip, src ? p->src_ip : p->dst_ip, 16);
	e->port = src ? p->sport : p->dport;
}

void dctx_fact_init(const struct dctx *ctx, struct fact *f, enum fact_type type)
{
	memset(f, 0, sizeof *f);
	const struct packet *p = ctx->pkt;
	f->type = (uint8_t)type;
	f->transport = (uint8_t)p->transport;
	f->src_is_client = ctx->src_is_client;
	f->vlan = p->vlan;
	f->ts_us = p->ts_us;
	f->proto = ctx->pdu.proto ? ctx->pdu.proto : ctx->d ? ctx->d->name : "";
	f->flow_id = ctx->flow ? ctx->flow->id : 0;
	f->worker = (uint8_t)ctx->w->id;
	f->seq = ctx->w->cur_seq;
	endpoint_from(&f->src, p, true);
	endpoint_from(&f->dst, p, false);
}

static void vfmt(char *dst, size_t n, bool *trunc, const char *fmt, va_list ap)
{
	int k = vsnprintf(dst, n, fmt, ap);
	if (k >= (int)n)
		*trunc = true;
}

void dctx_identity(struct dctx *ctx, enum fact_subject who, const char *key, const char *fmt, ...)
{
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_IDENTITY);
	f.u.id.subject = (uint8_t)who;
	fact_str(f.u.id.key, sizeof f.u.id.key, key);
	va_list ap;
	va_start(ap, fmt);
	if (fmt[0] == '%' && fmt[1] == 's' && !fmt[2]) /* the common case, without a format parser */
		f.truncated = fact_str(f.u.id.value, sizeof f.u.id.value, va_arg(ap, const char *));
	else
		vfmt(f.u.id.value, sizeof f.u.id.value, &f.truncated, fmt, ap);
	va_end(ap);
	if (!f.u.id.value[0])
		return; /* an empty identity says nothing */
	dctx_emit(ctx, &f);
}

void dctx_violation(struct dctx *ctx, const char *fmt, ...)
{
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_VIOLATION);
	va_list ap;
	va_start(ap, fmt);
	vfmt(f.u.viol.reason, sizeof f.u.viol.reason, &f.truncated, fmt, ap);
	va_end(ap);
	dctx_emit(ctx, &f);
}

void dctx_event(struct dctx *ctx, enum ots_event ev, enum fact_subject who, const char *fmt, ...)
{
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_EVENT);
	f.u.event.ev = (uint16_t)ev;
	f.u.event.subject = (uint8_t)who;
	va_list ap;
	va_start(ap, fmt);
	vfmt(f.u.event.detail, sizeof f.u.event.detail, &f.truncated, fmt, ap);
	va_end(ap);
	dctx_emit(ctx, &f);
}

/* ---------------------------------------------------------------- PDU records */

void pdu_begin_proto(struct dctx *ctx, const char *proto, const char *dir)
{
	ctx->pdu.proto = proto;
	ctx->pdu.dir = dir;
	ctx->pdu.nfields = 0;
	ctx->pdu.strused = 0;
}

void pdu_begin(struct dctx *ctx, const char *dir)
{
	pdu_begin_proto(ctx, ctx->d->name, dir);
}

static struct pdu_field *pdu_add(struct dctx *ctx, const char *key, uint8_t type)
{
	if (!ctx->want_pdus || ctx->pdu.nfields >= PDU_MAX_FIELDS)
		return NULL;
	/* a key set twice keeps its last value */
	for (int i = 0; i < ctx->pdu.nfields; i++) {
		if (!strcmp(ctx->pdu.f[i].key, key)) {
			ctx->pdu.f[i].type = type;
			return &ctx->pdu.f[i];
		}
	}
	struct pdu_field *f = &ctx->pdu.f[ctx->pdu.nfields++];
	f->key = key;
	f->type = type;
	return f;
}

void pdu_put_u(struct dctx *ctx, const char *key, uint64_t v)
{
	struct pdu_field *f = pdu_add(ctx, key, PF_UINT);
	if (f)
		f->v.u = v;
}

void pdu_put_i(struct dctx *ctx, const char *key, int64_t v)
{
	struct pdu_field *f = pdu_add(ctx, key, PF_INT);
	if (f)
		f->v.i = v;
}

void pdu_put_b(struct dctx *ctx, const char *key, bool v)
{
	struct pdu_field *f = pdu_add(ctx, key, PF_BOOL);
	if (f)
		f->v.b = v;
}

void pdu_put_null(struct dctx *ctx, const char *key)
{
	pdu_add(ctx, key, PF_NULL);
}

void pdu_put_s(struct dctx *ctx, const char *key, const char *s)
{
	if (!ctx->want_pdus)
		return;
	size_t n = strlen(s);
	struct pdu_rec *r = &ctx->pdu;
	if (r->strused + n + 1 > sizeof r->strbuf)
		return;
	struct pdu_field *f = pdu_add(ctx, key, PF_STR);
	if (!f)
		return;
	char *dst = r->strbuf + r->strused;
	memcpy(dst, s, n + 1);
	r->strused += n + 1;
	f->v.s = dst;
}

static void count_pdu(struct worker *w, const char *proto)
{
	/* names are the dissectors' constants: the same pointer, nearly always, and most
	 * often the same protocol as the PDU before */
	if (w->last_proto < w->nprotos && w->protos[w->last_proto].name == proto) {
		w->protos[w->last_proto].pdus++;
		return;
	}
	for (int i = 0; i < w->nprotos; i++) {
		if (w->protos[i].name == proto) {
			w->protos[i].pdus++;
			w->last_proto = i;
			return;
		}
	}
	for (int i = 0; i < w->nprotos; i++) {
		if (!strcmp(w->protos[i].name, proto)) {
			w->protos[i].pdus++;
			return;
		}
	}
	if (w->nprotos < PROTO_COUNTERS) {
		w->protos[w->nprotos].name = proto;
		w->protos[w->nprotos].pdus = 1;
		w->nprotos++;
	}
}

/* The finished PDU to the tests' hook, or as a JSON record (--emit pdus); kept out of
 * pdu_end, which every PDU passes through without either. */
static __attribute__((noinline)) void pdu_record(struct dctx *ctx)
{
	struct pdu_rec *r = &ctx->pdu;
	if (ctx->w->pdu_hook) {
		ctx->w->pdu_hook(ctx->w->hook_ctx, ctx);
	} else {
		const struct packet *p = ctx->pkt;
		json_object *o = rec_new("pdu", p->ts_us);
		json_object_object_add(o, "frame", json_object_new_int64((int64_t)p->frameno));
		json_object_object_add(o, "proto", json_object_new_string(r->proto));
		json_object_object_add(o, "dir", json_object_new_string(r->dir ? r->dir : "event"));
		rec_add_packet(o, p);
		for (int i = 0; i < r->nfields; i++) {
			const struct pdu_field *f = &r->f[i];
			json_object *v = NULL;
			switch (f->type) {
			case PF_UINT: v = json_object_new_uint64(f->v.u); break;
			case PF_INT: v = json_object_new_int64(f->v.i); break;
			case PF_STR: v = json_object_new_string(f->v.s); break;
			case PF_BOOL: v = json_object_new_boolean(f->v.b); break;
			default: break;
			}
			json_object_object_add(o, f->key, v);
		}
		if (ctx->after_gap)
			json_object_object_add(o, "after_gap", json_object_new_boolean(true));
		if (ctx->truncated)
			json_object_object_add(o, "truncated", json_object_new_boolean(true));
		outbuf_put(&ctx->w->out, o);
	}
}

void pdu_end(struct dctx *ctx)
{
	struct pdu_rec *r = &ctx->pdu;
	if (!r->proto)
		return;
	count_pdu(ctx->w, r->proto);
	if (ctx->want_pdus)
		pdu_record(ctx);
	r->proto = NULL;
}

/* ---------------------------------------------------------------- dispatch */

static uint8_t dt_of(int transport)
{
	return transport == TR_TCP ? DT_TCP : transport == TR_UDP ? DT_UDP : DT_L2;
}

static void ctx_setup(struct worker *w, struct dctx *c, const struct dissector *d, const struct packet *p,
		      struct flow *f, bool to_server)
{
	c->d = d;
	c->pkt = p;
	c->flow = f;
	c->w = w;
	c->state = f ? f->dstate : NULL;
	c->to_server = to_server;
	c->src_is_client = to_server;
	c->after_gap = false;
	c->truncated = false;
	c->want_pdus = (w->emit & EMIT_PDUS) != 0 || w->pdu_hook;
	c->pdu.proto = NULL;
}

static inline __attribute__((always_inline)) void run_parse(struct dctx *c, const uint8_t *data, size_t len)
{
	struct rd r = rd_init(data, len);
	c->w->in_parse = true;
	c->d->parse(c, &r);
	if (c->pdu.proto) /* a dissector that began a record but returned early */
		pdu_end(c);
	c->w->in_parse = false;
	flush_pending(c->w);
}

/* A packet standing in for the one that delivered bytes when a flow is flushed at
 * its end (so records still carry the flow's addresses). */
static void synth_packet(const struct flow *f, int dir, uint64_t frame, uint64_t ts_us, struct packet *p)
{
	memset(p, 0, sizeof *p);
	bool src_is_a = (dir == DIR_C2S) == (f->client_is_a != 0);
	p->ts_us = ts_us ? ts_us : f->last_ts;
	p->frameno = frame ? frame : f->last_frame;
	p->transport = f->key.transport;
	p->vlan = f->key.vlan;
	p->ip_version = f->key.ipv;
	memcpy(p->src_ip, src_is_a ? f->key.a : f->key.b, 16);
	memcpy(p->dst_ip, src_is_a ? f->key.b : f->key.a, 16);
	p->sport = src_is_a ? f->key.pa : f->key.pb;
	p->dport = src_is_a ? f->key.pb : f->key.pa;
	p->has_mac = f->has_mac;
	memcpy(p->src_mac, f->mac[src_is_a ? 0 : 1], 6);
	memcpy(p->dst_mac, f->mac[src_is_a ? 1 : 0], 6);
}

static const struct dissector *probe_dissector(struct flow *f, const uint8_t *data, size_t len, bool to_server)
{
	if (f->dissector == -2 || !len)
		return NULL;
	const struct dissector *d = dissector_probe(dt_of(f->key.transport), data, len, to_server);
	if (d) {
		f->dissector = (int16_t)dissector_index(d);
		return d;
	}
	if (++f->probes >= PROBE_LIMIT)
		f->dissector = -2;
	return NULL;
}

/* the flow's dissector, found by port or by probing its first bytes */
static inline const struct dissector *flow_dissector(struct flow *f, const uint8_t *data, size_t len, bool to_server)
{
	if (f->dissector >= 0)
		return dissectors[f->dissector];
	return probe_dissector(f, data, len, to_server);
}

static void on_pdu(void *ctx, struct flow *f, int dir, const uint8_t *pdu, size_t len, bool gap, bool truncated)
{
	struct worker *w = ctx;
	const struct dissector *d = dissectors[f->dissector];
	struct packet synth;
	const struct packet *p = w->cur;
	/* bytes held back (out of order, or flushed at the flow's end) carry the frame and
	 * time of the segment they came in, and the flow's addresses in their direction */
	if (!p || w->cur_flow != f || w->cur_dir != dir || w->bytes_frame != p->frameno) {
		synth_packet(f, dir, w->bytes_frame, w->bytes_ts, &synth);
		p = &synth;
	}
	struct dctx *c = &w->dc;
	ctx_setup(w, c, d, p, f, dir == DIR_C2S);
	c->after_gap = gap;
	c->truncated = truncated;
	run_parse(c, pdu, len);
}

static void on_bytes(void *ctx, struct flow *f, int dir, const uint8_t *data, size_t len, bool gap,
		     uint64_t frame, uint64_t ts_us)
{
	struct worker *w = ctx;
	w->bytes_frame = frame;
	w->bytes_ts = ts_us;
	const struct dissector *d = flow_dissector(f, data, len, dir == DIR_C2S);
	if (!d)
		return;
	if (!d->pdu_len) { /* a protocol without framing: each delivery is a PDU */
		on_pdu(w, f, dir, data, len, gap, false);
		return;
	}
	stream_frame(&w->sp, &w->ft.st, f, dir, d->pdu_len, data, len, gap, on_pdu, w);
}

static void on_flow_end(void *ctx, struct flow *f)
{
	struct worker *w = ctx;
	const struct packet *saved = w->cur;
	w->cur = NULL; /* records from the flush use the flow's own addresses */
	if (f->key.transport == TR_TCP)
		stream_close(&w->sp, &w->ft.st, f, f->dissector >= 0 ? on_bytes : NULL, w);
	w->cur = saved;
}

static bool guess_src_is_client(const struct packet *p)
{
	if (p->transport == TR_TCP && (p->tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST)) == TCP_SYN)
		return !(p->tcp_flags & TCP_ACK); /* a plain SYN says who opens; SYN+FIN/RST is junk */
	if (p->transport == TR_ICMP)
		return p->sport != 0 && p->sport != 129; /* echo reply (v4 0, v6 129) comes from the server */
	uint8_t dt = dt_of(p->transport);
	bool dknown = dissector_for_port(dt, p->dport) != NULL;
	bool sknown = dissector_for_port(dt, p->sport) != NULL;
	if (dknown != sknown)
		return dknown;
	if (p->sport != p->dport)
		return p->sport > p->dport;
	return true;
}

static void new_flow(struct worker *w, struct flow *f, const struct packet *p, bool src_is_a)
{
	bool src_client = guess_src_is_client(p);
	f->client_is_a = src_is_a == src_client;
	uint16_t server_port = src_client ? p->dport : p->sport;
	if (p->transport == TR_TCP || p->transport == TR_UDP) {
		const struct dissector *d = dissector_for_port(dt_of(p->transport), server_port);
		if (d)
			f->dissector = (int16_t)dissector_index(d);
	} else {
		f->dissector = -2;
	}
	struct dctx c;
	ctx_setup(w, &c, NULL, p, f, src_client);
	struct fact fc;
	dctx_fact_init(&c, &fc, FACT_CONTACT);
	fc.proto = f->dissector >= 0 ? dissectors[f->dissector]->name : transport_name(p->transport);
	fc.u.contact.tcp_flags = p->transport == TR_TCP ? p->tcp_flags : 0;
	fc.u.contact.icmp_type = p->transport == TR_ICMP ? (uint8_t)p->sport : 0;
	push_fact(w, &fc);
}

static void handle_l2(struct worker *w, const struct packet *p)
{
	w->st.l2_frames++;
	const struct dissector *d = dissector_for_ethertype(p->ethertype);
	if (!d)
		return;
	struct dctx *c = &w->dc;
	ctx_setup(w, c, d, p, NULL, true);
	run_parse(c, p->l2_payload, p->l2_len);
}

static void handle_ip(struct worker *w, struct packet *p)
{
	if (p->fragment) {
		w->st.fragments++;
		if (!ipfrag_add(&w->frag, p, &w->ds))
			return;
	}
	if (p->transport != TR_TCP && p->transport != TR_UDP && p->transport != TR_ICMP)
		return;
	struct flow_key k;
	bool src_is_a, created;
	flow_key_make(p, &k, &src_is_a);
	uint32_t hash = p->flow_hashed && !p->reassembled ? p->flow_hash : flow_key_hash(&k);
	struct flow *f = flow_lookup(&w->ft, &k, hash, p->ts_us, &created, on_flow_end, w);
	w->cur_flow_id = f->id;
	if (p->has_mac) {
		f->has_mac = true;
		memcpy(f->mac[src_is_a ? 0 : 1], p->src_mac, 6);
		memcpy(f->mac[src_is_a ? 1 : 0], p->dst_mac, 6);
	}
	if (created)
		new_flow(w, f, p, src_is_a);
	else if (p->transport == TR_TCP && (p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_FIN | TCP_RST)) == TCP_SYN &&
		 !f->syn_seen &&
		 src_is_a != (f->client_is_a != 0))
		f->client_is_a = src_is_a; /* a SYN settles who the client is */
	if (p->transport == TR_TCP && (p->tcp_flags & TCP_SYN))
		f->syn_seen = true;
	bool to_server = src_is_a == (f->client_is_a != 0);
	int dir = to_server ? DIR_C2S : DIR_S2C;
	f->last_frame = p->frameno;
	w->cur_flow = f;
	w->cur_dir = dir;
	f->pkts[dir]++;
	f->bytes[dir] += p->wirelen;

	if (p->transport == TR_TCP) {
		if (p->tcp_flags & TCP_ACK)
			stream_ack(&w->sp, &w->ft.st, f, !dir, p->ack, on_bytes, w);
		stream_segment(&w->sp, &w->ft.st, f, dir, p->seq, p->tcp_flags, p->payload, p->payload_len, p->frameno,
			       p->ts_us, on_bytes, w);
	} else if (p->transport == TR_UDP && p->payload_len) {
		const struct dissector *d = flow_dissector(f, p->payload, p->payload_len, to_server);
		if (d) {
			struct dctx *c = &w->dc;
			ctx_setup(w, c, d, p, f, to_server);
			run_parse(c, p->payload, p->payload_len);
		}
	}
}

void worker_packet(struct worker *w, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		   uint64_t ts_us, uint64_t frameno)
{
	struct packet p;
	int rc = decode_frame(linktype, frame, caplen, wirelen, ts_us, &p, &w->ds);
	worker_decoded(w, linktype, frame, caplen, wirelen, ts_us, frameno, &p, rc);
}

void worker_decoded(struct worker *w, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		    uint64_t ts_us, uint64_t frameno, struct packet *p, int rc)
{
	evring_poll(&w->ev);
	w->st.packets++;
	w->st.bytes += wirelen;
	if (w->lag_deadline && w->st.packets >= w->lag_deadline)
		wait_for_state(w);
	if (!w->st.first_ts || ts_us < w->st.first_ts)
		w->st.first_ts = ts_us;
	if (ts_us > w->st.last_ts)
		w->st.last_ts = ts_us;
	if (rc < 0) {
		w->st.decode_errors++;
		return;
	}
	p->frameno = frameno;
	w->cur = p;
	w->cur_flow = NULL;
	w->cur_flow_id = 0;
	flow_expire(&w->ft, ts_us, 4, on_flow_end, w);
	if (p->transport == TR_L2)
		handle_l2(w, p);
	else if (p->ip_version)
		handle_ip(w, p);
	w->cur = NULL;
	evring_add(&w->ev, linktype, frame, caplen, wirelen, ts_us, w->cur_flow_id);
}

int worker_predecode(int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen, uint64_t ts_us,
		     struct packet *p, struct decode_stats *ds, int n, uint32_t *k)
{
	int rc = decode_frame(linktype, frame, caplen, wirelen, ts_us, p, ds);
	*k = n <= 1 || rc < 0 ? 0 : worker_pick_hash_packet(p) % (uint32_t)n;
	if (rc >= 0)
		packet_hash_flow(p); /* the worker's flow lookup, and its prefetch, start here */
	return rc;
}

uint32_t worker_rec_len(uint32_t caplen)
{
	return ((caplen + 7u) & ~7u) + (uint32_t)sizeof(struct packet);
}

static const uint8_t *moved(const uint8_t *ptr, const uint8_t *from, uint32_t caplen, const uint8_t *to)
{
	return ptr && ptr >= from && ptr <= from + caplen ? to + (ptr - from) : ptr;
}

static void rec_header(struct brec *rec, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		       uint64_t ts_us, uint64_t frameno)
{
	rec->caplen = caplen;
	rec->wirelen = wirelen;
	rec->linktype = linktype;
	rec->ts_us = ts_us;
	rec->frameno = frameno;
	rec->seq = 0;
	rec->pkt_off = (caplen + 7u) & ~7u;
	memcpy(rec->data, frame, caplen);
}

void worker_rec_fill(struct brec *rec, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		     uint64_t ts_us, uint64_t frameno, const struct packet *p, int rc)
{
	rec_header(rec, linktype, frame, caplen, wirelen, ts_us, frameno);
	rec->decode_rc = rc;
	struct packet *q = (struct packet *)(rec->data + rec->pkt_off);
	*q = *p;
	q->frame = rec->data;
	q->l2_payload = moved(p->l2_payload, frame, caplen, rec->data);
	q->payload = moved(p->payload, frame, caplen, rec->data);
}

void worker_flush_flows(struct worker *w)
{
	flow_flush_all(&w->ft, on_flow_end, w);
}

void worker_finish(struct worker *w)
{
	w->cur_seq = UINT64_MAX - 1; /* after every record */
	worker_flush_flows(w);
	outbuf_flush(&w->out);
	evring_sync(&w->ev);
}

/* ---------------------------------------------------------------- threads */

static inline const struct packet *decoded_of(const struct brec *r)
{
	return r && r->pkt_off ? (const struct packet *)(r->data + r->pkt_off) : NULL;
}

/* Flows the worker's cache (a MiB or two) holds whole: with no more than these active,
 * their lookups hit it and looking ahead would only cost instructions. */
#define LOOK_AHEAD_FLOWS 2048

/* While r is handled, the flow lookups of the next two records start: the bucket of the
 * one after next, the flow of the next (its bucket fetched in the previous round). */
static inline void look_ahead(struct worker *w, const struct brec *r)
{
	if (w->ft.active <= LOOK_AHEAD_FLOWS)
		return;
	uint64_t pos = w->in.tail_read + r->size;
	const struct brec *r1 = bring_look(&w->in, pos);
	const struct packet *p1 = decoded_of(r1);
	if (p1 && p1->flow_hashed)
		flow_prefetch_flow(&w->ft, p1->flow_hash);
	const struct packet *p2 = r1 ? decoded_of(bring_look(&w->in, pos + r1->size)) : NULL;
	if (p2 && p2->flow_hashed)
		flow_prefetch_bucket(&w->ft, p2->flow_hash);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned idle = 0;
	for (;;) {
		struct brec *r = bring_peek(&w->in);
		if (!r && w->dispatched) {
			/* nothing waits for us: every record the reader has handed out so far
			 * (read before looking again) is done, as far as this worker goes */
			uint64_t d = atomic_load_explicit(w->dispatched, memory_order_acquire);
			if (!(r = bring_peek(&w->in)) && d > atomic_load_explicit(&w->watermark, memory_order_relaxed))
				atomic_store_explicit(&w->watermark, d, memory_order_release);
		}
		if (!r) {
			if (atomic_load(&w->input_done) && !bring_peek(&w->in))
				break;
			if (++idle > 1000) {
				struct timespec ts = { 0, 50000 };
				nanosleep(&ts, NULL); /* idle: nothing to process */
			} else {
				cpu_relax();
			}
			continue;
		}
		idle = 0;
		look_ahead(w, r);
		w->cur_seq = r->seq;
		if (r->linktype == WORKER_END_OF_FILE)
			worker_flush_flows(w);
		else if (r->pkt_off)
			worker_decoded(w, r->linktype, r->data, r->caplen, r->wirelen, r->ts_us, r->frameno,
				       (struct packet *)(r->data + r->pkt_off), r->decode_rc);
		else
			worker_packet(w, r->linktype, r->data, r->caplen, r->wirelen, r->ts_us, r->frameno);
		uint64_t seq = r->seq;
		bring_release(&w->in, r);
		atomic_store_explicit(&w->watermark, seq, memory_order_release);
	}
	worker_finish(w);
	w->cpu_s = thread_cpu_s();
	atomic_store_explicit(&w->watermark, UINT64_MAX, memory_order_release);
	return NULL;
}

void worker_name_thread(pthread_t t, int id)
{
	char name[16]; /* the kernel's limit, with the NUL */
	snprintf(name, sizeof name, "ots-worker%d", id);
	pthread_setname_np(t, name);
}

int worker_start(struct worker *w, int linktype)
{
	(void)linktype;
	if (pthread_create(&w->thread, NULL, worker_main, w))
		return -1;
	worker_name_thread(w->thread, w->id);
	return 0;
}

void worker_input_done(struct worker *w)
{
	atomic_store(&w->input_done, true);
}

void worker_join(struct worker *w)
{
	worker_input_done(w);
	pthread_join(w->thread, NULL);
}

uint32_t worker_pick_hash(int linktype, const uint8_t *frame, uint32_t caplen)
{
	struct packet p;
	struct decode_stats ds;
	memset(&ds, 0, sizeof ds);
	if (decode_frame(linktype, frame, caplen, caplen, 0, &p, &ds) < 0)
		return 0;
	return worker_pick_hash_packet(&p);
}

uint32_t worker_pick_hash_packet(const struct packet *p)
{
	uint64_t a, b;
	if (p->ip_version) {
		uint64_t x[2], y[2];
		memcpy(x, p->src_ip, 16);
		memcpy(y, p->dst_ip, 16);
		a = (x[0] * 0x9e3779b97f4a7c15ULL) ^ (x[1] * 0xc2b2ae3d27d4eb4fULL);
		b = (y[0] * 0x9e3779b97f4a7c15ULL) ^ (y[1] * 0xc2b2ae3d27d4eb4fULL);
	} else {
		uint64_t x = 0, y = 0;
		memcpy(&x, p->src_mac, 6);
		memcpy(&y, p->dst_mac, 6);
		a = x * 0x9e3779b97f4a7c15ULL;
		b = y * 0x9e3779b97f4a7c15ULL;
	}
	uint64_t h = (a + b) ^ ((a ^ b) >> 29) ^ p->vlan;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (uint32_t)h;
}
