/*
 * test_itproto.c - the IT protocols the inventory learns names from (DHCP, DNS/mDNS,
 * NBNS/browser, SMB, LLDP, CDP, SNMP, HTTP, TLS, SSH, NTP), through a real worker:
 * records, identity facts about the right device, framing, heuristics on
 * non-standard ports, and malformed input.
 *
 * Must never: pass without having looked at a record or a fact.
 */
#include <arpa/inet.h>
#include <string.h>

#include "check.h"
#include "harness.h"

#define A "10.0.0.10"
#define B "10.0.0.20"

/* ---------------------------------------------------------------- helpers */

struct buf {
	uint8_t b[4096];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (n && b->n + n <= sizeof b->b) {
		memcpy(b->b + b->n, p, n);
		b->n += n;
	}
}
static void u8(struct buf *b, uint8_t v) { put(b, &v, 1); }
static void be16(struct buf *b, uint16_t v) { u8(b, (uint8_t)(v >> 8)); u8(b, (uint8_t)v); }
static void le16(struct buf *b, uint16_t v) { u8(b, (uint8_t)v); u8(b, (uint8_t)(v >> 8)); }
static void be24(struct buf *b, uint32_t v) { u8(b, (uint8_t)(v >> 16)); be16(b, (uint16_t)v); }
static void be32(struct buf *b, uint32_t v) { be16(b, (uint16_t)(v >> 16)); be16(b, (uint16_t)v); }
static void le32(struct buf *b, uint32_t v) { le16(b, (uint16_t)v); le16(b, (uint16_t)(v >> 16)); }
static void str(struct buf *b, const char *s) { put(b, s, strlen(s)); }
static void set_be16(struct buf *b, size_t at, uint16_t v) { b->b[at] = (uint8_t)(v >> 8); b->b[at + 1] = (uint8_t)v; }
static void set_be24(struct buf *b, size_t at, uint32_t v) { b->b[at] = (uint8_t)(v >> 16); set_be16(b, at + 1, (uint16_t)v); }

/* a DER TLV with a short or 0x82 long length */
static void der(struct buf *b, uint8_t tag, const struct buf *v)
{
	u8(b, tag);
	if (v->n < 128) {
		u8(b, (uint8_t)v->n);
	} else {
		u8(b, 0x82);
		be16(b, (uint16_t)v->n);
	}
	put(b, v->b, v->n);
}
static void der_raw(struct buf *b, uint8_t tag, const void *p, size_t n)
{
	struct buf v = { .n = 0 };
	put(&v, p, n);
	der(b, tag, &v);
}

static const struct fact *id_fact(const struct th *t, const char *proto, const char *key, const char *value)
{
	for (size_t i = 0; i < t->nfacts; i++) {
		const struct fact *f = &t->facts[i];
		if (f->type == FACT_IDENTITY && !strcmp(f->u.id.key, key) && (!proto || !strcmp(f->proto, proto)) &&
		    (!value || !strcmp(f->u.id.value, value)))
			return f;
	}
	return NULL;
}

static bool ip4_is(const struct fact_endpoint *e, const char *ip)
{
	struct in_addr a;
	inet_pton(AF_INET, ip, &a);
	return e->family == 4 && !memcmp(e->ip, &a, 4);
}

#define NEW_TH(t) struct th *t = th_new(); if (!t) { CHECK(t != NULL); return; }

/* ---------------------------------------------------------------- DHCP */

static void dhcp_msg(struct buf *b, uint8_t op, const uint8_t mac[6], const char *yiaddr)
{
	b->n = 0;
	u8(b, op); u8(b, 1); u8(b, 6); u8(b, 0);
	be32(b, 0x1234abcd);
	be32(b, 0);
	be32(b, 0); /* ciaddr */
	struct in_addr y = { 0 };
	if (yiaddr)
		inet_pton(AF_INET, yiaddr, &y);
	put(b, &y, 4);
	be32(b, 0); be32(b, 0);
	uint8_t ch[16] = { 0 };
	memcpy(ch, mac, 6);
	put(b, ch, 16);
	uint8_t z[192] = { 0 };
	put(b, z, sizeof z);
	be32(b, 0x63825363);
}

