/* gen-goose.c - IEC 61850 GOOSE (Ethertype 0x88b8) published by the protection relays.
 *
 * What it is for: each ABB relay (ied01, ied02) multicasts one GOOSE control block
 * to 01:0c:cd:01:00:0N (APPID 0x000N): gocbRef, timeAllowedtoLive, datSet, goID,
 * t, stNum, sqNum, simulation, confRev, ndsCom, numDatSetEntries and allData (a
 * trip boolean, a position bit-string, a quality bit-string). Steady state is a
 * heartbeat every second (sqNum counting up); when the data set changes, stNum
 * goes up, sqNum restarts at 0 and the message is repeated at 2, 4, 8 ... 512 ms
 * before falling back to the 1 s heartbeat (the standard retransmission curve).
 * Which control block each relay publishes is the plant's configuration.
 *
 * What it must never do: emit an APDU whose BER lengths or the GOOSE length field
 * disagree with the bytes, or restart stNum/sqNum other than on a state change.
 */
#include "gen.h"

#include <stdio.h>
#include <string.h>

struct goose_pub {
    struct gp_host *ied;
    uint8_t dst[6];
    uint16_t appid;
    char gocb[64], dataset[64], goid[32];
    uint32_t confrev;
    uint32_t stnum, sqnum;
    gp_time changed;     /* t of the last state change */
    int retx;            /* retransmission index after a change, -1 in steady state */
    bool trip;
    uint8_t pos;         /* Dbpos: 1 open, 2 closed */
};

static int goose_send(struct gp_sim *s, struct goose_pub *g, gp_time now, uint32_t ttl_ms)
{
    static struct gp_buf b;
    buf_reset(&b);
    put_be16(&b, g->appid);
    put_be16(&b, 0);   /* length, patched */
    put_be16(&b, 0);   /* reserved 1 */
    put_be16(&b, 0);   /* reserved 2 */
    size_t apdu = ber_begin(&b, 0x61);
    ber_str(&b, 0x80, g->gocb);
    ber_uint(&b, 0x81, ttl_ms);
    ber_str(&b, 0x82, g->dataset);
    ber_str(&b, 0x83, g->goid);
    /* t: UtcTime, seconds, 24-bit fraction, time quality (10 bits of accuracy) */
    uint64_t us = g->changed;
    put_u8(&b, 0x84);
    put_u8(&b, 8);
    put_be32(&b, (uint32_t)(us / 1000000u));
    put_be24(&b, (uint32_t)(((us % 1000000u) << 24) / 1000000u));
    put_u8(&b, 0x0a);
    ber_uint(&b, 0x85, g->stnum);
    ber_uint(&b, 0x86, g->sqnum);
    put_u8(&b, 0x87); put_u8(&b, 1); put_u8(&b, 0x00);  /* simulation FALSE */
    ber_uint(&b, 0x88, g->confrev);
    put_u8(&b, 0x89); put_u8(&b, 1); put_u8(&b, 0x00);  /* ndsCom FALSE */
    ber_uint(&b, 0x8a, 3);
    size_t all = ber_begin(&b, 0xab);
    put_u8(&b, 0x83); put_u8(&b, 1); put_u8(&b, g->trip ? 1 : 0);     /* boolean */
    put_u8(&b, 0x84); put_u8(&b, 2); put_u8(&b, 6); put_u8(&b, (uint8_t)(g->pos << 6)); /* Dbpos */
    put_u8(&b, 0x84); put_u8(&b, 3); put_u8(&b, 3); put_be16(&b, 0x0000); /* quality good */
    ber_end(&b, all);
    ber_end(&b, apdu);
    if (b.overflow)
        return GP_ERR_RANGE;
    set_be16(&b, 2, (uint16_t)b.n);
    g->sqnum++;
    return send_eth(s, now, g->ied->mac, g->dst, 0x88b8, b.d, b.n);
}

static int goose_step(struct gp_sim *s, struct gp_task *t)
{
    struct goose_pub *g = t->state;
    gp_time now = t->next;
    int rc;
    if (g->retx < 0 && rng_chance(&s->rng, 15)) {
        /* a breaker operation: trip, then the breaker opens (and later recloses) */
        g->stnum++;
        g->sqnum = 0;
        g->trip = !g->trip && g->pos == 2;
        g->pos = g->pos == 2 ? 1 : 2;
        g->changed = now;
        g->retx = 0;
    }
    if (g->retx >= 0) {
        uint32_t gap = 2u << g->retx; /* 2, 4, 8 ... 512 ms */
        if ((rc = goose_send(s, g, now, 2 * gap < 20 ? 20 : 2 * gap)) != GP_OK)
            return rc;
        if (gap >= 512) {
            g->retx = -1;
            t->next = now + GP_MS(1000);
        } else {
            g->retx++;
            t->next = now + GP_MS(gap);
        }
        return GP_OK;
    }
    if ((rc = goose_send(s, g, now, 2000)) != GP_OK)
        return rc;
    t->next = now + GP_MS(1000) + rng_below(&s->rng, 200); /* a few us of jitter */
    return GP_OK;
}

int gen_goose_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    struct gp_rng cfg;
    plant_rng(p, "goose", &cfg);
    for (int i = 0; i < p->nieds; i++) {
        struct goose_pub *g = gp_alloc(s, sizeof *g);
        if (!g)
            return GP_ERR_NOMEM;
        g->ied = p->ieds[i];
        static const uint8_t base[6] = {0x01, 0x0c, 0xcd, 0x01, 0x00, 0x00};
        memcpy(g->dst, base, 6);
        g->appid = (uint16_t)(i + 1);
        g->dst[5] = (uint8_t)g->appid;
        snprintf(g->gocb, sizeof g->gocb, "IED%02dLD0/LLN0$GO$gcbTrip", i + 1);
        snprintf(g->dataset, sizeof g->dataset, "IED%02dLD0/LLN0$dsTrip", i + 1);
        snprintf(g->goid, sizeof g->goid, "IED%02d_Trip", i + 1);
        g->confrev = 1 + rng_below(&cfg, 20);
        /* state at the start of the capture: a stNum from the traffic stream */
        g->stnum = 1 + rng_below(&s->rng, 500);
        g->sqnum = rng_below(&s->rng, 100000);
        g->pos = 2;
        g->changed = s->t0 - GP_SEC(rng_range(&s->rng, 60, 36000));
        g->retx = -1;
        gp_time first = s->t0 + GP_MS(200) + rng_below(&s->rng, (uint32_t)GP_SEC(1));
        if (!task_add(s, first, goose_step, g))
            return GP_ERR_NOMEM;
    }
    return GP_OK;
}
