/*
 * harness.c - see harness.h.
 *
 * Must never: hide a fact or a PDU from the test.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static void on_pdu(void *hook_ctx, const struct dctx *ctx)
{
	struct th *t = hook_ctx;
	if (t->npdus >= TH_MAX_PDUS)
		return;
	struct th_pdu *p = &t->pdus[t->npdus++];
	memset(p, 0, sizeof *p);
	snprintf(p->proto, sizeof p->proto, "%s", ctx->pdu.proto);
	snprintf(p->dir, sizeof p->dir, "%s", ctx->pdu.dir ? ctx->pdu.dir : "");
	p->frame = ctx->pkt->frameno;
	p->after_gap = ctx->after_gap;
	p->truncated = ctx->truncated;
	p->nfields = ctx->pdu.nfields;
	for (int i = 0; i < ctx->pdu.nfields; i++) {
		const struct pdu_field *f = &ctx->pdu.f[i];
		snprintf(p->f[i].key, sizeof p->f[i].key, "%s", f->key);
		p->f[i].type = f->type;
		if (f->type == PF_UINT) p->f[i].u = f->v.u;
		else if (f->type == PF_INT) p->f[i].i = f->v.i;
		else if (f->type == PF_BOOL) p->f[i].u = f->v.b;
		else if (f->type == PF_STR) snprintf(p->f[i].s, sizeof p->f[i].s, "%s", f->v.s);
	}
}

struct th *th_new(void)
{
	struct th *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	registry_init();
	config_defaults(&t->cfg);
	t->cfg.sensor.max_flows = 4096;
	t->cfg.sensor.stream_buffers = 256;
	if (worker_init(&t->w, 0, &t->cfg, 0, WORKER_INLINE)) {
		free(t);
		return NULL;
	}
	t->w.pdu_hook = on_pdu;
	t->w.hook_ctx = t;
	t->ts = 1767600000ull * 1000000u; /* 2026-01-05 */
	return t;
}

void th_free(struct th *t)
{
	if (!t)
		return;
	worker_free(&t->w);
	free(t);
}

void th_collect(struct th *t)
{
	struct fact buf[256];
	size_t n;
	while ((n = spsc_pop_many(&t->w.facts, buf, 256)) > 0)
		for (size_t i = 0; i < n && t->nfacts < TH_MAX_FACTS; i++)
			t->facts[t->nfacts++] = buf[i];
}

void th_advance(struct th *t, uint64_t us)
{
	t->ts += us;
}

void th_frame(struct th *t, int linktype, const void *frame, size_t len)
{
	t->ts += 1000;
	worker_packet(&t->w, linktype, frame, (uint32_t)len, (uint32_t)len, t->ts, ++t->frameno);
	th_collect(t);
}

static void mac_of(const uint8_t ip[4], uint8_t mac[6])
{
	mac[0] = 0x00; mac[1] = 0x80; mac[2] = 0xf4; /* Schneider Electric OUI */
	mac[3] = ip[1]; mac[4] = ip[2]; mac[5] = ip[3];
}

static size_t put_eth_ip(uint8_t *b, const char *src, const char *dst, uint8_t proto, size_t l4len)
{
	uint8_t s[4], d[4];
	inet_pton(AF_INET, src, s);
	inet_pton(AF_INET, dst, d);
	mac_of(d, b);
	mac_of(s, b + 6);
	b[12] = 0x08; b[13] = 0x00;
	uint8_t *ip = b + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	uint16_t tot = (uint16_t)(20 + l4len);
	ip[2] = (uint8_t)(tot >> 8); ip[3] = (uint8_t)tot;
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, s, 4);
	memcpy(ip + 16, d, 4);
	return 34;
}