static void test_dhcp(void)
{
	NEW_TH(t);
	static const uint8_t mac[6] = { 0x00, 0x1d, 0x9c, 0x11, 0x22, 0x33 };
	struct buf b;
	dhcp_msg(&b, 1, mac, NULL);
	u8(&b, 53); u8(&b, 1); u8(&b, 1);
	u8(&b, 12); u8(&b, 4); str(&b, "plc7");
	u8(&b, 60); u8(&b, 8); str(&b, "MSFT 5.0");
	u8(&b, 61); u8(&b, 7); u8(&b, 1); put(&b, mac, 6);
	u8(&b, 255);
	th_udp(t, "0.0.0.0", 68, "255.255.255.255", 67, b.b, b.n);
	dhcp_msg(&b, 2, mac, "10.0.0.77");
	u8(&b, 53); u8(&b, 1); u8(&b, 5);
	u8(&b, 51); u8(&b, 4); be32(&b, 3600);
	u8(&b, 54); u8(&b, 4); be32(&b, 0x0a000001);
	u8(&b, 255);
	th_udp(t, "10.0.0.1", 67, "255.255.255.255", 68, b.b, b.n);
	/* an option running past the datagram */
	dhcp_msg(&b, 1, mac, NULL);
	u8(&b, 53); u8(&b, 1); u8(&b, 3);
	u8(&b, 12); u8(&b, 40); str(&b, "short");
	th_udp(t, "0.0.0.0", 68, "255.255.255.255", 67, b.b, b.n);
	/* a datagram shorter than BOOTP's header */
	th_udp(t, "0.0.0.0", 68, "255.255.255.255", 67, b.b, 100);
	th_finish(t);

	CHECK_EQ(th_count_pdus(t, "dhcp"), 3);
	const struct th_pdu *p = th_pdu_n(t, "dhcp", 0);
	uint64_t v = 0;
	CHECK(p && !strcmp(p->dir, "request"));
	CHECK(th_pdu_u(p, "msg_type", &v) && v == 1);
	CHECK(th_pdu_u(p, "xid", &v) && v == 0x1234abcd);
	CHECK(p && th_pdu_s(p, "hostname") && !strcmp(th_pdu_s(p, "hostname"), "plc7"));
	CHECK(p && th_pdu_s(p, "client_mac") && !strcmp(th_pdu_s(p, "client_mac"), "00:1d:9c:11:22:33"));
	const struct fact *f = id_fact(t, "dhcp", "hostname", "plc7");
	CHECK(f && f->u.id.subject == SUBJ_SRC && !memcmp(f->src.mac, mac, 6) && f->src.family == 0);
	CHECK(id_fact(t, "dhcp", "vendor_class", "MSFT 5.0") != NULL);
	CHECK(id_fact(t, "dhcp", "client_id", "01:00:1d:9c:11:22:33") != NULL);
	const struct th_pdu *a = th_pdu_n(t, "dhcp", 1);
	CHECK(a && !strcmp(a->dir, "response"));
	CHECK(th_pdu_u(a, "lease_time", &v) && v == 3600);
	f = id_fact(t, "dhcp", "ip", "10.0.0.77");
	CHECK(f && f->u.id.subject == SUBJ_DST && !memcmp(f->dst.mac, mac, 6) && ip4_is(&f->dst, "10.0.0.77"));
	f = id_fact(t, "dhcp", "role", "dhcp_server");
	CHECK(f && f->u.id.subject == SUBJ_SRC && ip4_is(&f->src, "10.0.0.1"));
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 2);
	th_free(t);
}

/* ---------------------------------------------------------------- DNS */

static void dns_hdr(struct buf *b, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an)
{
	b->n = 0;
	be16(b, id); be16(b, flags); be16(b, qd); be16(b, an); be16(b, 0); be16(b, 0);
}
static void dns_name(struct buf *b, const char *const *labels)
{
	for (int i = 0; labels[i]; i++) {
		u8(b, (uint8_t)strlen(labels[i]));
		str(b, labels[i]);
	}
	u8(b, 0);
}

static void test_dns(void)
{
	NEW_TH(t);
	static const char *const q[] = { "hmi1", "plant", "local", NULL };
	struct buf b;
	/* a response: question, then an A answer naming it by pointer */
	dns_hdr(&b, 0x4242, 0x8180, 1, 1);
	dns_name(&b, q);
	be16(&b, 1); be16(&b, 1);
	be16(&b, 0xc00c); be16(&b, 1); be16(&b, 1); be32(&b, 60); be16(&b, 4);
	u8(&b, 10); u8(&b, 0); u8(&b, 0); u8(&b, 33);
	th_udp(t, "10.0.0.2", 53, A, 40000, b.b, b.n);
	/* a compression pointer loop */
	dns_hdr(&b, 7, 0x8180, 1, 0);
	be16(&b, 0xc00c);
	be16(&b, 1); be16(&b, 1);
	th_udp(t, "10.0.0.2", 53, A, 40001, b.b, b.n);
	/* mDNS: a host announcing its own name */
	static const char *const m[] = { "cam-3", "local", NULL };
	dns_hdr(&b, 0, 0x8400, 0, 1);
	dns_name(&b, m);
	be16(&b, 1); be16(&b, 0x8001); be32(&b, 120); be16(&b, 4);
	u8(&b, 10); u8(&b, 0); u8(&b, 0); u8(&b, 20);
	th_udp(t, B, 5353, "224.0.0.251", 5353, b.b, b.n);
	/* a truncated header */
	th_udp(t, A, 40002, "10.0.0.2", 53, b.b, 5);
	/* DNS over TCP, the query split across segments */
	dns_hdr(&b, 0x99, 0x0100, 1, 0);
	dns_name(&b, q);
	be16(&b, 28); be16(&b, 1);
	struct buf tcp = { .n = 0 };
	be16(&tcp, (uint16_t)b.n);
	put(&tcp, b.b, b.n);
	th_tcp(t, A, 40003, "10.0.0.2", 53, 100, TCP_SYN, NULL, 0);
	th_tcp(t, "10.0.0.2", 53, A, 40003, 500, TCP_SYN | TCP_ACK, NULL, 0);
	th_tcp(t, A, 40003, "10.0.0.2", 53, 101, TCP_ACK | TCP_PSH, tcp.b, 9);
	th_tcp(t, A, 40003, "10.0.0.2", 53, 110, TCP_ACK | TCP_PSH, tcp.b + 9, tcp.n - 9);
	th_finish(t);

	const struct th_pdu *p = th_pdu_n(t, "dns", 0);
	uint64_t v = 0;
	CHECK(p && !strcmp(p->dir, "response"));
	CHECK(th_pdu_u(p, "id", &v) && v == 0x4242);
	CHECK(th_pdu_u(p, "qtype", &v) && v == 1);
	CHECK(p && th_pdu_s(p, "qname") && !strcmp(th_pdu_s(p, "qname"), "hmi1.plant.local"));
	CHECK(p && th_pdu_s(p, "answer") && !strcmp(th_pdu_s(p, "answer"), "10.0.0.33"));
	const struct fact *f = id_fact(t, "dns", "hostname", "hmi1.plant.local");
	CHECK(f && f->u.id.subject == SUBJ_DST && ip4_is(&f->dst, "10.0.0.33"));
	static const uint8_t zero[6] = { 0 };
	CHECK(f && !memcmp(f->dst.mac, zero, 6));
	bool loop = false;
	for (size_t i = 0; i < t->nfacts; i++)
		if (t->facts[i].type == FACT_VIOLATION && strstr(t->facts[i].u.viol.reason, "loop"))
			loop = true;
	CHECK(loop);
	const struct th_pdu *md = th_pdu_n(t, "mdns", 0);
	CHECK(md && !strcmp(md->dir, "response"));
	f = id_fact(t, "mdns", "hostname", "cam-3");
	CHECK(f && f->u.id.subject == SUBJ_SRC && ip4_is(&f->src, B));
	const struct th_pdu *tq = th_pdu_n(t, "dns", 3);
	CHECK(tq && th_pdu_u(tq, "id", &v) && v == 0x99);
	CHECK(th_pdu_u(tq, "qtype", &v) && v == 28);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 2);
	th_free(t);
}

