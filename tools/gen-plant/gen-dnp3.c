/* gen-dnp3.c - DNP3 over TCP (port 20000): the SCADA server polling SEL RTUs.
 *
 * What it is for: one long-lived session per RTU. The master (SCADA server, link
 * address 1) does an integrity poll (class 0123) at connect and every 5 minutes,
 * event polls (class 1/2/3) every 2-5 s answered with binary/analog change events
 * or nothing, link status keep-alives, and the outstation sends unsolicited
 * responses that the master confirms. Link frames carry correct header and block
 * CRCs (CRC-16/DNP); transport and application sequence numbers advance properly.
 *
 * What it must never do: emit a frame whose length byte or any CRC is wrong, or
 * an object header whose qualifier/range disagrees with the data that follows.
 */
#include "gen.h"

#include <string.h>

#define DNP3_MASTER_ADDR 1

struct dnp3_sess {
    struct gp_tcp tcp;
    struct gp_host *master, *rtu;
    uint8_t m_tseq, o_tseq;   /* transport sequence, per direction */
    uint8_t m_aseq, o_useq;   /* application sequence: master requests, unsolicited */
    gp_time next_integrity, next_unsol, next_link;
    uint32_t polls;
    int32_t analog[6];
    uint8_t binary[8];
};

static uint16_t crc_table[256];

static void crc_init(void)
{
    if (crc_table[1])
        return;
    for (int i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (uint16_t)((c >> 1) ^ 0xA6BC) : (uint16_t)(c >> 1);
        crc_table[i] = c;
    }
}

static uint16_t dnp_crc(const uint8_t *p, size_t n)
{
    uint16_t c = 0;
    for (size_t i = 0; i < n; i++)
        c = (uint16_t)((c >> 8) ^ crc_table[(c ^ p[i]) & 0xff]);
    return (uint16_t)~c;
}

/* Wrap user data (transport header + application) into a link frame. */
static void link_frame(struct gp_buf *out, uint8_t ctrl, uint16_t dst, uint16_t src,
                       const uint8_t *ud, size_t n)
{
    uint8_t hdr[8] = {0x05, 0x64, (uint8_t)(5 + n), ctrl, (uint8_t)dst, (uint8_t)(dst >> 8),
                      (uint8_t)src, (uint8_t)(src >> 8)};
    buf_reset(out);
    put_bytes(out, hdr, 8);
    put_le16(out, dnp_crc(hdr, 8));
    for (size_t off = 0; off < n; off += 16) {
        size_t len = n - off > 16 ? 16 : n - off;
        put_bytes(out, ud + off, len);
        put_le16(out, dnp_crc(ud + off, len));
    }
}

static int send_app(struct gp_sim *s, struct dnp3_sess *d, bool from_rtu, gp_time t,
                    const struct gp_buf *app)
{
    static struct gp_buf ud, fr;
    if (app->n > 249)
        return GP_ERR_RANGE;
    buf_reset(&ud);
    uint8_t *tseq = from_rtu ? &d->o_tseq : &d->m_tseq;
    put_u8(&ud, (uint8_t)(0xC0 | (*tseq & 0x3f))); /* FIR|FIN */
    *tseq = (uint8_t)((*tseq + 1) & 0x3f);
    put_bytes(&ud, app->d, app->n);
    uint16_t rtu = d->rtu->unit_or_addr;
    if (from_rtu)
        link_frame(&fr, 0x44, DNP3_MASTER_ADDR, rtu, ud.d, ud.n);
    else
        link_frame(&fr, 0xC4, rtu, DNP3_MASTER_ADDR, ud.d, ud.n);
    if (fr.overflow)
        return GP_ERR_RANGE;
    return tcp_data(s, &d->tcp, from_rtu, t, fr.d, fr.n);
}

static int link_status(struct gp_sim *s, struct dnp3_sess *d, gp_time t, gp_time *done)
{
    static struct gp_buf fr;
    int rc;
    uint16_t rtu = d->rtu->unit_or_addr;
    link_frame(&fr, 0xC9, rtu, DNP3_MASTER_ADDR, NULL, 0); /* request link status */
    if ((rc = tcp_data(s, &d->tcp, false, t, fr.d, fr.n)) != GP_OK)
        return rc;
    link_frame(&fr, 0x0B, DNP3_MASTER_ADDR, rtu, NULL, 0); /* link status */
    t += rtt_us(s, 1000, 4000);
    *done = t;
    return tcp_data(s, &d->tcp, true, t, fr.d, fr.n);
}

