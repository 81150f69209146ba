/* gen-dhcp.c - DHCP background: office workstations booting and renewing leases.
 *
 * What it is for: each DHCP client (plant hosts with dhcp=true) boots early in a
 * capture that starts at the plant epoch: DISCOVER / OFFER / REQUEST / ACK with
 * hostname (12), vendor class (60) and client identifier (61), then an ARP probe
 * and announcement; afterwards it renews (unicast REQUEST / ACK) at T1. A capture
 * that starts later (--start-offset) finds the leases already held: renewals only.
 * The server is the domain controller.
 *
 * What it must never do: hand out an address other than the host's planned lease
 * (other generators rely on it), or emit a malformed BOOTP option.
 */
#include "gen.h"

#include <string.h>

#define LEASE_SECS 300u /* short plant-office lease so renewals show up in minutes */

struct dhcp_state {
    struct gp_host *h;
    int phase;      /* 0 boot (DORA), 1 renew */
    uint32_t xid;
};

enum { DISCOVER = 1, OFFER = 2, REQUEST = 3, ACK = 5 };

static void bootp_header(struct gp_buf *b, uint8_t op, uint32_t xid, uint16_t secs, bool bcast,
                         uint32_t ciaddr, uint32_t yiaddr, const uint8_t chaddr[6])
{
    put_u8(b, op);
    put_u8(b, 1);   /* ethernet */
    put_u8(b, 6);
    put_u8(b, 0);   /* hops */
    put_be32(b, xid);
    put_be16(b, secs);
    put_be16(b, bcast ? 0x8000 : 0);
    put_be32(b, ciaddr);
    put_be32(b, yiaddr);
    put_be32(b, 0); /* siaddr */
    put_be32(b, 0); /* giaddr */
    put_bytes(b, chaddr, 6);
    put_zero(b, 10);
    put_zero(b, 64);  /* sname */
    put_zero(b, 128); /* file */
    put_be32(b, 0x63825363);
}

static void opt(struct gp_buf *b, uint8_t code, const void *v, size_t n)
{
    put_u8(b, code);
    put_u8(b, (uint8_t)n);
    put_bytes(b, v, n);
}

static void opt32(struct gp_buf *b, uint8_t code, uint32_t v)
{
    put_u8(b, code);
    put_u8(b, 4);
    put_be32(b, v);
}

static void client_opts(struct gp_buf *b, const struct gp_host *h, uint8_t type)
{
    static const uint8_t prl[] = {1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252};
    uint8_t cid[7];
    put_u8(b, 53);
    put_u8(b, 1);
    put_u8(b, type);
    cid[0] = 1;
    memcpy(cid + 1, h->mac, 6);
    opt(b, 61, cid, sizeof cid);
    opt(b, 12, h->name, strlen(h->name));
    opt(b, 60, "MSFT 5.0", 8);
    opt(b, 55, prl, sizeof prl);
}

static void finish(struct gp_buf *b)
{
    put_u8(b, 255);
    if (b->n < 300)
        put_zero(b, 300 - b->n);
}

static void server_opts(struct gp_sim *s, struct gp_buf *b, uint8_t type)
{
    struct gp_plant *p = s->plant;
    put_u8(b, 53);
    put_u8(b, 1);
    put_u8(b, type);
    opt32(b, 54, p->dc->ip);
    opt32(b, 51, LEASE_SECS);
    opt32(b, 58, LEASE_SECS / 2);
    opt32(b, 59, LEASE_SECS * 7 / 8);
    opt32(b, 1, p->mask);
    opt32(b, 3, p->router->ip);
    opt32(b, 6, p->dc->ip);
    opt(b, 15, p->domain, strlen(p->domain));
}

static int send_from_client(struct gp_sim *s, gp_time t, struct gp_host *h, struct gp_buf *b,
                            bool bcast)
{
    if (b->overflow)
        return GP_ERR_RANGE;
    if (bcast)
        return send_udp(s, t, h, 0, mac_broadcast(), 0xffffffffu, 68, 67, b->d, b->n);
    return send_udp(s, t, h, h->ip, s->plant->dc->mac, s->plant->dc->ip, 68, 67, b->d, b->n);
}

static int send_from_server(struct gp_sim *s, gp_time t, struct gp_host *h, struct gp_buf *b,
                            bool bcast)
{
    struct gp_host *dc = s->plant->dc;
    if (b->overflow)
        return GP_ERR_RANGE;
    if (bcast)
        return send_udp(s, t, dc, dc->ip, mac_broadcast(), 0xffffffffu, 67, 68, b->d, b->n);
    return send_udp(s, t, dc, dc->ip, h->mac, h->ip, 67, 68, b->d, b->n);
}