/* ---------------------------------------------------------------- NBNS / browser */

static void nb_encode(struct buf *b, const char *name, uint8_t suffix)
{
	char n[16];
	memset(n, ' ', 15);
	memcpy(n, name, strlen(name));
	n[15] = (char)suffix;
	u8(b, 32);
	for (int i = 0; i < 16; i++) {
		u8(b, (uint8_t)('A' + ((uint8_t)n[i] >> 4)));
		u8(b, (uint8_t)('A' + ((uint8_t)n[i] & 15)));
	}
	u8(b, 0);
}

static void test_nbns(void)
{
	NEW_TH(t);
	struct buf b = { .n = 0 };
	/* registration of ENGWS01<00> with the sender's own address */
	be16(&b, 0x1001); be16(&b, 0x2910); be16(&b, 1); be16(&b, 0); be16(&b, 0); be16(&b, 1);
	nb_encode(&b, "ENGWS01", 0);
	be16(&b, 0x20); be16(&b, 1);
	be16(&b, 0xc00c); be16(&b, 0x20); be16(&b, 1); be32(&b, 300000); be16(&b, 6);
	be16(&b, 0); u8(&b, 10); u8(&b, 0); u8(&b, 0); u8(&b, 10);
	th_udp(t, A, 137, "10.0.0.255", 137, b.b, b.n);
	/* a bad first-level encoding */
	b.b[13] = 'z';
	th_udp(t, A, 137, "10.0.0.255", 137, b.b, b.n);

	/* a browser host announcement in a mailslot SMB transaction */
	struct buf d = { .n = 0 };
	u8(&d, 0x11); u8(&d, 0x0a); be16(&d, 1); u8(&d, 10); u8(&d, 0); u8(&d, 0); u8(&d, 20); be16(&d, 138);
	size_t lenat = d.n;
	be16(&d, 0); be16(&d, 0);
	size_t nstart = d.n;
	nb_encode(&d, "HIST01", 0);
	nb_encode(&d, "WORKGROUP", 0x1d);
	size_t smb = d.n;
	static const uint8_t hdr[] = { 0xff, 'S', 'M', 'B', 0x25 };
	put(&d, hdr, sizeof hdr);
	uint8_t z[27] = { 0 };
	put(&d, z, sizeof z);
	struct buf ann = { .n = 0 };
	u8(&ann, 0x01); u8(&ann, 3); le32(&ann, 720000);
	char host[16] = "HIST01";
	put(&ann, host, 16);
	u8(&ann, 6); u8(&ann, 1); le32(&ann, 0x00011003); u8(&ann, 15); u8(&ann, 1); le16(&ann, 0xaa55);
	str(&ann, "Historian"); u8(&ann, 0);
	const char *slot = "\\MAILSLOT\\BROWSE";
	u8(&d, 17);
	le16(&d, 0); le16(&d, (uint16_t)ann.n); le16(&d, 0); le16(&d, 0); u8(&d, 0); u8(&d, 0); le16(&d, 0);
	le32(&d, 0); le16(&d, 0); le16(&d, 0); le16(&d, 0);
	le16(&d, (uint16_t)ann.n);
	size_t doffat = d.n;
	le16(&d, 0);
	u8(&d, 3); u8(&d, 0); le16(&d, 1); le16(&d, 1); le16(&d, 2);
	le16(&d, (uint16_t)(strlen(slot) + 1 + ann.n));
	str(&d, slot); u8(&d, 0);
	uint16_t doff = (uint16_t)(d.n - smb);
	d.b[doffat] = (uint8_t)doff;
	d.b[doffat + 1] = (uint8_t)(doff >> 8);
	put(&d, ann.b, ann.n);
	set_be16(&d, lenat, (uint16_t)(d.n - nstart));
	th_udp(t, B, 138, "10.0.0.255", 138, d.b, d.n);
	th_finish(t);

	const struct th_pdu *p = th_pdu_n(t, "nbns", 0);
	uint64_t v = 0;
	CHECK(p && th_pdu_u(p, "opcode", &v) && v == 5);
	CHECK(p && th_pdu_s(p, "name") && !strcmp(th_pdu_s(p, "name"), "ENGWS01"));
	const struct fact *f = id_fact(t, "nbns", "hostname", "ENGWS01");
	CHECK(f && f->u.id.subject == SUBJ_SRC && ip4_is(&f->src, A));
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 1);
	const struct th_pdu *g = th_pdu_n(t, "nbdgm", 0);
	CHECK(g && th_pdu_u(g, "browser_cmd", &v) && v == 1);
	CHECK(g && th_pdu_s(g, "server_name") && !strcmp(th_pdu_s(g, "server_name"), "HIST01"));
	f = id_fact(t, "nbdgm", "hostname", "HIST01");
	CHECK(f && f->u.id.subject == SUBJ_SRC && ip4_is(&f->src, B));
	CHECK(id_fact(t, "nbdgm", "os_version", "6.1") != NULL);
	CHECK(id_fact(t, "nbdgm", "description", "Historian") != NULL);
	th_free(t);
}

