/* gen-bacnet.c - BACnet/IP (UDP 47808): building controllers and the BMS front end.
 *
 * What it is for: the SCADA server (acting as BMS workstation) broadcasts Who-Is
 * every minute, every controller answers with a broadcast I-Am (device instance,
 * max APDU, segmentation, vendor 5 = Johnson Controls); every 5 s the workstation
 * reads the present-value of an analog input of each controller (ReadProperty,
 * confirmed request) and gets a ComplexAck with a REAL.
 *
 * What it must never do: emit a BVLC length that disagrees with the datagram or
 * an APDU whose tags are unbalanced (every opening tag has its closing tag).
 */
#include "gen.h"

#include <string.h>

struct bac_ctl {
    struct gp_host *ws, *dev;
    uint8_t invoke;
    uint32_t value; /* REAL bits */
};

struct bac_whois {
    struct gp_host *ws;
    struct gp_host *devs[128];
    int ndevs;
};

static void bvlc(struct gp_buf *b, uint8_t func)
{
    buf_reset(b);
    put_u8(b, 0x81);
    put_u8(b, func);
    put_be16(b, 0); /* length, patched */
}

static void bvlc_end(struct gp_buf *b)
{
    set_be16(b, 2, (uint16_t)b->n);
}

static void put_objid(struct gp_buf *b, uint8_t tag, uint16_t type, uint32_t inst)
{
    put_u8(b, tag);
    put_be32(b, ((uint32_t)type << 22) | (inst & 0x3fffff));
}

static int whois_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    struct bac_whois *w = t->state;
    gp_time now = t->next;
    int rc;
    t->next = now + GP_SEC(rng_range(&s->rng, 58, 62));
    uint32_t bcast = s->plant->net | ~s->plant->mask;
    bvlc(&b, 0x0B);    /* original-broadcast-NPDU */
    put_u8(&b, 0x01);  /* NPDU version */
    put_u8(&b, 0x20);  /* destination specifier */
    put_be16(&b, 0xFFFF);
    put_u8(&b, 0);     /* DLEN 0: broadcast */
    put_u8(&b, 255);   /* hop count */
    put_u8(&b, 0x10);  /* unconfirmed request */
    put_u8(&b, 0x08);  /* who-is */
    bvlc_end(&b);
    if ((rc = send_udp(s, now, w->ws, w->ws->ip, mac_broadcast(), bcast, 47808, 47808, b.d, b.n)) != GP_OK)
        return rc;
    for (int i = 0; i < w->ndevs; i++) {
        struct gp_host *d = w->devs[i];
        bvlc(&b, 0x0B);
        put_u8(&b, 0x01);
        put_u8(&b, 0x00);
        put_u8(&b, 0x10);
        put_u8(&b, 0x00); /* i-am */
        put_objid(&b, 0xC4, 8, d->unit_or_addr);
        put_u8(&b, 0x22);
        put_be16(&b, 1476);
        put_u8(&b, 0x91);
        put_u8(&b, 0x03); /* no segmentation */
        put_u8(&b, 0x21);
        put_u8(&b, 5);    /* vendor: Johnson Controls */
        bvlc_end(&b);
        gp_time at = now + GP_MS(rng_range(&s->rng, 2, 80)) + (gp_time)i * 150;
        if ((rc = send_udp(s, at, d, d->ip, mac_broadcast(), bcast, 47808, 47808, b.d, b.n)) != GP_OK)
            return rc;
    }
    return GP_OK;
}

static int read_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    struct bac_ctl *c = t->state;
    gp_time now = t->next;
    int rc;
    t->next = now + jitter(s, GP_SEC(5), 3);
    uint8_t inv = c->invoke++;
    uint32_t inst = 1 + rng_below(&s->rng, 4);
    bvlc(&b, 0x0A);    /* original-unicast-NPDU */
    put_u8(&b, 0x01);
    put_u8(&b, 0x04);  /* expecting reply */
    put_u8(&b, 0x00);  /* confirmed request, no segmentation */
    put_u8(&b, 0x05);  /* max segs 0, max APDU 1476 */
    put_u8(&b, inv);
    put_u8(&b, 0x0C);  /* readProperty */
    put_objid(&b, 0x0C, 0, inst); /* analog-input */
    put_u8(&b, 0x19);
    put_u8(&b, 85);    /* present-value */
    bvlc_end(&b);
    if ((rc = send_udp_hosts(s, now, c->ws, c->dev, 47808, 47808, b.d, b.n)) != GP_OK)
        return rc;
    c->value = (c->value & 0xff800000u) | ((c->value + rng_below(&s->rng, 40000)) & 0x7fffff);
    bvlc(&b, 0x0A);
    put_u8(&b, 0x01);
    put_u8(&b, 0x00);
    put_u8(&b, 0x30);  /* complex ack */
    put_u8(&b, inv);
    put_u8(&b, 0x0C);
    put_objid(&b, 0x0C, 0, inst);
    put_u8(&b, 0x19);
    put_u8(&b, 85);
    put_u8(&b, 0x3E);  /* opening tag 3 */
    put_u8(&b, 0x44);  /* REAL */
    put_be32(&b, c->value);
    put_u8(&b, 0x3F);  /* closing tag 3 */
    bvlc_end(&b);
    return send_udp_hosts(s, now + rtt_us(s, 5000, 40000), c->dev, c->ws, 47808, 47808, b.d, b.n);
}

int gen_bacnet_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    struct bac_whois *w = gp_alloc(s, sizeof *w);
    if (!w)
        return GP_ERR_NOMEM;
    w->ws = p->scada;
    for (int i = 0; i < p->nhosts; i++) {
        struct gp_host *h = &p->hosts[i];
        if (h->role != ROLE_BACNET)
            continue;
        if (w->ndevs < 128)
            w->devs[w->ndevs++] = h;
        struct bac_ctl *c = gp_alloc(s, sizeof *c);
        if (!c)
            return GP_ERR_NOMEM;
        c->ws = p->scada;
        c->dev = h;
        c->invoke = (uint8_t)rng_next(&s->rng);
        c->value = (131u << 23) | (uint32_t)(rng_next(&s->rng) & 0x7fffff); /* ~ 16..32 */
        if (!task_add(s, s->t0 + GP_SEC(2) + rng_below(&s->rng, (uint32_t)GP_SEC(5)), read_step, c))
            return GP_ERR_NOMEM;
    }
    if (w->ndevs > 0 && !task_add(s, s->t0 + GP_SEC(1) + rng_below(&s->rng, (uint32_t)GP_SEC(2)),
                                  whois_step, w))
        return GP_ERR_NOMEM;
    return GP_OK;
}
