/* packet.c - the shared packet builder and the time-ordered pcap writer.
 *
 * What it is for: turning "host A sends these bytes to host B over TCP/UDP" into
 * correct Ethernet/IPv4/TCP/UDP frames: IP/TCP/UDP checksums, per-host IP ids and
 * TTLs, ethernet padding, and TCP session state (ports, ISNs, seq/ack, handshake,
 * FIN close). Frames are queued in a min-heap keyed on (timestamp, emission order)
 * and written with libpcap (pcap_open_dead + pcap_dump) in timestamp order.
 *
 * What it must never do: write a frame out of timestamp order, write a frame whose
 * checksums or lengths are wrong, or emit a TCP segment whose seq/ack disagree with
 * the session state. Generators never build L2-L4 headers themselves.
 */
#include "gen.h"

#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MAX 1600

struct gp_pend {
    gp_time ts;
    uint64_t seq;
    uint32_t len;
    struct gp_pend *next_free;
    uint8_t data[FRAME_MAX];
};

static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
const uint8_t *mac_broadcast(void)
{
    return BCAST;
}

/* ------------------------------------------------------------------ output */

int out_open(struct gp_sim *s, const char *path)
{
    pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
    if (!pd) {
        fprintf(stderr, "gen-plant: pcap_open_dead failed\n");
        return GP_ERR_IO;
    }
    pcap_dumper_t *d = pcap_dump_open(pd, path);
    if (!d) {
        fprintf(stderr, "gen-plant: cannot write %s: %s\n", path, pcap_geterr(pd));
        pcap_close(pd);
        return GP_ERR_IO;
    }
    s->pcap = pd;
    s->dumper = d;
    return GP_OK;
}

static bool pend_less(const struct gp_pend *a, const struct gp_pend *b)
{
    if (a->ts != b->ts)
        return a->ts < b->ts;
    return a->seq < b->seq;
}

static void heap_up(struct gp_pend **h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!pend_less(h[i], h[p]))
            break;
        struct gp_pend *t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static void heap_down(struct gp_pend **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && pend_less(h[l], h[m]))
            m = l;
        if (r < n && pend_less(h[r], h[m]))
            m = r;
        if (m == i)
            return;
        struct gp_pend *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

int emit_frame(struct gp_sim *s, gp_time t, const uint8_t *frame, size_t len)
{
    if (len > FRAME_MAX)
        return GP_ERR_RANGE;
    struct gp_pend *p = s->free_list;
    if (p) {
        s->free_list = p->next_free;
    } else {
        p = malloc(sizeof *p);
        if (!p)
            return GP_ERR_NOMEM;
    }
    if (s->heap_n == s->heap_cap) {
        size_t nc = s->heap_cap ? s->heap_cap * 2 : 1024;
        struct gp_pend **nh = realloc(s->heap, nc * sizeof *nh);
        if (!nh) {
            free(p);
            return GP_ERR_NOMEM;
        }
        s->heap = nh;
        s->heap_cap = nc;
    }
    p->ts = t;
    p->seq = s->emit_seq++;
    p->len = (uint32_t)len;
    memcpy(p->data, frame, len);
    s->heap[s->heap_n++] = p;
    heap_up(s->heap, s->heap_n - 1);
    return GP_OK;
}

int out_flush_until(struct gp_sim *s, gp_time t, bool all)
{
    while (s->heap_n > 0 && (all || s->heap[0]->ts <= t)) {
        if (s->max_packets && s->written >= s->max_packets)
            return GP_STOP;
        struct gp_pend *p = s->heap[0];
        s->heap[0] = s->heap[--s->heap_n];
        heap_down(s->heap, s->heap_n, 0);
        struct pcap_pkthdr h;
        memset(&h, 0, sizeof h);
        h.ts.tv_sec = (time_t)(p->ts / 1000000u);
        h.ts.tv_usec = (suseconds_t)(p->ts % 1000000u);
        h.caplen = h.len = p->len;
        pcap_dump((u_char *)s->dumper, &h, p->data);
        s->written++;
        p->next_free = s->free_list;
        s->free_list = p;
    }
    if (s->max_packets && s->written >= s->max_packets)
        return GP_STOP;
    return GP_OK;
}