/* ---------------------------------------------------------------- SMB */

static void utf16(struct buf *b, const char *s)
{
	for (; *s; s++)
		le16(b, (uint8_t)*s);
}

static void test_smb(void)
{
	NEW_TH(t);
	/* NTLMSSP CHALLENGE with target info and version */
	struct buf n = { .n = 0 };
	put(&n, "NTLMSSP", 8);
	le32(&n, 2);
	struct buf tn = { .n = 0 }, ti = { .n = 0 };
	utf16(&tn, "PLANT");
	le16(&ti, 1); le16(&ti, 10); utf16(&ti, "SCADA");
	le16(&ti, 2); le16(&ti, 10); utf16(&ti, "PLANT");
	le16(&ti, 0); le16(&ti, 0);
	uint32_t base = 56;
	le16(&n, (uint16_t)tn.n); le16(&n, (uint16_t)tn.n); le32(&n, base);
	le32(&n, 0x02000001); /* unicode, version */
	uint8_t chal[16] = { 0 };
	put(&n, chal, 16);
	le16(&n, (uint16_t)ti.n); le16(&n, (uint16_t)ti.n); le32(&n, base + (uint32_t)tn.n);
	u8(&n, 10); u8(&n, 0); le16(&n, 17763); u8(&n, 0); u8(&n, 0); u8(&n, 0); u8(&n, 15);
	put(&n, tn.b, tn.n);
	put(&n, ti.b, ti.n);
	/* SMB2 session setup response around it */
	struct buf m = { .n = 0 };
	be32(&m, 0);
	put(&m, "\xfeSMB", 4);
	le16(&m, 64); le16(&m, 0); le32(&m, 0xc0000016); le16(&m, 1); le16(&m, 1); le32(&m, 1);
	uint8_t rest[44] = { 0 };
	put(&m, rest, sizeof rest);
	le16(&m, 9); le16(&m, 0); le16(&m, 72); le16(&m, (uint16_t)n.n);
	put(&m, n.b, n.n);
	set_be24(&m, 1, (uint32_t)(m.n - 4));
	th_tcp(t, B, 50000, A, 445, 1, TCP_SYN, NULL, 0);
	th_tcp(t, A, 445, B, 50000, 1000, TCP_SYN | TCP_ACK, NULL, 0);
	th_tcp(t, A, 445, B, 50000, 1001, TCP_ACK | TCP_PSH, m.b, 30);
	th_tcp(t, A, 445, B, 50000, 1031, TCP_ACK | TCP_PSH, m.b + 30, m.n - 30);
	th_finish(t);
	const struct th_pdu *p = th_pdu_n(t, "smb", 0);
	uint64_t v = 0;
	CHECK(p && !strcmp(p->dir, "response"));
	CHECK(th_pdu_u(p, "version", &v) && v == 2);
	CHECK(th_pdu_u(p, "command", &v) && v == 1);
	CHECK(th_pdu_u(p, "ntlmssp_type", &v) && v == 2);
	const struct fact *f = id_fact(t, "smb", "hostname", "SCADA");
	CHECK(f && f->u.id.subject == SUBJ_SRC && ip4_is(&f->src, A));
	CHECK(id_fact(t, "smb", "domain", "PLANT") != NULL);
	CHECK(id_fact(t, "smb", "os_version", "10.0 build 17763") != NULL);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);

	/* framing error: not a NetBIOS session message type */
	NEW_TH(t2);
	static const uint8_t junk[] = { 0x42, 0, 0, 4, 1, 2, 3, 4 };
	th_tcp(t2, B, 50001, A, 445, 1, TCP_ACK | TCP_PSH, junk, sizeof junk);
	th_finish(t2);
	CHECK_EQ(th_count_pdus(t2, "smb"), 0);
	th_free(t2);
}

/* ---------------------------------------------------------------- LLDP / CDP */

static void tlv(struct buf *b, unsigned type, const void *v, size_t n)
{
	be16(b, (uint16_t)(type << 9 | n));
	put(b, v, n);
}