static void process_tick(struct gp_sim *s, struct dnp3_sess *d)
{
    for (int i = 0; i < 6; i++)
        d->analog[i] += (int32_t)rng_below(&s->rng, 21) - 10;
}

/* DNP3 absolute time: ms since 1970, 48-bit little endian. */
static void put_dnp_time(struct gp_buf *b, gp_time t)
{
    uint64_t ms = t / 1000;
    for (int i = 0; i < 6; i++)
        put_u8(b, (uint8_t)(ms >> (8 * i)));
}

/* Event objects: n binary events (g2v2) and m analog events (g32v1). */
static void put_events(struct gp_sim *s, struct dnp3_sess *d, struct gp_buf *b, gp_time t, int nb,
                       int na)
{
    if (nb > 0) {
        put_u8(b, 2);
        put_u8(b, 2);
        put_u8(b, 0x17);
        put_u8(b, (uint8_t)nb);
        for (int i = 0; i < nb; i++) {
            uint8_t idx = (uint8_t)rng_below(&s->rng, 8);
            d->binary[idx] ^= 0x80;
            put_u8(b, idx);
            put_u8(b, (uint8_t)(0x01 | d->binary[idx]));
            put_dnp_time(b, t - GP_MS(rng_range(&s->rng, 5, 900)));
        }
    }
    if (na > 0) {
        put_u8(b, 32);
        put_u8(b, 1);
        put_u8(b, 0x17);
        put_u8(b, (uint8_t)na);
        for (int i = 0; i < na; i++) {
            uint8_t idx = (uint8_t)rng_below(&s->rng, 6);
            put_u8(b, idx);
            put_u8(b, 0x01);
            put_le32(b, (uint32_t)d->analog[idx]);
        }
    }
}

/* master request + outstation response (+ master confirm when asked). */
static int poll(struct gp_sim *s, struct dnp3_sess *d, gp_time t, bool integrity, gp_time *done)
{
    static struct gp_buf req, rsp;
    int rc;
    uint8_t aseq = d->m_aseq;
    d->m_aseq = (uint8_t)((d->m_aseq + 1) & 0x0f);
    buf_reset(&req);
    put_u8(&req, (uint8_t)(0xC0 | aseq));
    put_u8(&req, 0x01); /* READ */
    put_u8(&req, 60); put_u8(&req, 2); put_u8(&req, 0x06);
    put_u8(&req, 60); put_u8(&req, 3); put_u8(&req, 0x06);
    put_u8(&req, 60); put_u8(&req, 4); put_u8(&req, 0x06);
    if (integrity) {
        put_u8(&req, 60); put_u8(&req, 1); put_u8(&req, 0x06);
    }
    if ((rc = send_app(s, d, false, t, &req)) != GP_OK)
        return rc;

    process_tick(s, d);
    int nb = 0, na = 0;
    if (rng_chance(&s->rng, 300))
        nb = (int)rng_range(&s->rng, 1, 2);
    if (rng_chance(&s->rng, 500))
        na = (int)rng_range(&s->rng, 1, 3);
    bool confirm = nb + na > 0;
    buf_reset(&rsp);
    put_u8(&rsp, (uint8_t)(0xC0 | (confirm ? 0x20 : 0) | aseq));
    put_u8(&rsp, 0x81);
    put_u8(&rsp, 0x00); /* IIN1 */
    put_u8(&rsp, 0x00); /* IIN2 */
    t += rtt_us(s, 3000, 15000);
    put_events(s, d, &rsp, t, nb, na);
    if (integrity) {
        /* g1v2 binary inputs 0-7, g30v1 analog inputs 0-5 */
        put_u8(&rsp, 1); put_u8(&rsp, 2); put_u8(&rsp, 0x00); put_u8(&rsp, 0); put_u8(&rsp, 7);
        for (int i = 0; i < 8; i++)
            put_u8(&rsp, (uint8_t)(0x01 | d->binary[i]));
        put_u8(&rsp, 30); put_u8(&rsp, 1); put_u8(&rsp, 0x00); put_u8(&rsp, 0); put_u8(&rsp, 5);
        for (int i = 0; i < 6; i++) {
            put_u8(&rsp, 0x01);
            put_le32(&rsp, (uint32_t)d->analog[i]);
        }
    }
    if ((rc = send_app(s, d, true, t, &rsp)) != GP_OK)
        return rc;
    if (confirm) {
        buf_reset(&req);
        put_u8(&req, (uint8_t)(0xC0 | aseq));
        put_u8(&req, 0x00); /* CONFIRM */
        t += rtt_us(s, 500, 3000);
        if ((rc = send_app(s, d, false, t, &req)) != GP_OK)
            return rc;
    }
    *done = t;
    return GP_OK;
}

