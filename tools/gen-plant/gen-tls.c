/* gen-tls.c - TLS 1.2 (TCP 443): an HMI opens the S7 PLC's HTTPS web server.
 *
 * What it is for: every 30 s hmi02 (or hmi01) connects to the first S7 PLC on
 * 443: ClientHello with SNI (the PLC's FQDN), ServerHello (TLS_RSA_WITH_AES_128_
 * GCM_SHA256), Certificate, ServerHelloDone, then ClientKeyExchange,
 * ChangeCipherSpec and the encrypted Finished both ways, a few application data
 * records and an encrypted close_notify. The certificate is a well-formed X.509 v3
 * DER structure (serial, sha256WithRSAEncryption, issuer, validity, subject CN =
 * the PLC's FQDN, a 2048-bit RSA key, subjectAltName, basicConstraints) built once
 * per plant from the plant's stream; its key and signature bytes are random (no
 * one verifies them).
 *
 * What it must never do: emit a record, handshake or DER length that disagrees
 * with the bytes, or change the certificate between captures of the same plant.
 */
#include "gen.h"

#include <stdio.h>
#include <string.h>

struct tls_state {
    struct gp_tcp tcp;
    struct gp_host *cli, *srv;
    char fqdn[64];
    struct gp_buf cert;
};

static const uint8_t TLS_OID_SHA256RSA[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};
static const uint8_t TLS_OID_RSA[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};

static void tls_alg(struct gp_buf *b, const uint8_t *oid, size_t n)
{
    size_t o = ber_begin(b, 0x30);
    put_u8(b, 0x06);
    put_u8(b, (uint8_t)n);
    put_bytes(b, oid, n);
    put_u8(b, 0x05);
    put_u8(b, 0x00);
    ber_end(b, o);
}

static void tls_rdn(struct gp_buf *b, uint8_t attr, uint8_t strtag, const char *v)
{
    size_t set = ber_begin(b, 0x31);
    size_t seq = ber_begin(b, 0x30);
    put_u8(b, 0x06); put_u8(b, 3); put_u8(b, 0x55); put_u8(b, 0x04); put_u8(b, attr);
    ber_str(b, strtag, v);
    ber_end(b, seq);
    ber_end(b, set);
}

static void tls_name(struct gp_buf *b, const char *o, const char *cn)
{
    size_t n = ber_begin(b, 0x30);
    tls_rdn(b, 0x06, 0x13, "DE");
    tls_rdn(b, 0x0a, 0x0c, o);
    tls_rdn(b, 0x03, 0x0c, cn);
    ber_end(b, n);
}

static void tls_random(struct gp_rng *r, struct gp_buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_u8(b, (uint8_t)rng_next(r));
}

static void tls_make_cert(struct tls_state *st, struct gp_rng *r)
{
    struct gp_buf *b = &st->cert;
    buf_reset(b);
    size_t cert = ber_begin(b, 0x30);
    size_t tbs = ber_begin(b, 0x30);
    size_t v = ber_begin(b, 0xa0);
    ber_uint(b, 0x02, 2);
    ber_end(b, v);
    size_t ser = ber_begin(b, 0x02);
    put_u8(b, (uint8_t)(0x01 + rng_below(r, 0x7f)));
    tls_random(r, b, 15);
    ber_end(b, ser);
    tls_alg(b, TLS_OID_SHA256RSA, sizeof TLS_OID_SHA256RSA);
    tls_name(b, "Siemens", "S7 Web Server CA");
    size_t val = ber_begin(b, 0x30);
    ber_str(b, 0x17, "250312091500Z");
    ber_str(b, 0x17, "450312091500Z");
    ber_end(b, val);
    tls_name(b, "Plant Operations", st->fqdn);
    size_t spki = ber_begin(b, 0x30);
    tls_alg(b, TLS_OID_RSA, sizeof TLS_OID_RSA);
    size_t bits = ber_begin(b, 0x03);
    put_u8(b, 0);
    size_t rsa = ber_begin(b, 0x30);
    size_t mod = ber_begin(b, 0x02);
    put_u8(b, 0x00);
    put_u8(b, (uint8_t)(0x80 | rng_below(r, 0x80)));
    tls_random(r, b, 254);
    put_u8(b, (uint8_t)(rng_next(r) | 1)); /* odd */
    ber_end(b, mod);
    ber_uint(b, 0x02, 65537);
    ber_end(b, rsa);
    ber_end(b, bits);
    ber_end(b, spki);
    size_t exts = ber_begin(b, 0xa3);
    size_t el = ber_begin(b, 0x30);
    size_t e = ber_begin(b, 0x30);
    put_bytes(b, "\x06\x03\x55\x1d\x11", 5); /* subjectAltName */
    size_t os = ber_begin(b, 0x04);
    size_t gn = ber_begin(b, 0x30);
    ber_str(b, 0x82, st->fqdn);
    put_u8(b, 0x87);
    put_u8(b, 4);
    put_be32(b, st->srv->ip);
    ber_end(b, gn);
    ber_end(b, os);
    ber_end(b, e);
    e = ber_begin(b, 0x30);
    put_bytes(b, "\x06\x03\x55\x1d\x13", 5); /* basicConstraints: not a CA */
    put_bytes(b, "\x04\x02\x30\x00", 4);
    ber_end(b, e);
    ber_end(b, el);
    ber_end(b, exts);
    ber_end(b, tbs);
    tls_alg(b, TLS_OID_SHA256RSA, sizeof TLS_OID_SHA256RSA);
    size_t sig = ber_begin(b, 0x03);
    put_u8(b, 0);
    tls_random(r, b, 256);
    ber_end(b, sig);
    ber_end(b, cert);
}