static void test_lldp(void)
{
	NEW_TH(t);
	static const uint8_t dst[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };
	struct buf b = { .n = 0 };
	static const uint8_t chassis[] = { 4, 0x00, 0x0e, 0x8c, 0x01, 0x02, 0x03 };
	static const uint8_t port[] = { 5, 'X', '1', ' ', 'P', '1' };
	static const uint8_t ttl[] = { 0, 120 };
	static const uint8_t caps[] = { 0, 0x14, 0, 0x04 };
	static const uint8_t mgmt[] = { 5, 1, 10, 0, 0, 5, 2, 0, 0, 0, 1, 0 };
	tlv(&b, 1, chassis, sizeof chassis);
	tlv(&b, 2, port, sizeof port);
	tlv(&b, 3, ttl, sizeof ttl);
	tlv(&b, 5, "sw-cell-4", 9);
	tlv(&b, 6, "SCALANCE XC208", 14);
	tlv(&b, 7, caps, sizeof caps);
	tlv(&b, 8, mgmt, sizeof mgmt);
	static const uint8_t med[] = { 0x00, 0x12, 0xbb, 8, 'S', 'N', '4', '2' };
	tlv(&b, 127, med, sizeof med);
	tlv(&b, 0, NULL, 0);
	th_l2(t, dst, 0x88cc, b.b, b.n);
	/* mandatory TLVs out of order */
	struct buf c = { .n = 0 };
	tlv(&c, 2, port, sizeof port);
	tlv(&c, 0, NULL, 0);
	th_l2(t, dst, 0x88cc, c.b, c.n);
	/* a TLV past the frame */
	struct buf d = { .n = 0 };
	tlv(&d, 1, chassis, sizeof chassis);
	be16(&d, 2 << 9 | 200);
	th_l2(t, dst, 0x88cc, d.b, d.n);
	th_finish(t);
	const struct th_pdu *p = th_pdu_n(t, "lldp", 0);
	uint64_t v = 0;
	CHECK(p && th_pdu_s(p, "system_name") && !strcmp(th_pdu_s(p, "system_name"), "sw-cell-4"));
	CHECK(p && th_pdu_s(p, "chassis_id") && !strcmp(th_pdu_s(p, "chassis_id"), "00:0e:8c:01:02:03"));
	CHECK(th_pdu_u(p, "ttl", &v) && v == 120);
	CHECK(p && th_pdu_s(p, "mgmt_ip") && !strcmp(th_pdu_s(p, "mgmt_ip"), "10.0.0.5"));
	const struct fact *f = id_fact(t, "lldp", "hostname", "sw-cell-4");
	CHECK(f && f->u.id.subject == SUBJ_SRC && f->src.mac[0] == 0x00 && f->src.mac[1] == 0x80);
	CHECK(id_fact(t, "lldp", "description", "SCALANCE XC208") != NULL);
	CHECK(id_fact(t, "lldp", "port", "X1 P1") != NULL);
	CHECK(id_fact(t, "lldp", "mgmt_ip", "10.0.0.5") != NULL);
	CHECK(id_fact(t, "lldp", "role", "switch") != NULL);
	CHECK(id_fact(t, "lldp", "serial", "SN42") != NULL);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 2);
	th_free(t);
}

static void test_cdp(void)
{
	NEW_TH(t);
	struct buf f = { .n = 0 };
	static const uint8_t dst[6] = { 0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc };
	static const uint8_t src[6] = { 0x00, 0x1e, 0xf6, 0x73, 0x59, 0x81 };
	put(&f, dst, 6);
	put(&f, src, 6);
	size_t lenat = f.n;
	be16(&f, 0);
	static const uint8_t snap[] = { 0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c, 0x20, 0x00 };
	put(&f, snap, sizeof snap);
	u8(&f, 2); u8(&f, 180); be16(&f, 0);
	be16(&f, 1); be16(&f, 4 + 9); str(&f, "core-sw-1");
	be16(&f, 6); be16(&f, 4 + 19); str(&f, "cisco WS-C2960-24TT");
	be16(&f, 3); be16(&f, 4 + 18); str(&f, "FastEthernet0/1   ");
	be16(&f, 4); be16(&f, 8); be32(&f, 0x28); /* switch, IGMP */
	be16(&f, 5); be16(&f, 4 + 24); str(&f, "Cisco IOS 12.2\nCopyright");
	be16(&f, 2); be16(&f, 4 + 4 + 9); be32(&f, 1); u8(&f, 1); u8(&f, 1); u8(&f, 0xcc); be16(&f, 4);
	u8(&f, 10); u8(&f, 0); u8(&f, 0); u8(&f, 2);
	set_be16(&f, lenat, (uint16_t)(f.n - 14));
	th_frame(t, 1, f.b, f.n);
	/* a TLV shorter than its own header */
	struct buf g = f;
	g.n = 14 + sizeof snap + 4;
	be16(&g, 1); be16(&g, 2);
	set_be16(&g, lenat, (uint16_t)(g.n - 14));
	th_frame(t, 1, g.b, g.n);
	th_finish(t);
	const struct th_pdu *p = th_pdu_n(t, "cdp", 0);
	CHECK(p && th_pdu_s(p, "device_id") && !strcmp(th_pdu_s(p, "device_id"), "core-sw-1"));
	CHECK(p && th_pdu_s(p, "mgmt_ip") && !strcmp(th_pdu_s(p, "mgmt_ip"), "10.0.0.2"));
	const struct fact *h = id_fact(t, "cdp", "hostname", "core-sw-1");
	CHECK(h && h->u.id.subject == SUBJ_SRC && !memcmp(h->src.mac, src, 6));
	CHECK(id_fact(t, "cdp", "platform", "cisco WS-C2960-24TT") != NULL);
	CHECK(id_fact(t, "cdp", "model", "WS-C2960-24TT") != NULL);
	CHECK(id_fact(t, "cdp", "port", "FastEthernet0/1") != NULL);
	CHECK(id_fact(t, "cdp", "description", "Cisco IOS 12.2") != NULL);
	CHECK(id_fact(t, "cdp", "role", "switch") != NULL);
	CHECK(id_fact(t, "cdp", "mgmt_ip", "10.0.0.2") != NULL);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 1);
	th_free(t);
}