int out_close(struct gp_sim *s)
{
    int rc = GP_OK;
    if (s->dumper) {
        if (pcap_dump_flush(s->dumper) != 0)
            rc = GP_ERR_IO;
        FILE *f = pcap_dump_file(s->dumper);
        if (f && ferror(f))
            rc = GP_ERR_IO;
        pcap_dump_close(s->dumper);
        s->dumper = NULL;
    }
    if (s->pcap) {
        pcap_close(s->pcap);
        s->pcap = NULL;
    }
    for (size_t i = 0; i < s->heap_n; i++)
        free(s->heap[i]);
    free(s->heap);
    s->heap = NULL;
    s->heap_n = s->heap_cap = 0;
    while (s->free_list) {
        struct gp_pend *n = s->free_list->next_free;
        free(s->free_list);
        s->free_list = n;
    }
    return rc;
}

/* ------------------------------------------------------------------ builders */

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (n & 1)
        sum += (uint32_t)(p[n - 1] << 8);
    return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static size_t eth_hdr(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    wr16(f + 12, type);
    return 14;
}

static int finish_frame(struct gp_sim *s, gp_time t, uint8_t *f, size_t len)
{
    if (len < 60) {
        memset(f + len, 0, 60 - len);
        len = 60;
    }
    return emit_frame(s, t, f, len);
}

int send_arp(struct gp_sim *s, gp_time t, const struct gp_host *from, const uint8_t dst_mac[6],
             uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa)
{
    uint8_t f[FRAME_MAX];
    size_t o = eth_hdr(f, dst_mac, from->mac, 0x0806);
    wr16(f + o, 1);
    wr16(f + o + 2, 0x0800);
    f[o + 4] = 6;
    f[o + 5] = 4;
    wr16(f + o + 6, op);
    memcpy(f + o + 8, sha, 6);
    wr32(f + o + 14, spa);
    memcpy(f + o + 18, tha, 6);
    wr32(f + o + 24, tpa);
    return finish_frame(s, t, f, o + 28);
}

/* IPv4 header at f+o; returns header length. */
static size_t ip_hdr(uint8_t *f, size_t o, struct gp_host *src, uint32_t sip, uint32_t dip,
                     uint8_t proto, size_t payload, bool df)
{
    uint8_t *ip = f + o;
    ip[0] = 0x45;
    ip[1] = 0;
    wr16(ip + 2, (uint16_t)(20 + payload));
    wr16(ip + 4, src->ip_id++);
    wr16(ip + 6, df ? 0x4000 : 0);
    ip[8] = src->ttl;
    ip[9] = proto;
    wr16(ip + 10, 0);
    wr32(ip + 12, sip);
    wr32(ip + 16, dip);
    wr16(ip + 10, csum_fold(csum_add(0, ip, 20)));
    return 20;
}

static uint16_t l4_csum(uint32_t sip, uint32_t dip, uint8_t proto, const uint8_t *seg, size_t n)
{
    uint8_t ph[12];
    wr32(ph, sip);
    wr32(ph + 4, dip);
    ph[8] = 0;
    ph[9] = proto;
    wr16(ph + 10, (uint16_t)n);
    uint32_t sum = csum_add(0, ph, 12);
    sum = csum_add(sum, seg, n);
    return csum_fold(sum);
}

int send_udp(struct gp_sim *s, gp_time t, struct gp_host *src, uint32_t src_ip,
             const uint8_t dst_mac[6], uint32_t dst_ip, uint16_t sport, uint16_t dport,
             const uint8_t *data, size_t len)
{
    uint8_t f[FRAME_MAX];
    if (14 + 20 + 8 + len > 1514)
        return GP_ERR_RANGE;
    size_t o = eth_hdr(f, dst_mac ? dst_mac : BCAST, src->mac, 0x0800);
    o += ip_hdr(f, o, src, src_ip, dst_ip, 17, 8 + len, false);
    uint8_t *u = f + o;
    wr16(u, sport);
    wr16(u + 2, dport);
    wr16(u + 4, (uint16_t)(8 + len));
    wr16(u + 6, 0);
    memcpy(u + 8, data, len);
    uint16_t c = l4_csum(src_ip, dst_ip, 17, u, 8 + len);
    wr16(u + 6, c ? c : 0xffff);
    return finish_frame(s, t, f, o + 8 + len);
}

