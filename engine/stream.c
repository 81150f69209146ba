/*
 * stream.c - TCP reassembly and PDU framing over a fixed pool of buffers.
 *
 * Sequence numbers are compared with serial arithmetic (RFC 1982), so wrap-around
 * works. The out-of-order list and the partial-PDU buffer of a direction are pool
 * chunks owned by that flow until it releases them.
 *
 * Must never: allocate after stream_pool_init, deliver a byte twice or out of order,
 * or loop more than once per byte.
 */
#include <stdlib.h>
#include <string.h>

#include "stream.h"

int stream_pool_init(struct stream_pool *p, uint32_t chunks)
{
	memset(p, 0, sizeof *p);
	if (chunks < 4)
		chunks = 4;
	p->mem = malloc((size_t)chunks * STREAM_CHUNK);
	p->next = calloc(chunks, sizeof *p->next);
	p->seq = calloc(chunks, sizeof *p->seq);
	p->len = calloc(chunks, sizeof *p->len);
	p->frame = calloc(chunks, sizeof *p->frame);
	p->ts = calloc(chunks, sizeof *p->ts);
	if (!p->mem || !p->next || !p->seq || !p->len || !p->frame || !p->ts) {
		stream_pool_free(p);
		return -1;
	}
	p->n = chunks;
	for (uint32_t i = 0; i < chunks; i++)
		p->next[i] = i + 1 < chunks ? i + 1 : FLOW_NONE;
	p->free_head = 0;
	return 0;
}

void stream_pool_free(struct stream_pool *p)
{
	free(p->mem);
	free(p->next);
	free(p->seq);
	free(p->len);
	free(p->frame);
	free(p->ts);
	memset(p, 0, sizeof *p);
}

static uint32_t chunk_get(struct stream_pool *p)
{
	uint32_t i = p->free_head;
	if (i == FLOW_NONE)
		return FLOW_NONE;
	p->free_head = p->next[i];
	p->next[i] = FLOW_NONE;
	p->len[i] = 0;
	p->in_use++;
	return i;
}

static void chunk_put(struct stream_pool *p, uint32_t i)
{
	p->next[i] = p->free_head;
	p->free_head = i;
	p->in_use--;
}

static inline uint8_t *chunk_mem(struct stream_pool *p, uint32_t i)
{
	return p->mem + (size_t)i * STREAM_CHUNK;
}

static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

/* Delivers in-order bytes starting at seq (which may be before next_seq: trimmed). */
static void deliver(struct stream_dir *sd, struct flow_stats *st, struct flow *f, int dir, uint32_t seq,
		    const uint8_t *data, size_t len, uint64_t frame, uint64_t ts, stream_bytes_fn out, void *ctx)
{
	int32_t d = seq_diff(seq, sd->next_seq);
	if (d < 0) {
		size_t old = (size_t)-(int64_t)d;
		if (old >= len) {
			st->tcp_retrans++;
			return;
		}
		st->tcp_overlap++;
		data += old;
		len -= old;
	}
	bool gap = sd->gap_pending;
	sd->gap_pending = false;
	sd->next_seq += (uint32_t)len;
	out(ctx, f, dir, data, len, gap, frame, ts);
}

/* Delivers out-of-order segments that have become contiguous. */
static void drain_waiting(struct stream_pool *p, struct stream_dir *sd, struct flow_stats *st, struct flow *f,
			  int dir, stream_bytes_fn out, void *ctx)
{
	while (sd->ooo_head != FLOW_NONE && seq_diff(p->seq[sd->ooo_head], sd->next_seq) <= 0) {
		uint32_t c = sd->ooo_head;
		sd->ooo_head = p->next[c];
		sd->n_ooo--;
		deliver(sd, st, f, dir, p->seq[c], chunk_mem(p, c), p->len[c], p->frame[c], p->ts[c], out, ctx);
		chunk_put(p, c);
	}
}

/* the same, without a call when nothing waits (nearly every segment) */
static inline void drain_ooo(struct stream_pool *p, struct stream_dir *sd, struct flow_stats *st, struct flow *f,
			     int dir, stream_bytes_fn out, void *ctx)
{
	if (sd->ooo_head != FLOW_NONE)
		drain_waiting(p, sd, st, f, dir, out, ctx);
}

