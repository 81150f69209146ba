/*
 * test_evidence.c - the per-worker evidence ring: frames of every size through it many
 * times round (the long ones in big slots of its pool, held only while in reach), then
 * written to pcap files for a flow, an IPv4 or IPv6 host, or a MAC: the newest frames
 * that match, oldest first, cut at EVR_SNAP bytes with their wire length kept, and
 * exactly the newest EVR_SLOTS frames in reach.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "evidence.h"
#include "packet.h"

static char dir[] = "/tmp/ots-evidence-XXXXXX";

/* Frame number i, of flow `flow` (1..5): Ethernet from 00:11:22:33:44:<flow> to
 * 00:11:22:33:44:ee; flows 1..3 IPv4/UDP from 10.0.0.<flow> to 10.0.0.200, flow 4
 * IPv6/UDP from fd00::4 to fd00::200, flow 5 LLDP (no IP layer); then bytes of a
 * pattern up to its length, 60 to 2059 bytes. Returns the length. */
static uint32_t len_of(uint64_t i) { return 60 + (uint32_t)((i * 7919) % 2000); }
static uint32_t flow_of(uint64_t i) { return (uint32_t)(i % 5) + 1; }

static uint32_t frame_of(uint64_t i, uint8_t *f)
{
	uint32_t len = len_of(i), flow = flow_of(i);
	for (uint32_t k = 0; k < len; k++)
		f[k] = (uint8_t)(i * 31 + k);
	const uint8_t dst[6] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0xee }, src[6] = { 0x00, 0x11, 0x22, 0x33, 0x44, (uint8_t)flow };
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	uint8_t *l3 = f + 14;
	if (flow <= 3) {
		f[12] = 0x08, f[13] = 0x00;
		uint32_t tot = len - 14;
		const uint8_t ip[20] = { 0x45, 0, (uint8_t)(tot >> 8), (uint8_t)tot, 0, 0, 0, 0, 64, 17, 0, 0,
					 10, 0, 0, (uint8_t)flow, 10, 0, 0, 200 };
		memcpy(l3, ip, 20);
		const uint8_t udp[8] = { 0x9c, 0x40, 0x9c, 0x41, (uint8_t)((tot - 20) >> 8), (uint8_t)(tot - 20), 0, 0 };
		memcpy(l3 + 20, udp, 8);
	} else if (flow == 4) {
		f[12] = 0x86, f[13] = 0xdd;
		uint32_t pl = len - 14 - 40;
		uint8_t ip[40] = { 0x60, 0, 0, 0, (uint8_t)(pl >> 8), (uint8_t)pl, 17, 64 };
		ip[8] = 0xfd, ip[23] = 4;   /* fd00::4 */
		ip[24] = 0xfd, ip[39] = 200; /* fd00::200 (0xc8) */
		memcpy(l3, ip, 40);
		const uint8_t udp[8] = { 0x9c, 0x40, 0x9c, 0x41, (uint8_t)(pl >> 8), (uint8_t)pl, 0, 0 };
		memcpy(l3 + 40, udp, 8);
	} else {
		f[12] = 0x88, f[13] = 0xcc; /* LLDP */
	}
	return len;
}

static void add(struct evring *r, uint64_t i, uint32_t flow_id)
{
	static uint8_t frame[4096];
	uint32_t len = frame_of(i, frame);
	evring_add(r, LT_ETHERNET, frame, len, len + 4, 1000000 + i, flow_id);
}

/* a request for every frame to or from a host (by address, or by MAC when mac is set) */
static struct evr_req host_req(uint8_t family, const uint8_t ip[16], const uint8_t *mac, uint32_t max)
{
	struct evr_req q;
	memset(&q, 0, sizeof q);
	q.host = true;
	q.family = family;
	memcpy(q.ip, ip, 16);
	if (mac)
		memcpy(q.mac, mac, 6);
	q.max_packets = max;
	return q;
}

/* Writes the file for q and reads it back: how many frames, and whether every one is
 * frame number first + k*step, in order, cut at EVR_SNAP with its wire length kept. */
