/*
 * dissector.h - what a protocol dissector is, and the context it parses in.
 *
 * Each protocol is one file in dissectors/ exporting one `const struct dissector`,
 * listed once in registry.c. The engine picks a dissector for a flow by server port,
 * by ethertype (L2), or by asking each dissector's `probe` about the first payload.
 *
 * TCP protocols are framed by the engine: `pdu_len` says how long the PDU at the
 * start of the reassembled stream is, and `parse` then sees exactly one PDU. UDP and
 * L2 protocols see one datagram/frame per `parse` call.
 *
 * A dissector reads bytes only through `struct rd` (reader.h), reports what it learns
 * through the dctx_* and pdu_* calls below, and keeps per-flow memory only in
 * `ctx->state` (DISSECTOR_STATE_SIZE bytes, zeroed when the flow is created).
 *
 * Must never: allocate, block, keep pointers to packet bytes past `parse`, or treat
 * malformed input as anything but a violation fact.
 */
#ifndef OTS_DISSECTOR_H
#define OTS_DISSECTOR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fact.h"
#include "reader.h"
#include "../engine/packet.h"

#define DISSECTOR_STATE_SIZE 256
#define PDU_MAX_FIELDS 24
#define PDU_STRBUF 1024

/* which transports a dissector handles */
#define DT_TCP 0x1
#define DT_UDP 0x2
#define DT_L2  0x4

struct dctx;

struct dissector {
	const char *name;           /* protocol name as it appears in records ("modbus") */
	uint8_t transports;         /* DT_* mask */
	const uint16_t *ports;      /* server ports, 0-terminated; NULL for none */
	uint16_t ethertype;         /* for DT_L2; 0 for none */
	/* Heuristic: could these first payload bytes of a flow be this protocol?
	 * NULL means "recognised by port/ethertype only". */
	bool (*probe)(const uint8_t *data, size_t len, bool to_server);
	/* TCP only: length of the PDU starting at data, 0 if more bytes are needed to
	 * tell, -1 if these bytes cannot start a PDU (the stream lost sync). */
	ssize_t (*pdu_len)(const uint8_t *data, size_t len);
	/* Parses one PDU/datagram. Returns 0 if it parsed, -1 if malformed (after
	 * emitting a violation fact). */
	int (*parse)(struct dctx *ctx, struct rd *r);
};

enum pdu_ftype { PF_UINT, PF_INT, PF_STR, PF_NULL, PF_BOOL };

struct pdu_field {
	const char *key;
	uint8_t type;
	union {
		uint64_t u;
		int64_t i;
		const char *s;          /* points into pdu.strbuf */
		bool b;
	} v;
};

struct pdu_rec {
	const char *proto;
	const char *dir;            /* "request", "response", "event" */
	int nfields;
	size_t strused;
	struct pdu_field f[PDU_MAX_FIELDS];
	char strbuf[PDU_STRBUF];
};

struct worker;
struct flow;

struct dctx {
	const struct dissector *d;
	const struct packet *pkt;
	struct flow *flow;          /* NULL for L2 frames */
	struct worker *w;
	void *state;                /* per-flow dissector memory, DISSECTOR_STATE_SIZE bytes */
	bool to_server;             /* the packet goes from the flow's client to its server */
	bool src_is_client;
	bool after_gap;             /* bytes were lost before this PDU in this direction */
	bool truncated;             /* the PDU was longer than the stream buffer; only its head is here */
	bool want_pdus;             /* someone asked for per-PDU records */
	struct pdu_rec pdu;
};

/* --- per-PDU records (inline no-ops unless --emit pdus or a test hook asks) --- */
void pdu_begin(struct dctx *ctx, const char *dir);
void pdu_begin_proto(struct dctx *ctx, const char *proto, const char *dir);
void pdu_end(struct dctx *ctx);
void pdu_put_u(struct dctx *ctx, const char *key, uint64_t v);
void pdu_put_i(struct dctx *ctx, const char *key, int64_t v);
void pdu_put_b(struct dctx *ctx, const char *key, bool v);
void pdu_put_s(struct dctx *ctx, const char *key, const char *s);
void pdu_put_null(struct dctx *ctx, const char *key);
static inline void pdu_u(struct dctx *ctx, const char *key, uint64_t v) { if (ctx->want_pdus) pdu_put_u(ctx, key, v); }
static inline void pdu_i(struct dctx *ctx, const char *key, int64_t v) { if (ctx->want_pdus) pdu_put_i(ctx, key, v); }
static inline void pdu_b(struct dctx *ctx, const char *key, bool v) { if (ctx->want_pdus) pdu_put_b(ctx, key, v); }
static inline void pdu_s(struct dctx *ctx, const char *key, const char *s) { if (ctx->want_pdus) pdu_put_s(ctx, key, s); }
static inline void pdu_null(struct dctx *ctx, const char *key) { if (ctx->want_pdus) pdu_put_null(ctx, key); }

/* --- facts --- */
void dctx_fact_init(const struct dctx *ctx, struct fact *f, enum fact_type type);
void dctx_emit(struct dctx *ctx, const struct fact *f);
void dctx_identity(struct dctx *ctx, enum fact_subject who, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void dctx_violation(struct dctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dctx_event(struct dctx *ctx, enum ots_event ev, enum fact_subject who, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The subject that is the flow's server / client for the current packet. */
static inline enum fact_subject dctx_server(const struct dctx *ctx) { return ctx->to_server ? SUBJ_DST : SUBJ_SRC; }
static inline enum fact_subject dctx_client(const struct dctx *ctx) { return ctx->to_server ? SUBJ_SRC : SUBJ_DST; }

/* --- registry (registry.c) --- */
extern const struct dissector *const dissectors[];
extern const size_t n_dissectors;
int dissector_index(const struct dissector *d);
const struct dissector *dissector_by_name(const char *name);
const struct dissector *dissector_for_port(uint8_t transport_dt, uint16_t port);
const struct dissector *dissector_for_ethertype(uint16_t ethertype);
const struct dissector *dissector_probe(uint8_t transport_dt, const uint8_t *data, size_t len, bool to_server);
void registry_init(void);

#endif
