/* gen-mms.c - IEC 61850 MMS (ISO 9506) over ISO-on-TCP (TPKT/COTP, session,
 * presentation, ACSE; port 102) from the SCADA server to the protection relays.
 *
 * What it is for: scada01 acts as the IEC 61850 client of each relay: COTP CR/CC,
 * session CONNECT/ACCEPT carrying the presentation CP/CPA, ACSE AARQ/AARE and the
 * MMS initiate-Request/Response; then identify (vendor, model, revision of the
 * relay) and, every 2 s, a read of one measured value (domain-specific named
 * variable, e.g. IED01LD0 / MMXU1$MX$TotW$mag$f) answered with a floating-point.
 * The variables read are the plant's configuration (plant_rng).
 *
 * What it must never do: emit a TPKT, SPDU or BER length that disagrees with the
 * bytes, or read a variable outside the configured list.
 */
#include "gen.h"

#include <stdio.h>
#include <string.h>

#define MMS_NVARS 3
struct mms_conn {
    struct gp_tcp tcp;
    struct gp_host *cli, *ied;
    uint32_t invoke;
    char domain[16];
    const char *vars[MMS_NVARS];
    int nvars, next;
    uint32_t value[MMS_NVARS]; /* thousandths (integer arithmetic: same bytes everywhere) */
};

static const char *const MMS_ITEMS[] = {
    "MMXU1$MX$TotW$mag$f", "MMXU1$MX$Hz$mag$f", "MMXU1$MX$PhV$phsA$cVal$mag$f",
    "MMXU1$MX$A$phsA$cVal$mag$f", "MMXU1$MX$TotVAr$mag$f",
};

/* TPKT + COTP DT; the SPDU/PPDU follows. */
static size_t mms_tpkt(struct gp_buf *b)
{
    buf_reset(b);
    put_u8(b, 3);
    put_u8(b, 0);
    put_be16(b, 0);
    put_u8(b, 2);
    put_u8(b, 0xF0);
    put_u8(b, 0x80);
    return 0;
}

static int mms_send(struct gp_sim *s, struct mms_conn *c, bool from_ied, gp_time t, struct gp_buf *b)
{
    if (b->overflow)
        return GP_ERR_RANGE;
    set_be16(b, 2, (uint16_t)b->n);
    return tcp_data(s, &c->tcp, from_ied, t, b->d, b->n);
}

/* Data transfer: session Give-Tokens + DT SPDUs, presentation fully-encoded user
 * data of context 3 (MMS); returns the offset to close with mms_dt_end. */
static void mms_dt_begin(struct gp_buf *b, size_t o[3])
{
    mms_tpkt(b);
    put_u8(b, 0x01); put_u8(b, 0x00); /* give tokens */
    put_u8(b, 0x01); put_u8(b, 0x00); /* data transfer */
    o[0] = ber_begin(b, 0x61);
    o[1] = ber_begin(b, 0x30);
    ber_uint(b, 0x02, 3);
    o[2] = ber_begin(b, 0xa0);
}

static void mms_dt_end(struct gp_buf *b, size_t o[3])
{
    ber_end(b, o[2]);
    ber_end(b, o[1]);
    ber_end(b, o[0]);
}

static void put_oid(struct gp_buf *b, const uint8_t *oid, size_t n)
{
    put_u8(b, 0x06);
    put_u8(b, (uint8_t)n);
    put_bytes(b, oid, n);
}

static const uint8_t OID_ACSE[] = {0x52, 0x01, 0x00, 0x01};        /* 2.2.1.0.1 */
static const uint8_t OID_MMS[] = {0x28, 0xca, 0x22, 0x02, 0x01};   /* 1.0.9506.2.1 */
static const uint8_t OID_BER[] = {0x51, 0x01};                     /* 2.1.1 */
static const uint8_t OID_MMS_CTX[] = {0x28, 0xca, 0x22, 0x02, 0x03}; /* 1.0.9506.2.3 */
static const uint8_t OID_AP[] = {0x29, 0x01, 0x87, 0x67, 0x01};    /* 1.1.1.999.1 */
static const uint8_t OID_AP_CLI[] = {0x29, 0x01, 0x87, 0x67};      /* 1.1.1.999 */

static void mms_init_detail(struct gp_buf *b, uint8_t tag)
{
    size_t o = ber_begin(b, tag);
    put_bytes(b, "\x80\x03\x00\xfd\xe8", 5);  /* local detail 65000 */
    put_bytes(b, "\x81\x01\x05\x82\x01\x05\x83\x01\x0a", 9);
    size_t d = ber_begin(b, 0xa4);
    put_bytes(b, "\x80\x01\x01", 3);          /* version 1 */
    put_bytes(b, "\x81\x03\x05\xf1\x00", 5);  /* parameter CBB */
    put_bytes(b, "\x82\x0c\x03\xee\x1c\x00\x00\x04\x08\x00\x00\x79\xef\x18", 14);
    ber_end(b, d);
    ber_end(b, o);
}

