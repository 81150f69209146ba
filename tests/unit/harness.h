/*
 * harness.h - drives a real worker from unit tests: builds Ethernet/IPv4/TCP/UDP frames
 * around payloads, feeds them through worker_packet(), and collects the facts and PDU
 * records that come out.
 *
 * Must never: bypass the worker: tests exercise the same path packets take.
 */
#ifndef OTS_HARNESS_H
#define OTS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker.h"

#define TH_MAX_FACTS 4096
#define TH_MAX_PDUS 4096

/* a flattened PDU record */
struct th_pdu {
	char proto[24];
	char dir[12];
	uint64_t frame;
	bool after_gap, truncated;
	int nfields;
	struct { char key[24]; int type; uint64_t u; int64_t i; char s[96]; } f[PDU_MAX_FIELDS];
};

struct th {
	struct config cfg;
	struct worker w;
	uint64_t ts, frameno;
	struct fact facts[TH_MAX_FACTS];
	size_t nfacts;
	struct th_pdu pdus[TH_MAX_PDUS];
	size_t npdus;
};

/* a new harness on the heap (it is large); NULL if out of memory */
struct th *th_new(void);
void th_free(struct th *t);

/* addresses are "10.0.0.1"; MACs are derived from the IP */
void th_tcp(struct th *t, const char *src, uint16_t sport, const char *dst, uint16_t dport, uint32_t seq,
	    uint8_t flags, const void *payload, size_t len);
void th_udp(struct th *t, const char *src, uint16_t sport, const char *dst, uint16_t dport, const void *payload,
	    size_t len);
void th_l2(struct th *t, const uint8_t dst_mac[6], uint16_t ethertype, const void *payload, size_t len);
/* a raw frame of any link type */
void th_frame(struct th *t, int linktype, const void *frame, size_t len);
void th_advance(struct th *t, uint64_t us);

/* end of input: flushes flows, then collects the facts */
void th_finish(struct th *t);
/* collects facts waiting in the worker's ring */
void th_collect(struct th *t);

/* lookups: NULL when absent */
const struct th_pdu *th_pdu_n(const struct th *t, const char *proto, size_t n);
size_t th_count_pdus(const struct th *t, const char *proto);
bool th_pdu_u(const struct th_pdu *p, const char *key, uint64_t *out);
const char *th_pdu_s(const struct th_pdu *p, const char *key);
const struct fact *th_fact(const struct th *t, enum fact_type type, const char *key_or_null);
const struct fact *th_event(const struct th *t, enum ots_event ev);
size_t th_count_facts(const struct th *t, enum fact_type type);

#endif