/* record header; returns the offset of its length */
static size_t tls_rec(struct gp_buf *b, uint8_t type, uint16_t ver)
{
    put_u8(b, type);
    put_be16(b, ver);
    put_be16(b, 0);
    return b->n;
}

static void tls_rec_end(struct gp_buf *b, size_t o)
{
    set_be16(b, o - 2, (uint16_t)(b->n - o));
}

static size_t tls_hs(struct gp_buf *b, uint8_t type)
{
    put_u8(b, type);
    put_be24(b, 0);
    return b->n;
}

static void tls_hs_end(struct gp_buf *b, size_t o)
{
    uint32_t n = (uint32_t)(b->n - o);
    b->d[o - 3] = (uint8_t)(n >> 16);
    b->d[o - 2] = (uint8_t)(n >> 8);
    b->d[o - 1] = (uint8_t)n;
}

static int tls_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    struct tls_state *st = t->state;
    gp_time now = t->next;
    int rc;
    t->next = now + jitter(s, GP_SEC(30), 5);
    tcp_init(s, &st->tcp, st->cli, st->srv, 443);
    if ((rc = tcp_connect(s, &st->tcp, now, &now)) != GP_OK)
        return rc;

    /* ClientHello */
    buf_reset(&b);
    size_t r = tls_rec(&b, 22, 0x0301);
    size_t h = tls_hs(&b, 1);
    put_be16(&b, 0x0303);
    tls_random(&s->rng, &b, 32);
    put_u8(&b, 0);
    put_be16(&b, 12);
    put_bytes(&b, "\xc0\x2f\xc0\x30\x00\x9c\x00\x9d\x00\x2f\x00\x35", 12);
    put_u8(&b, 1);
    put_u8(&b, 0);
    size_t el = b.n;
    put_be16(&b, 0);
    size_t nl = strlen(st->fqdn);
    put_be16(&b, 0x0000);
    put_be16(&b, (uint16_t)(nl + 5));
    put_be16(&b, (uint16_t)(nl + 3));
    put_u8(&b, 0);
    put_be16(&b, (uint16_t)nl);
    put_str(&b, st->fqdn);
    put_bytes(&b, "\x00\x0a\x00\x06\x00\x04\x00\x17\x00\x18", 10);
    put_bytes(&b, "\x00\x0b\x00\x02\x01\x00", 6);
    put_bytes(&b, "\x00\x0d\x00\x10\x00\x0e\x04\x01\x05\x01\x06\x01\x04\x03\x05\x03\x08\x04\x08\x05", 20);
    put_bytes(&b, "\x00\x17\x00\x00", 4);
    put_bytes(&b, "\xff\x01\x00\x01\x00", 5);
    set_be16(&b, el, (uint16_t)(b.n - el - 2));
    tls_hs_end(&b, h);
    tls_rec_end(&b, r);
    now += GP_MS(1);
    if ((rc = tcp_data(s, &st->tcp, false, now, b.d, b.n)) != GP_OK)
        return rc;

    /* ServerHello, Certificate, ServerHelloDone */
    buf_reset(&b);
    r = tls_rec(&b, 22, 0x0303);
    h = tls_hs(&b, 2);
    put_be16(&b, 0x0303);
    tls_random(&s->rng, &b, 32);
    put_u8(&b, 32);
    tls_random(&s->rng, &b, 32);
    put_be16(&b, 0x009c);
    put_u8(&b, 0);
    put_be16(&b, 9);
    put_bytes(&b, "\xff\x01\x00\x01\x00", 5);
    put_bytes(&b, "\x00\x17\x00\x00", 4);
    tls_hs_end(&b, h);
    h = tls_hs(&b, 11);
    put_be24(&b, (uint32_t)(st->cert.n + 3));
    put_be24(&b, (uint32_t)st->cert.n);
    put_bytes(&b, st->cert.d, st->cert.n);
    tls_hs_end(&b, h);
    tls_hs(&b, 14);
    tls_rec_end(&b, r);
    if (b.overflow)
        return GP_ERR_RANGE;
    now += rtt_us(s, 3000, 12000);
    if ((rc = tcp_data_split(s, &st->tcp, true, now, b.d, b.n, 0, 40)) != GP_OK)
        return rc;

    /* ClientKeyExchange, ChangeCipherSpec, Finished */
    buf_reset(&b);
    r = tls_rec(&b, 22, 0x0303);
    h = tls_hs(&b, 16);
    put_be16(&b, 256);
    tls_random(&s->rng, &b, 256);
    tls_hs_end(&b, h);
    tls_rec_end(&b, r);
    put_bytes(&b, "\x14\x03\x03\x00\x01\x01", 6);
    r = tls_rec(&b, 22, 0x0303);
    tls_random(&s->rng, &b, 40);
    tls_rec_end(&b, r);
    now += GP_MS(2) + rng_below(&s->rng, 2000);
    if ((rc = tcp_data(s, &st->tcp, false, now, b.d, b.n)) != GP_OK)
        return rc;
    buf_reset(&b);
    put_bytes(&b, "\x14\x03\x03\x00\x01\x01", 6);
    r = tls_rec(&b, 22, 0x0303);
    tls_random(&s->rng, &b, 40);
    tls_rec_end(&b, r);
    now += rtt_us(s, 8000, 25000);
    if ((rc = tcp_data(s, &st->tcp, true, now, b.d, b.n)) != GP_OK)
        return rc;

    /* a page request and its answer */
    buf_reset(&b);
    r = tls_rec(&b, 23, 0x0303);
    tls_random(&s->rng, &b, 24 + 380 + rng_below(&s->rng, 60));
    tls_rec_end(&b, r);
    now += GP_MS(1) + rng_below(&s->rng, 1000);
    if ((rc = tcp_data(s, &st->tcp, false, now, b.d, b.n)) != GP_OK)
        return rc;
    buf_reset(&b);
    r = tls_rec(&b, 23, 0x0303);
    tls_random(&s->rng, &b, 24 + 2200 + rng_below(&s->rng, 400));
    tls_rec_end(&b, r);
    now += rtt_us(s, 10000, 40000);
    if ((rc = tcp_data_split(s, &st->tcp, true, now, b.d, b.n, 0, 30)) != GP_OK)
        return rc;
    now += GP_MS(1);
    if ((rc = tcp_ack(s, &st->tcp, false, now)) != GP_OK)
        return rc;

    /* encrypted close_notify, then FIN */
    buf_reset(&b);
    r = tls_rec(&b, 21, 0x0303);
    tls_random(&s->rng, &b, 26);
    tls_rec_end(&b, r);
    now += GP_SEC(3) + rng_below(&s->rng, (uint32_t)GP_SEC(2));
    if ((rc = tcp_data(s, &st->tcp, false, now, b.d, b.n)) != GP_OK)
        return rc;
    return tcp_close(s, &st->tcp, false, now + GP_MS(1), &now);
}

int gen_tls_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    struct gp_host *plc = NULL;
    for (int i = 0; i < p->nhosts && !plc; i++)
        if (p->hosts[i].role == ROLE_PLC_S7)
            plc = &p->hosts[i];
    if (!plc)
        return GP_OK;
    struct tls_state *st = gp_alloc(s, sizeof *st);
    if (!st)
        return GP_ERR_NOMEM;
    struct gp_rng cfg;
    plant_rng(p, "tls", &cfg);
    st->cli = p->hmis[p->nhmis > 1 ? 1 : 0];
    st->srv = plc;
    snprintf(st->fqdn, sizeof st->fqdn, "%s.%s", plc->name, p->domain);
    tls_make_cert(st, &cfg);
    if (st->cert.overflow)
        return GP_ERR_RANGE;
    gp_time first = s->t0 + GP_SEC(2) + rng_below(&s->rng, (uint32_t)GP_SEC(10));
    return task_add(s, first, tls_step, st) ? GP_OK : GP_ERR_NOMEM;
}
