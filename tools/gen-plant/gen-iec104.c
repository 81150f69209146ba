/* gen-iec104.c - IEC 60870-5-104 (port 2404): the SCADA server and ABB RTUs.
 *
 * What it is for: one long-lived session per RTU: STARTDT act/con, a general
 * interrogation (C_IC_NA_1: activation, confirmation, single points and short
 * floats with cause "interrogated", termination) at start and every 15 minutes,
 * spontaneous measured values (M_ME_NC_1, M_SP_TB_1 with CP56Time2a) every few
 * seconds, S-frames acknowledging I-frames (after 8 or when t2 runs out) and
 * TESTFR act/con when the link is idle. Send/receive sequence numbers are kept
 * per direction exactly as the standard counts them.
 *
 * What it must never do: emit an APDU whose length byte disagrees with its
 * content, or an I-frame whose N(S)/N(R) do not follow the session.
 */
#include "gen.h"

#include <string.h>
#include <time.h>

struct iec_sess {
    struct gp_tcp tcp;
    struct gp_host *master, *rtu;
    uint16_t m_tx, m_rx;   /* master's N(S) and N(R) */
    uint16_t r_tx, r_rx;   /* RTU's */
    int r_unacked;         /* I-frames from RTU not yet acknowledged by master */
    gp_time last_rx_i;     /* time of oldest unacknowledged RTU I-frame */
    gp_time last_activity, next_gi;
    bool started;
    uint32_t meas[8];      /* float bits */
    uint8_t sp[8];
};

static int apdu_send(struct gp_sim *s, struct iec_sess *d, bool from_rtu, gp_time t,
                     const uint8_t *apci_ctrl, const struct gp_buf *asdu)
{
    static struct gp_buf b;
    buf_reset(&b);
    put_u8(&b, 0x68);
    put_u8(&b, (uint8_t)(4 + (asdu ? asdu->n : 0)));
    put_bytes(&b, apci_ctrl, 4);
    if (asdu)
        put_bytes(&b, asdu->d, asdu->n);
    if (b.overflow || b.n > 255)
        return GP_ERR_RANGE;
    d->last_activity = t;
    return tcp_data(s, &d->tcp, from_rtu, t, b.d, b.n);
}

static int u_frame(struct gp_sim *s, struct iec_sess *d, bool from_rtu, gp_time t, uint8_t c)
{
    uint8_t ctrl[4] = {c, 0, 0, 0};
    return apdu_send(s, d, from_rtu, t, ctrl, NULL);
}

static int i_frame(struct gp_sim *s, struct iec_sess *d, bool from_rtu, gp_time t,
                   const struct gp_buf *asdu)
{
    uint16_t tx = from_rtu ? d->r_tx : d->m_tx;
    uint16_t rx = from_rtu ? d->r_rx : d->m_rx;
    uint8_t ctrl[4] = {(uint8_t)(tx << 1), (uint8_t)(tx >> 7), (uint8_t)(rx << 1), (uint8_t)(rx >> 7)};
    int rc = apdu_send(s, d, from_rtu, t, ctrl, asdu);
    if (rc != GP_OK)
        return rc;
    if (from_rtu) {
        d->r_tx = (uint16_t)((d->r_tx + 1) & 0x7fff);
        d->m_rx = d->r_tx;
        if (d->r_unacked++ == 0)
            d->last_rx_i = t;
    } else {
        d->m_tx = (uint16_t)((d->m_tx + 1) & 0x7fff);
        d->r_rx = d->m_tx;
        d->r_unacked = 0; /* an I-frame carries N(R): acknowledges the RTU */
    }
    return GP_OK;
}

static int s_frame(struct gp_sim *s, struct iec_sess *d, gp_time t)
{
    uint8_t ctrl[4] = {0x01, 0x00, (uint8_t)(d->m_rx << 1), (uint8_t)(d->m_rx >> 7)};
    d->r_unacked = 0;
    return apdu_send(s, d, false, t, ctrl, NULL);
}

static void asdu_hdr(struct gp_buf *b, uint8_t type, uint8_t vsq, uint8_t cot, uint16_t ca)
{
    buf_reset(b);
    put_u8(b, type);
    put_u8(b, vsq);
    put_u8(b, cot);
    put_u8(b, 0); /* originator address */
    put_le16(b, ca);
}