int send_udp_hosts(struct gp_sim *s, gp_time t, struct gp_host *src, struct gp_host *dst,
                   uint16_t sport, uint16_t dport, const uint8_t *data, size_t len)
{
    return send_udp(s, t, src, src->ip, dst->mac, dst->ip, sport, dport, data, len);
}

int send_tcp_raw(struct gp_sim *s, gp_time t, struct gp_host *src, struct gp_host *dst,
                 uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                 uint16_t win, const uint8_t *d, size_t n, bool mss_opt)
{
    uint8_t f[FRAME_MAX];
    size_t thl = mss_opt ? 24 : 20;
    if (14 + 20 + thl + n > 1514)
        return GP_ERR_RANGE;
    size_t o = eth_hdr(f, dst->mac, src->mac, 0x0800);
    o += ip_hdr(f, o, src, src->ip, dst->ip, 6, thl + n, true);
    uint8_t *tc = f + o;
    wr16(tc, sport);
    wr16(tc + 2, dport);
    wr32(tc + 4, seq);
    wr32(tc + 8, (flags & TCP_ACK) ? ack : 0);
    tc[12] = (uint8_t)((thl / 4) << 4);
    tc[13] = flags;
    wr16(tc + 14, win);
    wr16(tc + 16, 0);
    wr16(tc + 18, 0);
    if (mss_opt) {
        tc[20] = 2;
        tc[21] = 4;
        wr16(tc + 22, 1460);
    }
    if (n)
        memcpy(tc + thl, d, n);
    wr16(tc + 16, l4_csum(src->ip, dst->ip, 6, tc, thl + n));
    return finish_frame(s, t, f, o + thl + n);
}

/* ------------------------------------------------------------------ TCP sessions */

void tcp_init(struct gp_sim *s, struct gp_tcp *c, struct gp_host *cli, struct gp_host *srv,
              uint16_t sport)
{
    memset(c, 0, sizeof *c);
    c->cli = cli;
    c->srv = srv;
    if (cli->next_port < 49152)
        cli->next_port = (uint16_t)(49152 + rng_below(&s->rng, 8000));
    c->cport = cli->next_port;
    cli->next_port = (uint16_t)(cli->next_port >= 65000 ? 49152 : cli->next_port + 1 +
                                rng_below(&s->rng, 3));
    c->sport = sport;
    c->cseq = (uint32_t)rng_next(&s->rng);
    c->sseq = (uint32_t)rng_next(&s->rng);
    c->cwin = (cli->ttl == 128) ? 64240 : 29200;
    c->swin = (srv->ttl == 128) ? 64240 : (srv->ttl == 64 ? 29200 : 8192);
}

static int seg(struct gp_sim *s, struct gp_tcp *c, bool from_srv, gp_time t, uint8_t flags,
               const uint8_t *d, size_t n, bool mss)
{
    if (from_srv)
        return send_tcp_raw(s, t, c->srv, c->cli, c->sport, c->cport, c->sseq, c->cseq, flags,
                            c->swin, d, n, mss);
    return send_tcp_raw(s, t, c->cli, c->srv, c->cport, c->sport, c->cseq, c->sseq, flags,
                        c->cwin, d, n, mss);
}

