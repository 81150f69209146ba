/*
 * fuzz_dissector.c - libFuzzer target for one dissector (FUZZ_DISSECTOR names it),
 * driving it through a real worker exactly as captured traffic would: the input is cut
 * into TCP segments in both directions, or sent as a UDP datagram or an L2 frame, and
 * the dissector's probe and framing functions are called on it directly too.
 *
 * Must never: keep state between inputs (each input ends its flows), or skip the
 * worker (the engine's framing is part of what is fuzzed).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#ifndef FUZZ_DISSECTOR
#error "build with -DFUZZ_DISSECTOR=\"name\""
#endif

static struct th *t;
static const struct dissector *d;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!t) {
		t = th_new();
		d = dissector_by_name(FUZZ_DISSECTOR);
		if (!t || !d)
			abort();
	}
	t->nfacts = t->npdus = 0;
	if (size < 2)
		return 0;
	uint8_t ctl = data[0], cuts = (uint8_t)(1 + (data[1] & 3));
	data += 2;
	size -= 2;

	if (d->probe)
		d->probe(data, size, ctl & 1);
	if (d->pdu_len)
		d->pdu_len(data, size);

	uint16_t port = d->ports && d->ports[0] ? d->ports[0] : 40000;
	if (d->transports & DT_TCP && !(ctl & 0x80 && d->transports & DT_UDP)) {
		/* the input in `cuts` segments; bit 1 says which side talks first, bit 2
		 * whether segment k goes the other way when k is odd */
		size_t step = size / cuts + 1;
		uint32_t seq[2] = { 1000, 9000 };
		for (size_t off = 0, k = 0; off < size; off += step, k++) {
			size_t n = size - off < step ? size - off : step;
			int dir = ((ctl >> 1) & 1) ^ ((ctl & 4) ? (int)(k & 1) : 0);
			if (dir == 0)
				th_tcp(t, "10.9.0.2", 50000, "10.9.0.1", port, seq[0], TCP_ACK | TCP_PSH, data + off, n);
			else
				th_tcp(t, "10.9.0.1", port, "10.9.0.2", 50000, seq[1], TCP_ACK | TCP_PSH, data + off, n);
			seq[dir] += (uint32_t)n;
		}
	} else if (d->transports & DT_UDP) {
		if (ctl & 2)
			th_udp(t, "10.9.0.1", port, "10.9.0.2", 50000, data, size);
		else
			th_udp(t, "10.9.0.2", 50000, "10.9.0.1", port, data, size);
	} else if (d->transports & DT_L2) {
		static const uint8_t dst[6] = { 0x01, 0x0c, 0xcd, 0x01, 0x00, 0x01 };
		th_l2(t, dst, d->ethertype, data, size);
	}
	th_finish(t);
	return 0;
}