static int written(struct evring *r, struct evr_req *q, uint64_t first, uint64_t step, bool *intact)
{
	snprintf(q->path, sizeof q->path, "%s/e.pcap", dir);
	unlink(q->path);
	CHECK(spsc_try_push(&r->req, q));
	evring_poll(r);
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(q->path, err);
	*intact = false;
	if (!p)
		return -1;
	struct pcap_pkthdr *h;
	const u_char *data;
	int n = 0;
	*intact = true;
	static uint8_t want[4096];
	while (pcap_next_ex(p, &h, &data) == 1) {
		uint64_t i = first + (uint64_t)n * step;
		uint32_t len = frame_of(i, want);
		if (h->len != len + 4 || h->caplen != (len > EVR_SNAP ? EVR_SNAP : len) ||
		    (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec != 1000000 + i ||
		    memcmp(data, want, h->caplen))
			*intact = false;
		n++;
	}
	pcap_close(p);
	return n;
}

int main(void)
{
	CHECK(mkdtemp(dir) != NULL);
	struct evring r;
	CHECK_EQ(evring_init(&r), 0);
	CHECK(r.small != NULL);

	/* 50000 frames (up to 2059 bytes: the ring wraps around many times), flows 1..5 in
	 * turn; frames of flow 5 have no IP layer, those of flow 4 are IPv6 */
	const uint64_t total = 50000;
	for (uint64_t i = 0; i < total; i++)
		add(&r, i, flow_of(i) == 5 ? 0 : flow_of(i));
	CHECK_EQ(r.n, total);
	/* the long frames among the newest EVR_SLOTS hold a big slot each, and only they */
	uint32_t held = 0;
	for (uint64_t i = total - EVR_SLOTS; i < total; i++)
		held += sizeof(struct evr_hdr) + (len_of(i) > EVR_SNAP ? EVR_SNAP : len_of(i)) > EVR_SMALL;
	CHECK_EQ(EVR_SLOTS - r.nfree, held);

	struct evr_req q;
	bool ok;
	/* a flow: its newest 10 frames, oldest first */
	memset(&q, 0, sizeof q);
	q.alert_id = 1;
	q.flow_id = 2;
	q.max_packets = 10;
	CHECK_EQ(written(&r, &q, total - 5 * 10 + 1, 5, &ok), 10); /* frames 49951, 49956, ... 49996 */
	CHECK(ok);
	CHECK_EQ(r.written, 1);

	/* an IPv4 host: its frames as source, not another host's */
	const uint8_t v4[16] = { 10, 0, 0, 3 }, v6[16] = { 0xfd, [15] = 4 }, none[16] = { 0 };
	uint8_t mac[6] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x05 };
	q = host_req(4, v4, NULL, 4);
	CHECK_EQ(written(&r, &q, total - 5 * 4 + 2, 5, &ok), 4);
	CHECK(ok);
	/* an IPv6 host */
	q = host_req(6, v6, NULL, 3);
	CHECK_EQ(written(&r, &q, total - 5 * 3 + 3, 5, &ok), 3);
	CHECK(ok);
	/* a MAC (the frames without an IP layer are found by theirs) */
	q = host_req(0, none, mac, 2);
	CHECK_EQ(written(&r, &q, total - 5 * 2 + 4, 5, &ok), 2);
	CHECK(ok);
	/* every frame shares the destination MAC: the newest EVR_SLOTS frames are all there,
	 * intact, and not one older */
	mac[5] = 0xee;
	q = host_req(0, none, mac, 100000);
	CHECK_EQ(written(&r, &q, total - EVR_SLOTS, 1, &ok), EVR_SLOTS);
	CHECK(ok);

	/* the largest frames only: the newest EVR_SLOTS still fit */
	for (uint64_t i = total; i < total + 5 * EVR_SLOTS; i++)
		if (len_of(i) >= EVR_SNAP)
			add(&r, i, 9);
	uint64_t big = 0;
	for (uint64_t i = total; i < total + 5 * EVR_SLOTS; i++)
		big += len_of(i) >= EVR_SNAP;
	CHECK(big > EVR_SLOTS);
	memset(&q, 0, sizeof q);
	q.flow_id = 9;
	q.max_packets = 100000;
	snprintf(q.path, sizeof q.path, "%s/e.pcap", dir);
	unlink(q.path);
	CHECK(spsc_try_push(&r.req, &q));
	evring_poll(&r);
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(q.path, err);
	CHECK(p != NULL);
	int n = 0;
	bool snapped = true;
	struct pcap_pkthdr *h;
	const u_char *data;
	while (p && pcap_next_ex(p, &h, &data) == 1) {
		n++;
		snapped = snapped && h->caplen == EVR_SNAP && h->len > EVR_SNAP;
	}
	if (p)
		pcap_close(p);
	CHECK_EQ(n, EVR_SLOTS);
	CHECK(snapped);

	/* a request for nothing that matches still gives a (header-only) file */
	memset(&q, 0, sizeof q);
	q.flow_id = 77;
	q.max_packets = 5;
	CHECK_EQ(written(&r, &q, 0, 1, &ok), 0);
	CHECK_EQ(r.failed, 0);

	unlink(q.path);
	rmdir(dir);
	evring_free(&r);
	return check_done();
}