/* ---------------------------------------------------------------- SNMP */

static void varbind(struct buf *vbl, const uint8_t *oid, size_t on, uint8_t vt, const char *val)
{
	struct buf vb = { .n = 0 };
	der_raw(&vb, 0x06, oid, on);
	der_raw(&vb, vt, val, strlen(val));
	der(vbl, 0x30, &vb);
}

static void snmp_msg(struct buf *out, uint8_t pdutag, const struct buf *vbl, const char *community)
{
	struct buf pdu = { .n = 0 }, msg = { .n = 0 };
	static const uint8_t reqid[] = { 0x12, 0x34 }, zero[] = { 0 };
	der_raw(&pdu, 0x02, reqid, 2);
	der_raw(&pdu, 0x02, zero, 1);
	der_raw(&pdu, 0x02, zero, 1);
	der(&pdu, 0x30, vbl);
	static const uint8_t ver[] = { 1 };
	der_raw(&msg, 0x02, ver, 1);
	der_raw(&msg, 0x04, community, strlen(community));
	der(&msg, pdutag, &pdu);
	out->n = 0;
	der(out, 0x30, &msg);
}

static void test_snmp(void)
{
	NEW_TH(t);
	static const uint8_t sysdescr[] = { 0x2b, 6, 1, 2, 1, 1, 1, 0 }, sysname[] = { 0x2b, 6, 1, 2, 1, 1, 5, 0 };
	struct buf vbl = { .n = 0 }, m;
	varbind(&vbl, sysdescr, sizeof sysdescr, 0x05, "");
	varbind(&vbl, sysname, sizeof sysname, 0x05, "");
	snmp_msg(&m, 0xa0, &vbl, "public");
	th_udp(t, B, 40000, A, 161, m.b, m.n);
	vbl.n = 0;
	varbind(&vbl, sysdescr, sizeof sysdescr, 0x04, "SIMATIC NET CP 343-1");
	varbind(&vbl, sysname, sizeof sysname, 0x04, "plc-line2");
	snmp_msg(&m, 0xa2, &vbl, "public");
	th_udp(t, A, 161, B, 40000, m.b, m.n);
	/* a length beyond the datagram */
	m.b[1] = 0x7f;
	th_udp(t, A, 161, B, 40000, m.b, m.n);
	th_finish(t);
	const struct th_pdu *q = th_pdu_n(t, "snmp", 0);
	uint64_t v = 0;
	CHECK(q && !strcmp(q->dir, "request"));
	CHECK(th_pdu_u(q, "version", &v) && v == 1);
	CHECK(th_pdu_u(q, "pdu_type", &v) && v == 0);
	CHECK(q && th_pdu_s(q, "community") && !strcmp(th_pdu_s(q, "community"), "p*****"));
	const struct th_pdu *r = th_pdu_n(t, "snmp", 1);
	CHECK(r && !strcmp(r->dir, "response"));
	CHECK(th_pdu_u(r, "pdu_type", &v) && v == 2);
	CHECK(th_pdu_u(r, "varbinds", &v) && v == 2);
	const struct fact *f = id_fact(t, "snmp", "hostname", "plc-line2");
	CHECK(f && f->u.id.subject == SUBJ_SRC && ip4_is(&f->src, A));
	CHECK(id_fact(t, "snmp", "description", "SIMATIC NET CP 343-1") != NULL);
	CHECK(id_fact(t, "snmp", "hostname", "") == NULL);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 1);
	th_free(t);
}

/* ---------------------------------------------------------------- HTTP */

static void test_http(void)
{
	NEW_TH(t);
	const char *req = "GET /status.html HTTP/1.1\r\nHost: plc1\r\nUser-Agent: curl/8.1\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nServer: GoAhead-Webs\r\nContent-Length: 5\r\n\r\nhello"
			   "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
	th_tcp(t, B, 40100, A, 8888, 1, TCP_SYN, NULL, 0); /* not an HTTP port: the probe decides */
	th_tcp(t, A, 8888, B, 40100, 100, TCP_SYN | TCP_ACK, NULL, 0);
	th_tcp(t, B, 40100, A, 8888, 2, TCP_ACK | TCP_PSH, req, 20);
	th_tcp(t, B, 40100, A, 8888, 22, TCP_ACK | TCP_PSH, req + 20, strlen(req) - 20);
	th_tcp(t, A, 8888, B, 40100, 101, TCP_ACK | TCP_PSH, resp, strlen(resp));
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "http"), 3);
	const struct th_pdu *p = th_pdu_n(t, "http", 0);
	CHECK(p && th_pdu_s(p, "method") && !strcmp(th_pdu_s(p, "method"), "GET"));
	CHECK(p && th_pdu_s(p, "uri") && !strcmp(th_pdu_s(p, "uri"), "/status.html"));
	const struct th_pdu *r = th_pdu_n(t, "http", 1);
	uint64_t v = 0;
	CHECK(th_pdu_u(r, "status", &v) && v == 200);
	CHECK(th_pdu_u(th_pdu_n(t, "http", 2), "status", &v) && v == 404);
	const struct fact *f = id_fact(t, "http", "user_agent", "curl/8.1");
	CHECK(f && f->u.id.subject == SUBJ_SRC && ip4_is(&f->src, B));
	f = id_fact(t, "http", "server_software", "GoAhead-Webs");
	CHECK(f && f->u.id.subject == SUBJ_SRC && ip4_is(&f->src, A));
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);

	NEW_TH(t2);
	const char *bad = "GET /x\r\n\r\n";
	th_tcp(t2, B, 40101, A, 80, 1, TCP_ACK | TCP_PSH, bad, strlen(bad));
	th_finish(t2);
	CHECK_EQ(th_count_facts(t2, FACT_VIOLATION), 1);
	th_free(t2);
}