static void put_cp56(struct gp_buf *b, gp_time t)
{
    time_t sec = (time_t)(t / 1000000u);
    struct tm tm;
    gmtime_r(&sec, &tm);
    uint16_t ms = (uint16_t)(tm.tm_sec * 1000 + (int)((t / 1000u) % 1000u));
    put_le16(b, ms);
    put_u8(b, (uint8_t)tm.tm_min);
    put_u8(b, (uint8_t)tm.tm_hour);
    int dow = tm.tm_wday == 0 ? 7 : tm.tm_wday;
    put_u8(b, (uint8_t)(tm.tm_mday | (dow << 5)));
    put_u8(b, (uint8_t)(tm.tm_mon + 1));
    put_u8(b, (uint8_t)(tm.tm_year % 100));
}

/* After an RTU I-frame: the master acknowledges with an S-frame once 8 are
 * outstanding (w = 8). */
static int maybe_ack(struct gp_sim *s, struct iec_sess *d, gp_time t)
{
    if (d->r_unacked >= 8)
        return s_frame(s, d, t + rtt_us(s, 200, 2000));
    return GP_OK;
}

static int interrogation(struct gp_sim *s, struct iec_sess *d, gp_time t, gp_time *done)
{
    static struct gp_buf a;
    uint16_t ca = d->rtu->unit_or_addr;
    int rc;
    asdu_hdr(&a, 100, 1, 6, ca); /* C_IC_NA_1 act */
    put_le24(&a, 0);
    put_u8(&a, 20);
    if ((rc = i_frame(s, d, false, t, &a)) != GP_OK)
        return rc;
    t += rtt_us(s, 2000, 8000);
    asdu_hdr(&a, 100, 1, 7, ca); /* actcon */
    put_le24(&a, 0);
    put_u8(&a, 20);
    if ((rc = i_frame(s, d, true, t, &a)) != GP_OK)
        return rc;
    /* single points, sequence of 8 from IOA 1001 */
    t += rtt_us(s, 1000, 4000);
    asdu_hdr(&a, 1, 0x80 | 8, 20, ca);
    put_le24(&a, 1001);
    for (int i = 0; i < 8; i++)
        put_u8(&a, d->sp[i]);
    if ((rc = i_frame(s, d, true, t, &a)) != GP_OK)
        return rc;
    /* short floats, sequence of 8 from IOA 2001 */
    t += rtt_us(s, 1000, 4000);
    asdu_hdr(&a, 13, 0x80 | 8, 20, ca);
    put_le24(&a, 2001);
    for (int i = 0; i < 8; i++) {
        put_le32(&a, d->meas[i]);
        put_u8(&a, 0x00); /* QDS */
    }
    if ((rc = i_frame(s, d, true, t, &a)) != GP_OK)
        return rc;
    t += rtt_us(s, 1000, 4000);
    asdu_hdr(&a, 100, 1, 10, ca); /* actterm */
    put_le24(&a, 0);
    put_u8(&a, 20);
    if ((rc = i_frame(s, d, true, t, &a)) != GP_OK)
        return rc;
    t += rtt_us(s, 300, 3000);
    if ((rc = s_frame(s, d, t)) != GP_OK)
        return rc;
    *done = t;
    return GP_OK;
}

/* a small float-bit random walk: stay within a plausible positive range */
static void drift(struct gp_sim *s, struct iec_sess *d, int i)
{
    uint32_t m = d->meas[i];
    int32_t delta = (int32_t)rng_below(&s->rng, 2001) - 1000;
    m = (uint32_t)((int32_t)(m & 0x7fffff) + delta) & 0x7fffff;
    d->meas[i] = (d->meas[i] & 0xff800000u) | m;
}