static int dhcp_boot(struct gp_sim *s, struct gp_task *t, struct dhcp_state *d, gp_time now)
{
    static struct gp_buf b;
    struct gp_host *h = d->h;
    int rc;
    d->xid = (uint32_t)rng_next(&s->rng);

    buf_reset(&b);
    bootp_header(&b, 1, d->xid, 0, true, 0, 0, h->mac);
    client_opts(&b, h, DISCOVER);
    finish(&b);
    if ((rc = send_from_client(s, now, h, &b, true)) != GP_OK)
        return rc;
    now += GP_MS(rng_range(&s->rng, 2, 30));

    buf_reset(&b);
    bootp_header(&b, 2, d->xid, 0, true, 0, h->ip, h->mac);
    server_opts(s, &b, OFFER);
    finish(&b);
    if ((rc = send_from_server(s, now, h, &b, true)) != GP_OK)
        return rc;
    now += GP_MS(rng_range(&s->rng, 1, 10));

    buf_reset(&b);
    bootp_header(&b, 1, d->xid, 0, true, 0, 0, h->mac);
    client_opts(&b, h, REQUEST);
    opt32(&b, 50, h->ip);
    opt32(&b, 54, s->plant->dc->ip);
    finish(&b);
    if ((rc = send_from_client(s, now, h, &b, true)) != GP_OK)
        return rc;
    now += GP_MS(rng_range(&s->rng, 2, 30));

    buf_reset(&b);
    bootp_header(&b, 2, d->xid, 0, true, 0, h->ip, h->mac);
    server_opts(s, &b, ACK);
    finish(&b);
    if ((rc = send_from_server(s, now, h, &b, true)) != GP_OK)
        return rc;

    /* RFC 5227: probe for the address, then announce it. */
    static const uint8_t zero[6] = {0};
    now += GP_MS(rng_range(&s->rng, 5, 50));
    if ((rc = send_arp(s, now, h, mac_broadcast(), 1, h->mac, 0, zero, h->ip)) != GP_OK)
        return rc;
    now += GP_MS(rng_range(&s->rng, 1000, 1500));
    h->up = true;
    if ((rc = send_arp(s, now, h, mac_broadcast(), 1, h->mac, h->ip, zero, h->ip)) != GP_OK)
        return rc;
    d->phase = 1;
    t->next = now + GP_SEC(LEASE_SECS / 2) + rng_below(&s->rng, (uint32_t)GP_SEC(5));
    return GP_OK;
}

static int dhcp_renew(struct gp_sim *s, struct gp_task *t, struct dhcp_state *d, gp_time now)
{
    static struct gp_buf b;
    struct gp_host *h = d->h;
    int rc;
    d->xid = (uint32_t)rng_next(&s->rng);
    buf_reset(&b);
    bootp_header(&b, 1, d->xid, 0, false, h->ip, 0, h->mac);
    client_opts(&b, h, REQUEST);
    finish(&b);
    if ((rc = send_from_client(s, now, h, &b, false)) != GP_OK)
        return rc;
    now += GP_MS(rng_range(&s->rng, 1, 20));
    buf_reset(&b);
    bootp_header(&b, 2, d->xid, 0, false, h->ip, h->ip, h->mac);
    server_opts(s, &b, ACK);
    finish(&b);
    if ((rc = send_from_server(s, now, h, &b, false)) != GP_OK)
        return rc;
    t->next = now + GP_SEC(LEASE_SECS / 2) + rng_below(&s->rng, (uint32_t)GP_SEC(5));
    return GP_OK;
}

static int dhcp_step(struct gp_sim *s, struct gp_task *t)
{
    struct dhcp_state *d = t->state;
    return d->phase == 0 ? dhcp_boot(s, t, d, t->next) : dhcp_renew(s, t, d, t->next);
}

int gen_dhcp_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    bool booting = s->t0 == GP_SEC(GP_EPOCH_UNIX);
    for (int i = 0; i < p->nhosts; i++) {
        struct gp_host *h = &p->hosts[i];
        if (!h->dhcp)
            continue;
        struct dhcp_state *d = gp_alloc(s, sizeof *d);
        if (!d)
            return GP_ERR_NOMEM;
        d->h = h;
        gp_time first;
        if (booting) {
            h->up = false;
            d->phase = 0;
            first = s->t0 + GP_MS(200) + rng_below(&s->rng, (uint32_t)GP_SEC(30));
        } else {
            h->up = true;
            d->phase = 1;
            first = s->t0 + rng_below(&s->rng, (uint32_t)GP_SEC(LEASE_SECS / 2));
        }
        if (!task_add(s, first, dhcp_step, d))
            return GP_ERR_NOMEM;
    }
    return GP_OK;
}