/* Session SPDU length: one byte below 255 (the SPDUs here stay below). */
static int mms_associate(struct gp_sim *s, struct mms_conn *c, gp_time t, gp_time *done)
{
    static struct gp_buf b;
    int rc;
    uint16_t src_ref = (uint16_t)rng_range(&s->rng, 1, 0xfff0);
    uint16_t dst_ref = (uint16_t)rng_range(&s->rng, 1, 0xfff0);
    tcp_init(s, &c->tcp, c->cli, c->ied, 102);
    if ((rc = tcp_connect(s, &c->tcp, t, &t)) != GP_OK)
        return rc;
    for (int dir = 0; dir < 2; dir++) {
        buf_reset(&b);
        put_u8(&b, 3); put_u8(&b, 0); put_be16(&b, 22);
        put_u8(&b, 17);
        put_u8(&b, dir ? 0xD0 : 0xE0);
        put_be16(&b, dir ? src_ref : 0);
        put_be16(&b, dir ? dst_ref : src_ref);
        put_u8(&b, 0);
        put_u8(&b, 0xC0); put_u8(&b, 1); put_u8(&b, 0x0A);
        put_u8(&b, 0xC1); put_u8(&b, 2); put_be16(&b, 0x0001);
        put_u8(&b, 0xC2); put_u8(&b, 2); put_be16(&b, 0x0001);
        t += dir ? rtt_us(s, 800, 3000) : GP_MS(1);
        if ((rc = tcp_data(s, &c->tcp, dir == 1, t, b.d, b.n)) != GP_OK)
            return rc;
    }
    /* CONNECT SPDU / CP-type */
    mms_tpkt(&b);
    put_u8(&b, 0x0D);
    size_t spdu = b.n;
    put_u8(&b, 0);
    put_bytes(&b, "\x05\x06\x13\x01\x00\x16\x01\x02", 8);
    put_bytes(&b, "\x14\x02\x00\x02", 4);
    put_bytes(&b, "\x33\x02\x00\x01", 4);
    put_bytes(&b, "\x34\x02\x00\x01", 4);
    put_u8(&b, 0xC1);
    size_t ud = b.n;
    put_u8(&b, 0);
    size_t cp = ber_begin(&b, 0x31);
    put_bytes(&b, "\xa0\x03\x80\x01\x01", 5);
    size_t nm = ber_begin(&b, 0xa2);
    put_bytes(&b, "\x81\x04\x00\x00\x00\x01", 6);
    put_bytes(&b, "\x82\x04\x00\x00\x00\x01", 6);
    size_t ctxl = ber_begin(&b, 0xa4);
    size_t x = ber_begin(&b, 0x30);
    ber_uint(&b, 0x02, 1);
    put_oid(&b, OID_ACSE, sizeof OID_ACSE);
    size_t ts = ber_begin(&b, 0x30);
    put_oid(&b, OID_BER, sizeof OID_BER);
    ber_end(&b, ts);
    ber_end(&b, x);
    x = ber_begin(&b, 0x30);
    ber_uint(&b, 0x02, 3);
    put_oid(&b, OID_MMS, sizeof OID_MMS);
    ts = ber_begin(&b, 0x30);
    put_oid(&b, OID_BER, sizeof OID_BER);
    ber_end(&b, ts);
    ber_end(&b, x);
    ber_end(&b, ctxl);
    size_t udf = ber_begin(&b, 0x61);
    size_t pdv = ber_begin(&b, 0x30);
    ber_uint(&b, 0x02, 1);
    size_t sa = ber_begin(&b, 0xa0);
    size_t aarq = ber_begin(&b, 0x60);
    size_t e = ber_begin(&b, 0xa1);
    put_oid(&b, OID_MMS_CTX, sizeof OID_MMS_CTX);
    ber_end(&b, e);
    e = ber_begin(&b, 0xa2);
    put_oid(&b, OID_AP, sizeof OID_AP);
    ber_end(&b, e);
    e = ber_begin(&b, 0xa3);
    ber_uint(&b, 0x02, 12);
    ber_end(&b, e);
    e = ber_begin(&b, 0xa6);
    put_oid(&b, OID_AP_CLI, sizeof OID_AP_CLI);
    ber_end(&b, e);
    e = ber_begin(&b, 0xa7);
    ber_uint(&b, 0x02, 12);
    ber_end(&b, e);
    size_t ui = ber_begin(&b, 0xbe);
    size_t ext = ber_begin(&b, 0x28);
    ber_uint(&b, 0x02, 3);
    size_t sat = ber_begin(&b, 0xa0);
    mms_init_detail(&b, 0xa8);
    ber_end(&b, sat);
    ber_end(&b, ext);
    ber_end(&b, ui);
    ber_end(&b, aarq);
    ber_end(&b, sa);
    ber_end(&b, pdv);
    ber_end(&b, udf);
    ber_end(&b, nm);
    ber_end(&b, cp);
    if (b.n - ud - 1 > 254 || b.n - spdu - 1 > 254)
        return GP_ERR_RANGE;
    b.d[ud] = (uint8_t)(b.n - ud - 1);
    b.d[spdu] = (uint8_t)(b.n - spdu - 1);
    t += GP_MS(1);
    if ((rc = mms_send(s, c, false, t, &b)) != GP_OK)
        return rc;

    /* ACCEPT SPDU / CPA-PPDU / AARE / initiate-Response */
    mms_tpkt(&b);
    put_u8(&b, 0x0E);
    spdu = b.n;
    put_u8(&b, 0);
    put_bytes(&b, "\x05\x06\x13\x01\x00\x16\x01\x02", 8);
    put_bytes(&b, "\x14\x02\x00\x02", 4);
    put_bytes(&b, "\x34\x02\x00\x01", 4);
    put_u8(&b, 0xC1);
    ud = b.n;
    put_u8(&b, 0);
    cp = ber_begin(&b, 0x31);
    put_bytes(&b, "\xa0\x03\x80\x01\x01", 5);
    nm = ber_begin(&b, 0xa2);
    put_bytes(&b, "\x83\x04\x00\x00\x00\x01", 6);
    ctxl = ber_begin(&b, 0xa5);
    for (int i = 0; i < 2; i++) {
        x = ber_begin(&b, 0x30);
        put_bytes(&b, "\x80\x01\x00", 3);
        put_u8(&b, 0x81);
        put_u8(&b, sizeof OID_BER);
        put_bytes(&b, OID_BER, sizeof OID_BER);
        ber_end(&b, x);
    }
    ber_end(&b, ctxl);
    udf = ber_begin(&b, 0x61);
    pdv = ber_begin(&b, 0x30);
    ber_uint(&b, 0x02, 1);
    sa = ber_begin(&b, 0xa0);
    size_t aare = ber_begin(&b, 0x61);
    e = ber_begin(&b, 0xa1);
    put_oid(&b, OID_MMS_CTX, sizeof OID_MMS_CTX);
    ber_end(&b, e);
    e = ber_begin(&b, 0xa2);
    ber_uint(&b, 0x02, 0); /* accepted */
    ber_end(&b, e);
    e = ber_begin(&b, 0xa3);
    size_t e2 = ber_begin(&b, 0xa1);
    ber_uint(&b, 0x02, 0); /* acse-service-user: null */
    ber_end(&b, e2);
    ber_end(&b, e);
    e = ber_begin(&b, 0xa4);
    put_oid(&b, OID_AP, sizeof OID_AP);
    ber_end(&b, e);
    e = ber_begin(&b, 0xa5);
    ber_uint(&b, 0x02, 12);
    ber_end(&b, e);
    ui = ber_begin(&b, 0xbe);
    ext = ber_begin(&b, 0x28);
    ber_uint(&b, 0x02, 3);
    sat = ber_begin(&b, 0xa0);
    mms_init_detail(&b, 0xa9);
    ber_end(&b, sat);
    ber_end(&b, ext);
    ber_end(&b, ui);
    ber_end(&b, aare);
    ber_end(&b, sa);
    ber_end(&b, pdv);
    ber_end(&b, udf);
    ber_end(&b, nm);
    ber_end(&b, cp);
    if (b.n - ud - 1 > 254 || b.n - spdu - 1 > 254)
        return GP_ERR_RANGE;
    b.d[ud] = (uint8_t)(b.n - ud - 1);
    b.d[spdu] = (uint8_t)(b.n - spdu - 1);
    t += rtt_us(s, 2000, 8000);
    if ((rc = mms_send(s, c, true, t, &b)) != GP_OK)
        return rc;
    *done = t;
    return GP_OK;
}