static int spontaneous(struct gp_sim *s, struct iec_sess *d, gp_time t, gp_time *done)
{
    static struct gp_buf a;
    uint16_t ca = d->rtu->unit_or_addr;
    int rc;
    if (rng_chance(&s->rng, 200)) {
        int i = (int)rng_below(&s->rng, 8);
        d->sp[i] ^= 1;
        asdu_hdr(&a, 30, 1, 3, ca); /* M_SP_TB_1 spontaneous */
        put_le24(&a, (uint32_t)(1001 + i));
        put_u8(&a, d->sp[i]);
        put_cp56(&a, t);
    } else {
        int n = (int)rng_range(&s->rng, 1, 3);
        asdu_hdr(&a, 13, (uint8_t)n, 3, ca); /* M_ME_NC_1 spontaneous */
        for (int k = 0; k < n; k++) {
            int i = (int)rng_below(&s->rng, 8);
            drift(s, d, i);
            put_le24(&a, (uint32_t)(2001 + i));
            put_le32(&a, d->meas[i]);
            put_u8(&a, 0x00);
        }
    }
    if ((rc = i_frame(s, d, true, t, &a)) != GP_OK)
        return rc;
    if ((rc = maybe_ack(s, d, t)) != GP_OK)
        return rc;
    *done = t;
    return GP_OK;
}

static int iec_step(struct gp_sim *s, struct gp_task *t)
{
    struct iec_sess *d = t->state;
    gp_time now = t->next;
    int rc;
    if (!d->tcp.open) {
        tcp_init(s, &d->tcp, d->master, d->rtu, 2404);
        if ((rc = tcp_connect(s, &d->tcp, now, &now)) != GP_OK)
            return rc;
        d->m_tx = d->m_rx = d->r_tx = d->r_rx = 0;
        d->r_unacked = 0;
        now += GP_MS(5);
        if ((rc = u_frame(s, d, false, now, 0x07)) != GP_OK) /* STARTDT act */
            return rc;
        now += rtt_us(s, 1000, 5000);
        if ((rc = u_frame(s, d, true, now, 0x0B)) != GP_OK) /* STARTDT con */
            return rc;
        d->next_gi = now + GP_MS(100);
        t->next = now + GP_MS(100);
        return GP_OK;
    }
    if (now >= d->next_gi) {
        if ((rc = interrogation(s, d, now, &now)) != GP_OK)
            return rc;
        d->next_gi = now + GP_SEC(900);
        t->next = now + GP_SEC(rng_range(&s->rng, 1, 4));
        return GP_OK;
    }
    /* t2 (10 s): acknowledge outstanding I-frames */
    if (d->r_unacked > 0 && now >= d->last_rx_i + GP_SEC(10)) {
        if ((rc = s_frame(s, d, now)) != GP_OK)
            return rc;
    }
    /* t3 (20 s) idle: TESTFR; this RTU is quiet one cycle in ten */
    if (rng_chance(&s->rng, 100)) {
        gp_time idle = d->last_activity + GP_SEC(20);
        if (idle < now)
            idle = now;
        if ((rc = u_frame(s, d, false, idle, 0x43)) != GP_OK)
            return rc;
        if ((rc = u_frame(s, d, true, idle + rtt_us(s, 1000, 4000), 0x83)) != GP_OK)
            return rc;
        t->next = idle + GP_SEC(1);
        return GP_OK;
    }
    if ((rc = spontaneous(s, d, now, &now)) != GP_OK)
        return rc;
    t->next = now + GP_MS(rng_range(&s->rng, 800, 5000));
    return GP_OK;
}

int gen_iec104_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    for (int i = 0; i < p->nhosts; i++) {
        struct gp_host *h = &p->hosts[i];
        if (h->role != ROLE_RTU_IEC104)
            continue;
        struct iec_sess *d = gp_alloc(s, sizeof *d);
        if (!d)
            return GP_ERR_NOMEM;
        d->master = p->scada;
        d->rtu = h;
        for (int k = 0; k < 8; k++) {
            /* floats between ~10 and ~500: exponent 130..135 */
            uint32_t e = 130 + rng_below(&s->rng, 6);
            d->meas[k] = (e << 23) | (uint32_t)(rng_next(&s->rng) & 0x7fffff);
            d->sp[k] = (uint8_t)rng_below(&s->rng, 2);
        }
        if (!task_add(s, s->t0 + rng_below(&s->rng, (uint32_t)GP_SEC(3)), iec_step, d))
            return GP_ERR_NOMEM;
    }
    return GP_OK;
}
