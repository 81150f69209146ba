/*
 * stream.h - TCP reassembly (ordering bytes per direction) and PDU framing.
 *
 * stream_segment() turns TCP segments into an in-order byte stream per direction:
 * retransmissions and overlaps are trimmed, segments ahead of the expected sequence
 * wait in a bounded out-of-order list, and when that list is full (or the flow ends)
 * the hole is declared a gap so the dissector resynchronises instead of misparsing.
 * A capture that starts mid-connection is picked up at the first segment seen.
 *
 * stream_frame() cuts the in-order bytes into PDUs with the dissector's pdu_len(),
 * parsing straight from the segment when a PDU is whole in it and buffering only
 * partial PDUs. A PDU larger than a buffer is delivered as its head (truncated) and
 * the rest skipped.
 *
 * All buffers come from a per-worker pool of fixed chunks allocated at start.
 *
 * Must never: allocate per packet, hold more than STREAM_MAX_OOO segments per
 * direction, or deliver bytes out of order.
 */
#ifndef OTS_STREAM_H
#define OTS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"

#define STREAM_CHUNK 16384
#define STREAM_MAX_OOO 8

struct stream_pool {
	uint8_t *mem;
	uint32_t *next, *seq, *len;
	uint64_t *frame, *ts;       /* where a held segment came from */
	uint32_t n, free_head, in_use;
};

int stream_pool_init(struct stream_pool *p, uint32_t chunks);
void stream_pool_free(struct stream_pool *p);

/* Receives in-order bytes of direction dir; gap says bytes were lost just before;
 * frame and ts_us are those of the segment that carried the bytes. */
typedef void (*stream_bytes_fn)(void *ctx, struct flow *f, int dir, const uint8_t *data, size_t len, bool gap,
				uint64_t frame, uint64_t ts_us);
/* Receives one framed PDU. */
typedef void (*stream_pdu_fn)(void *ctx, struct flow *f, int dir, const uint8_t *pdu, size_t len, bool gap,
			      bool truncated);

void stream_segment(struct stream_pool *p, struct flow_stats *st, struct flow *f, int dir, uint32_t seq,
		    uint8_t flags, const uint8_t *data, size_t len, uint64_t frame, uint64_t ts_us,
		    stream_bytes_fn out, void *ctx);

/* The other side acknowledged up to `ack` in direction dir: bytes it acknowledged that
 * the capture never showed are lost, so segments held behind them go out now. */
void stream_ack(struct stream_pool *p, struct flow_stats *st, struct flow *f, int dir, uint32_t ack,
		stream_bytes_fn out, void *ctx);

void stream_frame(struct stream_pool *p, struct flow_stats *st, struct flow *f, int dir,
		  ssize_t (*pdu_len)(const uint8_t *, size_t), const uint8_t *data, size_t len, bool gap,
		  stream_pdu_fn out, void *ctx);

/* End of flow: delivers what waits out of order (with gaps) and frees every chunk. */
void stream_close(struct stream_pool *p, struct flow_stats *st, struct flow *f, stream_bytes_fn out, void *ctx);

#endif