static int mms_identify(struct gp_sim *s, struct mms_conn *c, gp_time t, gp_time *done)
{
    static struct gp_buf b;
    size_t o[3];
    int rc;
    uint32_t inv = c->invoke++;
    mms_dt_begin(&b, o);
    size_t r = ber_begin(&b, 0xa0);
    ber_uint(&b, 0x02, inv);
    put_u8(&b, 0x82); put_u8(&b, 0x00);
    ber_end(&b, r);
    mms_dt_end(&b, o);
    if ((rc = mms_send(s, c, false, t, &b)) != GP_OK)
        return rc;
    mms_dt_begin(&b, o);
    r = ber_begin(&b, 0xa1);
    ber_uint(&b, 0x02, inv);
    size_t id = ber_begin(&b, 0xa2);
    ber_str(&b, 0x80, c->ied->vendor);
    ber_str(&b, 0x81, c->ied->model);
    ber_str(&b, 0x82, c->ied->firmware);
    ber_end(&b, id);
    ber_end(&b, r);
    mms_dt_end(&b, o);
    t += rtt_us(s, 2000, 6000);
    if ((rc = mms_send(s, c, true, t, &b)) != GP_OK)
        return rc;
    *done = t;
    return GP_OK;
}

static int mms_read(struct gp_sim *s, struct mms_conn *c, gp_time t)
{
    static struct gp_buf b;
    size_t o[3];
    int rc;
    uint32_t inv = c->invoke++;
    int v = c->next;
    c->next = (c->next + 1) % c->nvars;
    mms_dt_begin(&b, o);
    size_t r = ber_begin(&b, 0xa0);
    ber_uint(&b, 0x02, inv);
    size_t rd = ber_begin(&b, 0xa4);
    size_t vas = ber_begin(&b, 0xa1);
    size_t lov = ber_begin(&b, 0xa0);
    size_t seq = ber_begin(&b, 0x30);
    size_t vs = ber_begin(&b, 0xa0);
    size_t ds = ber_begin(&b, 0xa1);
    ber_str(&b, 0x1a, c->domain);
    ber_str(&b, 0x1a, c->vars[v]);
    ber_end(&b, ds);
    ber_end(&b, vs);
    ber_end(&b, seq);
    ber_end(&b, lov);
    ber_end(&b, vas);
    ber_end(&b, rd);
    ber_end(&b, r);
    mms_dt_end(&b, o);
    if ((rc = mms_send(s, c, false, t, &b)) != GP_OK)
        return rc;
    uint32_t step = rng_below(&s->rng, 2001); /* -1 % .. +1 % */
    c->value[v] = (uint32_t)((uint64_t)c->value[v] * (99000u + step) / 100000u);
    if (c->value[v] < 1000)
        c->value[v] = 1000;
    float f = (float)c->value[v] / 1000.0f;
    uint32_t bits;
    memcpy(&bits, &f, 4);
    mms_dt_begin(&b, o);
    r = ber_begin(&b, 0xa1);
    ber_uint(&b, 0x02, inv);
    rd = ber_begin(&b, 0xa4);
    size_t lar = ber_begin(&b, 0xa1);
    put_u8(&b, 0x87); put_u8(&b, 5); put_u8(&b, 8); put_be32(&b, bits);
    ber_end(&b, lar);
    ber_end(&b, rd);
    ber_end(&b, r);
    mms_dt_end(&b, o);
    return mms_send(s, c, true, t + rtt_us(s, 1500, 5000), &b);
}