/* Gives up on the hole before the first waiting segment. */
static void skip_hole(struct stream_pool *p, struct stream_dir *sd, struct flow_stats *st, struct flow *f, int dir,
		      stream_bytes_fn out, void *ctx)
{
	if (sd->ooo_head == FLOW_NONE)
		return;
	st->tcp_gaps++;
	sd->next_seq = p->seq[sd->ooo_head];
	sd->gap_pending = true;
	drain_ooo(p, sd, st, f, dir, out, ctx);
}

static void ooo_insert(struct stream_pool *p, struct stream_dir *sd, struct flow_stats *st, uint32_t seq,
		       const uint8_t *data, size_t len, uint64_t frame, uint64_t ts)
{
	if (len > STREAM_CHUNK)
		len = STREAM_CHUNK; /* cannot happen for real segments; keeps the copy bounded */
	uint32_t *pp = &sd->ooo_head;
	while (*pp != FLOW_NONE && seq_diff(p->seq[*pp], seq) < 0)
		pp = &p->next[*pp];
	if (*pp != FLOW_NONE && p->seq[*pp] == seq && p->len[*pp] >= len) {
		st->tcp_retrans++; /* the same out-of-order segment again */
		return;
	}
	uint32_t c = chunk_get(p);
	if (c == FLOW_NONE) {
		st->pool_exhausted++;
		return;
	}
	memcpy(chunk_mem(p, c), data, len);
	p->seq[c] = seq;
	p->len[c] = (uint32_t)len;
	p->frame[c] = frame;
	p->ts[c] = ts;
	p->next[c] = *pp;
	*pp = c;
	sd->n_ooo++;
	st->tcp_ooo++;
}

void stream_ack(struct stream_pool *p, struct flow_stats *st, struct flow *f, int dir, uint32_t ack,
		stream_bytes_fn out, void *ctx)
{
	struct stream_dir *sd = &f->dir[dir];
	if (sd->seq_known && sd->ooo_head != FLOW_NONE && seq_diff(ack, sd->next_seq) > 0 &&
	    seq_diff(p->seq[sd->ooo_head], ack) <= 0)
		skip_hole(p, sd, st, f, dir, out, ctx);
}

void stream_segment(struct stream_pool *p, struct flow_stats *st, struct flow *f, int dir, uint32_t seq,
		    uint8_t flags, const uint8_t *data, size_t len, uint64_t frame, uint64_t ts,
		    stream_bytes_fn out, void *ctx)
{
	struct stream_dir *sd = &f->dir[dir];
	if (flags & 0x02) { /* SYN */
		sd->next_seq = seq + 1;
		sd->seq_known = true;
		sd->fin = false;
		return; /* data on SYN (TFO) is ignored */
	}
	if (!sd->seq_known && len > 0) {
		/* mid-stream pickup, from the first segment that carries data (a keep-alive
		 * before it may sit one byte behind) */
		sd->next_seq = seq;
		sd->seq_known = true;
	}
	if (len > 0) {
		int32_t d = seq_diff(seq, sd->next_seq);
		if (d > 64 * 1024 * 1024 || d < -64 * 1024 * 1024) {
			/* far away: a new connection reusing the tuple without a SYN seen, or a
			 * lost window; resynchronise on this segment */
			st->tcp_gaps++;
			sd->next_seq = seq;
			sd->gap_pending = true;
			deliver(sd, st, f, dir, seq, data, len, frame, ts, out, ctx);
			drain_ooo(p, sd, st, f, dir, out, ctx);
		} else if (d <= 0) {
			deliver(sd, st, f, dir, seq, data, len, frame, ts, out, ctx);
			drain_ooo(p, sd, st, f, dir, out, ctx);
		} else {
			ooo_insert(p, sd, st, seq, data, len, frame, ts);
			if (sd->n_ooo > STREAM_MAX_OOO || p->free_head == FLOW_NONE)
				skip_hole(p, sd, st, f, dir, out, ctx);
		}
	}
	if (flags & (0x01 | 0x04)) { /* FIN or RST: whatever waits will never be completed */
		if (flags & 0x01)
			sd->fin = true;
		skip_hole(p, sd, st, f, dir, out, ctx);
	}
}

/* Runs the framer over [data, len), returning bytes consumed; sets *need to the
 * length of the PDU in progress when it is not whole (0 if unknown). */