int tcp_connect(struct gp_sim *s, struct gp_tcp *c, gp_time t, gp_time *done)
{
    int rc;
    gp_time half = rtt_us(s, 120, 600);
    if ((rc = seg(s, c, false, t, TCP_SYN, NULL, 0, true)) != GP_OK)
        return rc;
    c->cseq++;
    t += half;
    /* SYN/ACK: acks the client's SYN */
    if ((rc = send_tcp_raw(s, t, c->srv, c->cli, c->sport, c->cport, c->sseq, c->cseq,
                           TCP_SYN | TCP_ACK, c->swin, NULL, 0, true)) != GP_OK)
        return rc;
    c->sseq++;
    t += rtt_us(s, 60, 300);
    if ((rc = seg(s, c, false, t, TCP_ACK, NULL, 0, false)) != GP_OK)
        return rc;
    c->open = true;
    c->cli_unacked = c->srv_unacked = false;
    if (done)
        *done = t;
    return GP_OK;
}

int tcp_data(struct gp_sim *s, struct gp_tcp *c, bool from_srv, gp_time t, const uint8_t *d,
             size_t n)
{
    int rc = seg(s, c, from_srv, t, TCP_PSH | TCP_ACK, d, n, false);
    if (rc != GP_OK)
        return rc;
    if (from_srv) {
        c->sseq += (uint32_t)n;
        c->srv_unacked = true;
        c->cli_unacked = false;
    } else {
        c->cseq += (uint32_t)n;
        c->cli_unacked = true;
        c->srv_unacked = false;
    }
    return GP_OK;
}

int tcp_data_split(struct gp_sim *s, struct gp_tcp *c, bool from_srv, gp_time t,
                   const uint8_t *d, size_t n, size_t first, gp_time dt)
{
    const size_t mss = 1460;
    size_t off = 0;
    int rc;
    if (first == 0 || first >= n)
        first = n < mss ? n : mss;
    while (off < n) {
        size_t len = off == 0 ? first : (n - off > mss ? mss : n - off);
        /* Every segment but the last carries ACK only, the last PSH|ACK. */
        if (off + len < n) {
            rc = seg(s, c, from_srv, t, TCP_ACK, d + off, len, false);
            if (rc != GP_OK)
                return rc;
            if (from_srv)
                c->sseq += (uint32_t)len;
            else
                c->cseq += (uint32_t)len;
        } else {
            rc = tcp_data(s, c, from_srv, t, d + off, len);
            if (rc != GP_OK)
                return rc;
        }
        off += len;
        t += dt;
    }
    return GP_OK;
}

int tcp_ack(struct gp_sim *s, struct gp_tcp *c, bool from_srv, gp_time t)
{
    /* Nothing new to acknowledge: a second ACK would be a duplicate ACK. */
    if (from_srv ? !c->cli_unacked : !c->srv_unacked)
        return GP_OK;
    int rc = seg(s, c, from_srv, t, TCP_ACK, NULL, 0, false);
    if (rc != GP_OK)
        return rc;
    if (from_srv)
        c->cli_unacked = false;
    else
        c->srv_unacked = false;
    return GP_OK;
}

int tcp_close(struct gp_sim *s, struct gp_tcp *c, bool srv_first, gp_time t, gp_time *done)
{
    int rc;
    bool a = srv_first;
    if ((rc = seg(s, c, a, t, TCP_FIN | TCP_ACK, NULL, 0, false)) != GP_OK)
        return rc;
    if (a)
        c->sseq++;
    else
        c->cseq++;
    t += rtt_us(s, 150, 700);
    if ((rc = seg(s, c, !a, t, TCP_FIN | TCP_ACK, NULL, 0, false)) != GP_OK)
        return rc;
    if (!a)
        c->sseq++;
    else
        c->cseq++;
    t += rtt_us(s, 60, 300);
    if ((rc = seg(s, c, a, t, TCP_ACK, NULL, 0, false)) != GP_OK)
        return rc;
    c->open = false;
    if (done)
        *done = t;
    return GP_OK;
}

int send_eth(struct gp_sim *s, gp_time t, const uint8_t src[6], const uint8_t dst[6],
             uint16_t type, const uint8_t *data, size_t len)
{
    uint8_t f[FRAME_MAX];
    if (14 + len > 1514)
        return GP_ERR_RANGE;
    size_t o = eth_hdr(f, dst, src, type);
    memcpy(f + o, data, len);
    return finish_frame(s, t, f, o + len);
}