static int mms_step(struct gp_sim *s, struct gp_task *t)
{
    struct mms_conn *c = t->state;
    gp_time now = t->next;
    int rc;
    if (!c->tcp.open) {
        if ((rc = mms_associate(s, c, now, &now)) != GP_OK)
            return rc;
        if ((rc = mms_identify(s, c, now + GP_MS(3), &now)) != GP_OK)
            return rc;
        now += GP_MS(5);
    }
    if ((rc = mms_read(s, c, now)) != GP_OK)
        return rc;
    t->next = now + jitter(s, GP_SEC(2), 2);
    return GP_OK;
}

int gen_mms_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    struct gp_rng cfg;
    plant_rng(p, "mms", &cfg);
    for (int i = 0; i < p->nieds; i++) {
        struct mms_conn *c = gp_alloc(s, sizeof *c);
        if (!c)
            return GP_ERR_NOMEM;
        c->cli = p->scada;
        c->ied = p->ieds[i];
        snprintf(c->domain, sizeof c->domain, "IED%02dLD0", i + 1);
        int first = (int)rng_below(&cfg, 5);
        c->nvars = 2 + (int)rng_below(&cfg, 2);
        for (int k = 0; k < c->nvars; k++) {
            c->vars[k] = MMS_ITEMS[(first + k) % 5];
            c->value[k] = 1000u * (50u + rng_below(&cfg, 400));
        }
        c->invoke = rng_below(&s->rng, 1000);
        gp_time at = s->t0 + GP_SEC(2) + rng_below(&s->rng, (uint32_t)GP_SEC(4));
        if (!task_add(s, at, mms_step, c))
            return GP_ERR_NOMEM;
    }
    return GP_OK;
}