static int unsolicited(struct gp_sim *s, struct dnp3_sess *d, gp_time t, gp_time *done)
{
    static struct gp_buf rsp, cf;
    int rc;
    uint8_t useq = d->o_useq;
    d->o_useq = (uint8_t)((d->o_useq + 1) & 0x0f);
    process_tick(s, d);
    buf_reset(&rsp);
    put_u8(&rsp, (uint8_t)(0xF0 | useq)); /* FIR|FIN|CON|UNS */
    put_u8(&rsp, 0x82);
    put_u8(&rsp, 0x00);
    put_u8(&rsp, 0x00);
    int nb = (int)rng_range(&s->rng, 0, 2); /* one draw per statement: deterministic order */
    int na = (int)rng_range(&s->rng, 1, 3);
    put_events(s, d, &rsp, t, nb, na);
    if ((rc = send_app(s, d, true, t, &rsp)) != GP_OK)
        return rc;
    buf_reset(&cf);
    put_u8(&cf, (uint8_t)(0xD0 | useq)); /* FIR|FIN|UNS */
    put_u8(&cf, 0x00);
    t += rtt_us(s, 1000, 5000);
    *done = t;
    return send_app(s, d, false, t, &cf);
}

static int dnp3_step(struct gp_sim *s, struct gp_task *t)
{
    struct dnp3_sess *d = t->state;
    gp_time now = t->next;
    int rc;
    if (!d->tcp.open) {
        tcp_init(s, &d->tcp, d->master, d->rtu, 20000);
        if ((rc = tcp_connect(s, &d->tcp, now, &now)) != GP_OK)
            return rc;
        d->next_integrity = now + GP_MS(50);
        d->next_unsol = now + GP_SEC(rng_range(&s->rng, 5, 20));
        d->next_link = now + GP_SEC(30);
        t->next = now + GP_MS(50);
        return GP_OK;
    }
    gp_time start = now;
    if (now >= d->next_unsol) {
        if ((rc = unsolicited(s, d, now, &now)) != GP_OK)
            return rc;
        d->next_unsol = now + GP_SEC(rng_range(&s->rng, 8, 40));
        now += GP_MS(rng_range(&s->rng, 5, 50));
    } else if (now >= d->next_link) {
        if ((rc = link_status(s, d, now, &now)) != GP_OK)
            return rc;
        d->next_link = now + GP_SEC(30);
        now += GP_MS(rng_range(&s->rng, 5, 50));
    }
    bool integrity = now >= d->next_integrity;
    if (integrity)
        d->next_integrity = now + GP_SEC(300);
    if ((rc = poll(s, d, now, integrity, &now)) != GP_OK)
        return rc;
    if ((rc = tcp_ack(s, &d->tcp, false, now + GP_MS(200))) != GP_OK)
        return rc;
    d->polls++;
    t->next = start + GP_SEC(2) + rng_below(&s->rng, (uint32_t)GP_SEC(3));
    if (t->next <= now + GP_MS(201))
        t->next = now + GP_MS(300);
    return GP_OK;
}

int gen_dnp3_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    crc_init();
    for (int i = 0; i < p->nhosts; i++) {
        struct gp_host *h = &p->hosts[i];
        if (h->role != ROLE_RTU_DNP3)
            continue;
        struct dnp3_sess *d = gp_alloc(s, sizeof *d);
        if (!d)
            return GP_ERR_NOMEM;
        d->master = p->scada;
        d->rtu = h;
        d->m_aseq = (uint8_t)rng_below(&s->rng, 16);
        d->o_useq = (uint8_t)rng_below(&s->rng, 16);
        d->m_tseq = (uint8_t)rng_below(&s->rng, 64);
        d->o_tseq = (uint8_t)rng_below(&s->rng, 64);
        for (int k = 0; k < 6; k++)
            d->analog[k] = (int32_t)rng_range(&s->rng, 100, 5000);
        for (int k = 0; k < 8; k++)
            d->binary[k] = rng_chance(&s->rng, 500) ? 0x80 : 0;
        if (!task_add(s, s->t0 + rng_below(&s->rng, (uint32_t)GP_SEC(3)), dnp3_step, d))
            return GP_ERR_NOMEM;
    }
    return GP_OK;
}