static size_t frame_run(struct flow_stats *st, struct flow *f, int dir, ssize_t (*pdu_len)(const uint8_t *, size_t),
			const uint8_t *data, size_t len, bool *gap, stream_pdu_fn out, void *ctx, size_t *need,
			bool *desync)
{
	size_t off = 0;
	*need = 0;
	while (off < len) {
		ssize_t n = pdu_len(data + off, len - off);
		if (n < 0) {
			st->tcp_desync++;
			*desync = true;
			return len;
		}
		if (n == 0 || (size_t)n > len - off) {
			*need = (size_t)n;
			return off;
		}
		out(ctx, f, dir, data + off, (size_t)n, *gap, false);
		*gap = false;
		off += (size_t)n;
	}
	return off;
}

void stream_frame(struct stream_pool *p, struct flow_stats *st, struct flow *f, int dir,
		  ssize_t (*pdu_len)(const uint8_t *, size_t), const uint8_t *data, size_t len, bool gap,
		  stream_pdu_fn out, void *ctx)
{
	struct stream_dir *sd = &f->dir[dir];
	if (gap) {
		/* what was buffered can never be completed: drop it and resynchronise */
		if (sd->buf != FLOW_NONE) {
			chunk_put(p, sd->buf);
			sd->buf = FLOW_NONE;
			sd->buf_len = 0;
		}
		sd->skip = 0;
		sd->desync = false;
	}
	if (sd->skip) {
		size_t k = sd->skip < len ? sd->skip : len;
		sd->skip -= (uint32_t)k;
		data += k;
		len -= k;
		if (!len)
			return;
	}
	if (sd->desync) {
		/* after a framing error, try again only where a segment starts */
		sd->desync = false;
		gap = true;
	}
	while (len > 0) {
		size_t need = 0;
		bool desync = false;
		if (sd->buf == FLOW_NONE) {
			size_t used = frame_run(st, f, dir, pdu_len, data, len, &gap, out, ctx, &need, &desync);
			if (desync) {
				sd->desync = true;
				return;
			}
			data += used;
			len -= used;
			if (!len)
				return;
			/* a partial PDU remains: buffer it */
			sd->buf = chunk_get(p);
			if (sd->buf == FLOW_NONE) {
				st->pool_exhausted++;
				sd->desync = true;
				return;
			}
			sd->buf_len = 0;
		}
		uint8_t *b = chunk_mem(p, sd->buf);
		size_t room = STREAM_CHUNK - sd->buf_len;
		size_t k = len < room ? len : room;
		memcpy(b + sd->buf_len, data, k);
		sd->buf_len += (uint32_t)k;
		data += k;
		len -= k;
		size_t used = frame_run(st, f, dir, pdu_len, b, sd->buf_len, &gap, out, ctx, &need, &desync);
		if (desync) {
			chunk_put(p, sd->buf);
			sd->buf = FLOW_NONE;
			sd->buf_len = 0;
			sd->desync = true;
			return;
		}
		if (used < sd->buf_len && used == 0 && sd->buf_len == STREAM_CHUNK) {
			/* a PDU longer than a buffer: deliver its head, skip the rest */
			st->tcp_oversize++;
			out(ctx, f, dir, b, sd->buf_len, gap, true);
			gap = false;
			size_t rest = need > sd->buf_len ? need - sd->buf_len : 0;
			size_t k2 = rest < len ? rest : len;
			data += k2;
			len -= k2;
			sd->skip = (uint32_t)(rest - k2);
			used = sd->buf_len;
		}
		if (used == sd->buf_len) {
			chunk_put(p, sd->buf);
			sd->buf = FLOW_NONE;
			sd->buf_len = 0;
		} else if (used > 0) {
			memmove(b, b + used, sd->buf_len - used);
			sd->buf_len -= (uint32_t)used;
		}
		if (sd->buf != FLOW_NONE && len == 0)
			return;
		/* bytes remain: if the buffer is empty, the loop frames them in place */
	}
}

void stream_close(struct stream_pool *p, struct flow_stats *st, struct flow *f, stream_bytes_fn out, void *ctx)
{
	for (int dir = 0; dir < 2; dir++) {
		struct stream_dir *sd = &f->dir[dir];
		if (out)
			skip_hole(p, sd, st, f, dir, out, ctx);
		while (sd->ooo_head != FLOW_NONE) {
			uint32_t c = sd->ooo_head;
			sd->ooo_head = p->next[c];
			chunk_put(p, c);
		}
		sd->n_ooo = 0;
		if (sd->buf != FLOW_NONE) {
			chunk_put(p, sd->buf);
			sd->buf = FLOW_NONE;
			sd->buf_len = 0;
		}
	}
}
