/* gen-pndcp.c - PROFINET DCP (Ethertype 0x8892) Identify from the engineering station.
 *
 * What it is for: eng-ws01 (TIA Portal's "accessible devices") multicasts an
 * Identify All request to 01:0e:cf:00:00:00 every 60 s; every Siemens PLC answers
 * unicast after its response delay with NameOfStation, TypeOfStation, vendor and
 * device id, device role and its IP suite.
 *
 * What it must never do: emit a DCP data length or block length that disagrees
 * with the blocks (odd blocks are padded, the padding is not counted), or answer
 * with a different Xid than the request.
 */
#include "gen.h"

#include <stdio.h>
#include <string.h>

static const uint8_t DCP_MCAST[6] = {0x01, 0x0e, 0xcf, 0x00, 0x00, 0x00};

struct dcp_state {
    struct gp_host *eng;
    struct gp_host *devs[64];
    int ndevs;
    uint32_t xid;
};

static void dcp_block(struct gp_buf *b, uint8_t opt, uint8_t sub, uint16_t info,
                      const void *v, size_t n)
{
    put_u8(b, opt);
    put_u8(b, sub);
    put_be16(b, (uint16_t)(2 + n));
    put_be16(b, info);
    put_bytes(b, v, n);
    if (n & 1)
        put_u8(b, 0);
}

static int dcp_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    struct dcp_state *d = t->state;
    gp_time now = t->next;
    int rc;
    t->next = now + GP_SEC(60) + rng_below(&s->rng, (uint32_t)GP_SEC(2));
    uint32_t xid = d->xid++;
    buf_reset(&b);
    put_be16(&b, 0xfefe);  /* Identify multicast request */
    put_u8(&b, 5);         /* service: Identify */
    put_u8(&b, 0);         /* request */
    put_be32(&b, xid);
    put_be16(&b, 1);       /* response delay factor: 10 ms slots */
    put_be16(&b, 4);
    put_u8(&b, 0xff); put_u8(&b, 0xff); put_be16(&b, 0); /* All Selector */
    if ((rc = send_eth(s, now, d->eng->mac, DCP_MCAST, 0x8892, b.d, b.n)) != GP_OK)
        return rc;
    for (int i = 0; i < d->ndevs; i++) {
        struct gp_host *h = d->devs[i];
        bool s1500 = strstr(h->model, "151") != NULL;
        bool s1200 = strstr(h->model, "121") != NULL;
        buf_reset(&b);
        put_be16(&b, 0xfeff);
        put_u8(&b, 5);
        put_u8(&b, 1);     /* response, success */
        put_be32(&b, xid);
        put_be16(&b, 0);
        put_be16(&b, 0);   /* length, patched */
        size_t blocks = b.n;
        const char *type = s1500 ? "S7-1500" : s1200 ? "S7-1200" : "S7-300";
        dcp_block(&b, 2, 1, 0, type, strlen(type));
        dcp_block(&b, 2, 2, 0, h->name, strlen(h->name));
        uint8_t v[12];
        uint16_t devid = s1500 ? 0x010e : s1200 ? 0x010d : 0x0101;
        v[0] = 0x00; v[1] = 0x2a; v[2] = (uint8_t)(devid >> 8); v[3] = (uint8_t)devid;
        dcp_block(&b, 2, 3, 0, v, 4);
        v[0] = 0x03; v[1] = 0x00; /* IO-Device and IO-Controller */
        dcp_block(&b, 2, 4, 0, v, 2);
        uint32_t gw = s->plant->router->ip, mask = 0xffff0000u;
        for (int k = 0; k < 4; k++) {
            v[k] = (uint8_t)(h->ip >> (24 - 8 * k));
            v[4 + k] = (uint8_t)(mask >> (24 - 8 * k));
            v[8 + k] = (uint8_t)(gw >> (24 - 8 * k));
        }
        dcp_block(&b, 1, 2, 0x0001, v, 12);
        set_be16(&b, blocks - 2, (uint16_t)(b.n - blocks));
        if (b.overflow)
            return GP_ERR_RANGE;
        gp_time at = now + GP_MS(rng_range(&s->rng, 1, 10));
        at += rng_below(&s->rng, 3000); /* one draw per statement */
        if ((rc = send_eth(s, at, h->mac, d->eng->mac, 0x8892, b.d, b.n)) != GP_OK)
            return rc;
    }
    return GP_OK;
}

int gen_pndcp_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    struct dcp_state *d = gp_alloc(s, sizeof *d);
    if (!d)
        return GP_ERR_NOMEM;
    d->eng = p->eng;
    for (int i = 0; i < p->nhosts && d->ndevs < 64; i++)
        if (p->hosts[i].role == ROLE_PLC_S7)
            d->devs[d->ndevs++] = &p->hosts[i];
    if (!d->ndevs)
        return GP_OK;
    d->xid = (uint32_t)rng_next(&s->rng) & 0x7fffffff;
    gp_time first = s->t0 + GP_SEC(3) + rng_below(&s->rng, (uint32_t)GP_SEC(10));
    return task_add(s, first, dcp_step, d) ? GP_OK : GP_ERR_NOMEM;
}