/* ---------------------------------------------------------------- TLS */

static void name_rdn(struct buf *name, const char *cn, const char *o)
{
	static const uint8_t oid_cn[] = { 0x55, 4, 3 }, oid_o[] = { 0x55, 4, 10 };
	struct buf seq = { .n = 0 };
	for (int i = 0; i < 2; i++) {
		struct buf atv = { .n = 0 }, set = { .n = 0 };
		der_raw(&atv, 0x06, i ? oid_cn : oid_o, 3);
		der_raw(&atv, 0x0c, i ? cn : o, strlen(i ? cn : o));
		der(&set, 0x30, &atv);
		der(&seq, 0x31, &set);
	}
	der(name, 0x30, &seq);
}

static void test_tls(void)
{
	NEW_TH(t);
	/* ClientHello with SNI */
	struct buf ch = { .n = 0 };
	u8(&ch, 1); be24(&ch, 0);
	be16(&ch, 0x0303);
	uint8_t rnd[32] = { 0 };
	put(&ch, rnd, 32);
	u8(&ch, 0);
	be16(&ch, 2); be16(&ch, 0xc02f);
	u8(&ch, 1); u8(&ch, 0);
	const char *host = "historian.plant.example";
	be16(&ch, (uint16_t)(4 + 5 + strlen(host)));
	be16(&ch, 0); be16(&ch, (uint16_t)(5 + strlen(host)));
	be16(&ch, (uint16_t)(3 + strlen(host))); u8(&ch, 0); be16(&ch, (uint16_t)strlen(host)); str(&ch, host);
	set_be24(&ch, 1, (uint32_t)(ch.n - 4));
	struct buf rec = { .n = 0 };
	u8(&rec, 22); be16(&rec, 0x0301); be16(&rec, (uint16_t)ch.n);
	put(&rec, ch.b, ch.n);
	th_tcp(t, B, 40200, A, 9443, 1, TCP_SYN, NULL, 0); /* found by the probe */
	th_tcp(t, A, 9443, B, 40200, 100, TCP_SYN | TCP_ACK, NULL, 0);
	th_tcp(t, B, 40200, A, 9443, 2, TCP_ACK | TCP_PSH, rec.b, rec.n);

	/* ServerHello + Certificate in one record */
	struct buf hs = { .n = 0 };
	u8(&hs, 2); be24(&hs, 38);
	be16(&hs, 0x0303); put(&hs, rnd, 32); u8(&hs, 0); be16(&hs, 0xc02f); u8(&hs, 0);
	struct buf tbs = { .n = 0 }, v0 = { .n = 0 }, alg = { .n = 0 }, val = { .n = 0 }, cert = { .n = 0 };
	static const uint8_t two[] = { 2 }, serial[] = { 0x01, 0x23 }, sha[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 1, 11 };
	der_raw(&v0, 0x02, two, 1);
	der(&tbs, 0xa0, &v0);
	der_raw(&tbs, 0x02, serial, 2);
	der_raw(&alg, 0x06, sha, sizeof sha);
	der(&tbs, 0x30, &alg);
	name_rdn(&tbs, "Plant CA", "Plant");
	der_raw(&val, 0x17, "250101000000Z", 13);
	der_raw(&val, 0x17, "350101000000Z", 13);
	der(&tbs, 0x30, &val);
	name_rdn(&tbs, "historian", "Plant");
	struct buf c = { .n = 0 };
	der(&c, 0x30, &tbs);
	der(&c, 0x30, &alg);
	der_raw(&c, 0x03, two, 1);
	der(&cert, 0x30, &c);
	u8(&hs, 11); be24(&hs, (uint32_t)(3 + 3 + cert.n)); be24(&hs, (uint32_t)(3 + cert.n)); be24(&hs, (uint32_t)cert.n);
	put(&hs, cert.b, cert.n);
	u8(&hs, 14); be24(&hs, 0);
	struct buf rec2 = { .n = 0 };
	u8(&rec2, 22); be16(&rec2, 0x0303); be16(&rec2, (uint16_t)hs.n);
	put(&rec2, hs.b, hs.n);
	th_tcp(t, A, 9443, B, 40200, 101, TCP_ACK | TCP_PSH, rec2.b, 40);
	th_tcp(t, A, 9443, B, 40200, 141, TCP_ACK | TCP_PSH, rec2.b + 40, rec2.n - 40);
	th_finish(t);

	const struct th_pdu *p = th_pdu_n(t, "tls", 0);
	uint64_t v = 0;
	CHECK(p && th_pdu_u(p, "handshake_type", &v) && v == 1);
	CHECK(p && th_pdu_s(p, "sni") && !strcmp(th_pdu_s(p, "sni"), host));
	const struct fact *f = id_fact(t, "tls", "sni", host);
	CHECK(f && f->u.id.subject == SUBJ_DST && ip4_is(&f->dst, A));
	const struct th_pdu *s = th_pdu_n(t, "tls", 1);
	CHECK(s && th_pdu_u(s, "handshake_type", &v) && v == 2);
	CHECK(th_pdu_u(s, "handshakes", &v) && v == 3);
	CHECK(th_pdu_u(s, "cipher_suite", &v) && v == 0xc02f);
	f = id_fact(t, "tls", "cert_subject", "CN=historian, O=Plant");
	CHECK(f && f->u.id.subject == SUBJ_SRC && ip4_is(&f->src, A));
	CHECK(id_fact(t, "tls", "cert_issuer", "CN=Plant CA, O=Plant") != NULL);
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);

	/* a ClientHello whose extensions overrun it */
	NEW_TH(t2);
	rec.b[rec.n - strlen(host) - 11] = 0xff; /* the extensions length */
	th_tcp(t2, B, 40201, A, 443, 2, TCP_ACK | TCP_PSH, rec.b, rec.n);
	th_finish(t2);
	CHECK_EQ(th_count_pdus(t2, "tls"), 1);
	CHECK_EQ(th_count_facts(t2, FACT_VIOLATION), 1);
	th_free(t2);
}

