/*
 * evidence.h - the packets behind an alert: a small ring of recent frames in each
 * worker, and pcap files under STATE/evidence written from it.
 *
 * Race-free by ownership: only the worker ever touches its ring. When the state
 * thread raises an alert it pushes a request (alert id, flow id or host, path) into
 * the worker's request ring (SPSC, lock-free); the worker polls that ring between
 * packets (two atomic loads per packet) and writes the file itself with
 * pcap_dump, to "<path>.tmp" then renamed, so a reader never sees half a file. After
 * the workers stopped, the state thread answers what is left (evring_service).
 * The state thread caps the directory at [alerts] evidence_max_mb, oldest first.
 *
 * The ring is EVR_SLOTS small slots of EVR_SMALL bytes, one per frame, in turn: a
 * 24-byte header (time, flow, lengths) and the frame when it fits (most OT frames
 * do); a request for a host's frames decodes them again to find its addresses. A longer frame goes, up to EVR_SNAP
 * bytes, into a big slot taken from a pool of EVR_SLOTS (last freed, first taken), and
 * gives it back when its small slot is reused. So the newest EVR_SLOTS frames are
 * always there, in 4 MiB plus 1.5 KiB for each long frame among them: memory a
 * worker touches for the first time costs more than all the copying.
 *
 * Per packet: a header and at most EVR_SNAP bytes, stored past the caches where the CPU
 * can (the ring is read only for alerts); no allocation, lock or system call.
 *
 * Must never: block a worker on the state thread, or write outside STATE/evidence.
 */
#ifndef OTS_EVIDENCE_H
#define OTS_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

#define EVR_SLOTS 16384
#define EVR_SNAP 1536
#define EVR_REQS 256

#define EVR_SMALL 256
#define EVR_NONE 0xffff

/* a small slot starts with this header, then the frame unless it is in big slot `big` */
struct evr_hdr {
	uint64_t ts_us;
	uint32_t flow_id;
	uint32_t wirelen;
	uint16_t caplen;        /* at most EVR_SNAP */
	int16_t linktype;
	uint16_t big;           /* EVR_NONE: the frame is in the small slot */
	uint16_t unused;
};
_Static_assert(sizeof(struct evr_hdr) == 24 && offsetof(struct evr_hdr, flow_id) == 8 &&
		       offsetof(struct evr_hdr, caplen) == 16 && offsetof(struct evr_hdr, big) == 20 &&
		       __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "evring_add stores the header as three little-endian words");

struct evr_req {
	uint64_t alert_id;
	uint32_t flow_id;
	uint32_t max_packets;
	bool host;              /* every packet to or from the host below, not only the flow */
	uint8_t family;
	uint8_t ip[16];
	uint8_t mac[6];
	char path[480];
};

/* a file written, handed back to the state thread (which queues it for the uplink) */
struct evr_done {
	uint64_t alert_id;
	char path[480];
};

struct evring {
	uint8_t *small;         /* EVR_SLOTS x EVR_SMALL: frame i in slot i % EVR_SLOTS; NULL: no evidence */
	uint8_t *big;           /* EVR_SLOTS x EVR_SNAP, touched only as far as the pool is used */
	uint16_t *free_big;     /* the pool: big slots not in use, the next one to take last */
	uint16_t *slot_big;     /* EVR_SLOTS: the big slot each small slot holds, or EVR_NONE */
	uint32_t nfree;
	uint64_t n;             /* frames ever added */
	struct spsc req;        /* state thread -> worker: files to write */
	struct spsc done;       /* worker -> state thread: files written (EVR_REQS deep) */
	uint64_t written, failed;
	uint64_t done_lost;     /* written but the done ring was full: not uploaded */
};


int evring_init(struct evring *r);
void evring_free(struct evring *r);
/* the worker, after each packet (flow_id 0 for frames without a flow) */
void evring_add(struct evring *r, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		uint64_t ts_us, uint32_t flow_id);
/* the worker, before another thread may read its ring (it stops) */
void evring_sync(struct evring *r);
/* the worker, between packets: answers waiting requests */
static inline void evring_poll(struct evring *r);
void evring_service(struct evring *r);

static inline void evring_poll(struct evring *r)
{
	if (r->small && !spsc_empty(&r->req))
		evring_service(r);
}

/* the state thread: asks fact->worker for the packets of the fact's flow (or of its
 * source host) and fills path with the file it will hold ("" without evidence) */
struct ots_state;
struct fact;
void evidence_request(struct ots_state *s, const struct fact *f, uint64_t alert_id, bool host, char *path,
		      size_t n);
/* keeps STATE/evidence under the cap, oldest files first */
void evidence_enforce_cap(struct ots_state *s);
/* the state thread, inside its write transaction (s->txn): queues every evidence file
 * the workers finished since the last call as OUTBOX_EVIDENCE (key: alert id, the same
 * key as the alert message). Returns how many were queued, or a negative LMDB error. */
int evidence_queue_written(struct ots_state *s);

#endif