void th_tcp(struct th *t, const char *src, uint16_t sport, const char *dst, uint16_t dport, uint32_t seq,
	    uint8_t flags, const void *payload, size_t len)
{
	static uint8_t b[70000];
	if (len > 65000)
		len = 65000;
	size_t o = put_eth_ip(b, src, dst, 6, 20 + len);
	uint8_t *tcp = b + o;
	memset(tcp, 0, 20);
	tcp[0] = (uint8_t)(sport >> 8); tcp[1] = (uint8_t)sport;
	tcp[2] = (uint8_t)(dport >> 8); tcp[3] = (uint8_t)dport;
	tcp[4] = (uint8_t)(seq >> 24); tcp[5] = (uint8_t)(seq >> 16); tcp[6] = (uint8_t)(seq >> 8); tcp[7] = (uint8_t)seq;
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	tcp[14] = 0xff; tcp[15] = 0xff;
	if (len)
		memcpy(tcp + 20, payload, len);
	th_frame(t, LT_ETHERNET, b, o + 20 + len);
}

void th_udp(struct th *t, const char *src, uint16_t sport, const char *dst, uint16_t dport, const void *payload,
	    size_t len)
{
	static uint8_t b[70000];
	if (len > 65000)
		len = 65000;
	size_t o = put_eth_ip(b, src, dst, 17, 8 + len);
	uint8_t *udp = b + o;
	uint16_t ul = (uint16_t)(8 + len);
	udp[0] = (uint8_t)(sport >> 8); udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8); udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)(ul >> 8); udp[5] = (uint8_t)ul;
	udp[6] = udp[7] = 0;
	if (len)
		memcpy(udp + 8, payload, len);
	th_frame(t, LT_ETHERNET, b, o + 8 + len);
}

void th_l2(struct th *t, const uint8_t dst_mac[6], uint16_t ethertype, const void *payload, size_t len)
{
	static uint8_t b[70000];
	if (len > 65000)
		len = 65000;
	memcpy(b, dst_mac, 6);
	static const uint8_t src[6] = { 0x00, 0x80, 0xf4, 0x01, 0x02, 0x03 };
	memcpy(b + 6, src, 6);
	b[12] = (uint8_t)(ethertype >> 8);
	b[13] = (uint8_t)ethertype;
	memcpy(b + 14, payload, len);
	th_frame(t, LT_ETHERNET, b, 14 + len);
}

void th_finish(struct th *t)
{
	worker_finish(&t->w);
	th_collect(t);
}

const struct th_pdu *th_pdu_n(const struct th *t, const char *proto, size_t n)
{
	for (size_t i = 0; i < t->npdus; i++)
		if (!strcmp(t->pdus[i].proto, proto) && n-- == 0)
			return &t->pdus[i];
	return NULL;
}

size_t th_count_pdus(const struct th *t, const char *proto)
{
	size_t n = 0;
	for (size_t i = 0; i < t->npdus; i++)
		if (!proto || !strcmp(t->pdus[i].proto, proto))
			n++;
	return n;
}

bool th_pdu_u(const struct th_pdu *p, const char *key, uint64_t *out)
{
	if (!p)
		return false;
	for (int i = 0; i < p->nfields; i++) {
		if (!strcmp(p->f[i].key, key) && (p->f[i].type == PF_UINT || p->f[i].type == PF_BOOL)) {
			*out = p->f[i].u;
			return true;
		}
	}
	return false;
}

const char *th_pdu_s(const struct th_pdu *p, const char *key)
{
	if (!p)
		return NULL;
	for (int i = 0; i < p->nfields; i++)
		if (!strcmp(p->f[i].key, key) && p->f[i].type == PF_STR)
			return p->f[i].s;
	return NULL;
}

const struct fact *th_fact(const struct th *t, enum fact_type type, const char *key)
{
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type != type)
			continue;
		if (!key || (type == FACT_IDENTITY && !strcmp(f->u.id.key, key)))
			return f;
	}
	return NULL;
}

const struct fact *th_event(const struct th *t, enum ots_event ev)
{
	for (size_t i = 0; i < t->nfacts; i++)
		if (t->facts[i].type == FACT_EVENT && t->facts[i].u.event.ev == ev)
			return &t->facts[i];
	return NULL;
}

size_t th_count_facts(const struct th *t, enum fact_type type)
{
	size_t n = 0;
	for (size_t i = 0; i < t->nfacts; i++)
		if (t->facts[i].type == type)
			n++;
	return n;
}