/* ---------------------------------------------------------------- SSH */

static void test_ssh(void)
{
	NEW_TH(t);
	const char *srv = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x00\x00\x01\x0c\x05\x14junkjunk";
	const char *cli = "SSH-2.0-PuTTY_Release_0.78\r\n";
	th_tcp(t, B, 40300, A, 2200, 1, TCP_SYN, NULL, 0);
	th_tcp(t, A, 2200, B, 40300, 100, TCP_SYN | TCP_ACK, NULL, 0);
	th_tcp(t, A, 2200, B, 40300, 101, TCP_ACK | TCP_PSH, srv, 44);
	th_tcp(t, B, 40300, A, 2200, 2, TCP_ACK | TCP_PSH, cli, 10);
	th_tcp(t, B, 40300, A, 2200, 12, TCP_ACK | TCP_PSH, cli + 10, strlen(cli) - 10);
	th_finish(t);
	CHECK_EQ(th_count_pdus(t, "ssh"), 2);
	const struct th_pdu *p = th_pdu_n(t, "ssh", 0);
	CHECK(p && th_pdu_s(p, "banner") && !strcmp(th_pdu_s(p, "banner"), "SSH-2.0-OpenSSH_9.2p1 Debian-2"));
	CHECK(p && th_pdu_s(p, "software") && !strcmp(th_pdu_s(p, "software"), "OpenSSH_9.2p1"));
	const struct fact *f = id_fact(t, "ssh", "ssh_banner", "SSH-2.0-PuTTY_Release_0.78");
	CHECK(f && f->u.id.subject == SUBJ_SRC && ip4_is(&f->src, B));
	f = id_fact(t, "ssh", "ssh_banner", "SSH-2.0-OpenSSH_9.2p1 Debian-2");
	CHECK(f && ip4_is(&f->src, A));
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 0);
	th_free(t);
}

/* ---------------------------------------------------------------- NTP */

static void test_ntp(void)
{
	NEW_TH(t);
	uint8_t m[48] = { 0x23 }; /* v4 client */
	th_udp(t, B, 40400, A, 123, m, sizeof m);
	uint8_t s[48] = { 0x24, 2, 6, 0xec };
	s[12] = 10; s[15] = 1;
	th_udp(t, A, 123, B, 40400, s, sizeof s);
	th_udp(t, A, 123, B, 40400, s, 20); /* short */
	uint8_t r[48] = { 0x24, 200 };       /* reserved stratum */
	th_udp(t, A, 123, B, 40400, r, sizeof r);
	th_finish(t);
	const struct th_pdu *q = th_pdu_n(t, "ntp", 0), *p = th_pdu_n(t, "ntp", 1);
	uint64_t v = 0;
	CHECK(q && !strcmp(q->dir, "request") && th_pdu_u(q, "mode", &v) && v == 3);
	CHECK(p && !strcmp(p->dir, "response") && th_pdu_u(p, "stratum", &v) && v == 2);
	CHECK(th_pdu_u(p, "version", &v) && v == 4);
	CHECK(p && th_pdu_s(p, "refid") && !strcmp(th_pdu_s(p, "refid"), "10.0.0.1"));
	const struct fact *f = id_fact(t, "ntp", "role", "ntp_server");
	CHECK(f && f->u.id.subject == SUBJ_SRC && ip4_is(&f->src, A));
	CHECK_EQ(th_count_facts(t, FACT_VIOLATION), 2);
	th_free(t);
}

int main(void)
{
	test_dhcp();
	test_dns();
	test_nbns();
	test_smb();
	test_lldp();
	test_cdp();
	test_snmp();
	test_http();
	test_tls();
	test_ssh();
	test_ntp();
	return check_done();
}
