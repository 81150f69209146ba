/* gen-s7comm.c - Siemens S7comm over ISO-on-TCP (TPKT/COTP, port 102).
 *
 * What it is for:
 *  - each S7 PLC is read by an HMI over a long-lived connection: COTP CR/CC,
 *    Setup Communication, then Read Var (DB and marker areas) every 500 ms and an
 *    occasional Write Var;
 *  - the engineering station reads SZL 0x0011 (module identification: order
 *    number, hardware, firmware) and 0x001c (component identification: names,
 *    serial number) from one PLC a minute on a fresh connection;
 *  - gen_s7_attack(): PLC STOP (function 0x29) and a block download of OB1
 *    (request download 0x1a, download block 0x1b, download ended 0x1c).
 *
 * What it must never do: emit a TPKT/COTP/S7 length that disagrees with the bytes
 * that follow, or a parameter/data layout that tshark's s7comm dissector would not
 * parse to its end.
 */
#include "gen.h"

#include <string.h>

struct s7_conn {
    struct gp_tcp tcp;
    uint16_t pduref;
};

struct s7_poll {
    struct s7_conn c;
    struct gp_host *cli, *plc;
    gp_time period, session_end, next_write;
    uint16_t db;
    uint32_t writes;
};

struct s7_sweep {
    struct gp_host *eng;
    struct gp_host *plcs[128];
    int nplcs, next;
};

/* TPKT + COTP DT header; returns offset of the TPKT length to fix up. */
static size_t tpkt_dt_begin(struct gp_buf *b)
{
    size_t off = b->n;
    put_u8(b, 3);
    put_u8(b, 0);
    put_be16(b, 0);
    put_u8(b, 2);    /* COTP length indicator */
    put_u8(b, 0xF0); /* DT */
    put_u8(b, 0x80); /* EOT, TPDU 0 */
    return off;
}

static void tpkt_end(struct gp_buf *b, size_t off)
{
    set_be16(b, off + 2, (uint16_t)(b->n - off));
}

/* S7 header; plen/dlen patched by s7_end. Returns header offset. */
static size_t s7_begin(struct gp_buf *b, uint8_t rosctr, uint16_t pduref)
{
    size_t off = b->n;
    put_u8(b, 0x32);
    put_u8(b, rosctr);
    put_be16(b, 0);
    put_be16(b, pduref);
    put_be16(b, 0);
    put_be16(b, 0);
    if (rosctr == 2 || rosctr == 3) {
        put_u8(b, 0); /* error class */
        put_u8(b, 0); /* error code */
    }
    return off;
}

static void s7_end(struct gp_buf *b, size_t off, size_t param_start, size_t data_start)
{
    set_be16(b, off + 6, (uint16_t)(data_start - param_start));
    set_be16(b, off + 8, (uint16_t)(b->n - data_start));
}

static int s7_send(struct gp_sim *s, struct s7_conn *c, bool from_plc, gp_time t, struct gp_buf *b)
{
    if (b->overflow)
        return GP_ERR_RANGE;
    return tcp_data(s, &c->tcp, from_plc, t, b->d, b->n);
}

static int s7_connect(struct gp_sim *s, struct s7_conn *c, struct gp_host *cli,
                      struct gp_host *plc, gp_time t, gp_time *done)
{
    static struct gp_buf b;
    int rc;
    bool s1500 = strstr(plc->model, "151") || strstr(plc->model, "121");
    uint16_t src_ref = (uint16_t)rng_range(&s->rng, 1, 0xfff0);
    uint16_t dst_tsap = s1500 ? 0x0101 : 0x0102; /* rack 0 slot 1 / slot 2 */
    tcp_init(s, &c->tcp, cli, plc, 102);
    if ((rc = tcp_connect(s, &c->tcp, t, &t)) != GP_OK)
        return rc;
    c->pduref = (uint16_t)rng_range(&s->rng, 1, 0x7fff);

    /* COTP connection request */
    buf_reset(&b);
    put_u8(&b, 3);
    put_u8(&b, 0);
    put_be16(&b, 22);
    put_u8(&b, 17);
    put_u8(&b, 0xE0);
    put_be16(&b, 0x0000);
    put_be16(&b, src_ref);
    put_u8(&b, 0x00);
    put_u8(&b, 0xC1); put_u8(&b, 2); put_be16(&b, 0x0100); /* calling TSAP: PG/PC */
    put_u8(&b, 0xC2); put_u8(&b, 2); put_be16(&b, dst_tsap);
    put_u8(&b, 0xC0); put_u8(&b, 1); put_u8(&b, 0x0A); /* TPDU size 1024 */
    t += GP_MS(1);
    if ((rc = s7_send(s, c, false, t, &b)) != GP_OK)
        return rc;
    /* COTP connection confirm */
    uint16_t plc_ref = (uint16_t)rng_range(&s->rng, 1, 0xfff0);
    buf_reset(&b);
    put_u8(&b, 3);
    put_u8(&b, 0);
    put_be16(&b, 22);
    put_u8(&b, 17);
    put_u8(&b, 0xD0);
    put_be16(&b, src_ref);
    put_be16(&b, plc_ref);
    put_u8(&b, 0x00);
    put_u8(&b, 0xC0); put_u8(&b, 1); put_u8(&b, 0x0A);
    put_u8(&b, 0xC1); put_u8(&b, 2); put_be16(&b, 0x0100);
    put_u8(&b, 0xC2); put_u8(&b, 2); put_be16(&b, dst_tsap);
    t += rtt_us(s, 800, 3000);
    if ((rc = s7_send(s, c, true, t, &b)) != GP_OK)
        return rc;

    /* Setup communication */
    for (int dir = 0; dir < 2; dir++) {
        buf_reset(&b);
        size_t tp = tpkt_dt_begin(&b);
        size_t h = s7_begin(&b, dir ? 3 : 1, c->pduref);
        size_t ps = b.n;
        put_u8(&b, 0xF0);
        put_u8(&b, 0);
        put_be16(&b, 1);
        put_be16(&b, 1);
        put_be16(&b, dir ? (s1500 ? 960 : 240) : 960);
        s7_end(&b, h, ps, b.n);
        tpkt_end(&b, tp);
        t += dir ? rtt_us(s, 1500, 5000) : GP_MS(1);
        if ((rc = s7_send(s, c, dir == 1, t, &b)) != GP_OK)
            return rc;
    }
    c->pduref++;
    *done = t;
    return GP_OK;
}

/* Read Var of n items (DB byte ranges) and the PLC's answer. */
static int s7_read(struct gp_sim *s, struct s7_conn *c, struct gp_host *plc, gp_time t,
                   uint16_t db, gp_time *done)
{
    static struct gp_buf b;
    static const struct { uint8_t area; uint16_t len; uint32_t byte; } items[] = {
        {0x84, 20, 0}, {0x84, 8, 100}, {0x83, 4, 10}, {0x81, 3, 0},
    };
    const int n = 4;
    int rc;
    buf_reset(&b);
    size_t tp = tpkt_dt_begin(&b);
    size_t h = s7_begin(&b, 1, c->pduref);
    size_t ps = b.n;
    put_u8(&b, 0x04);
    put_u8(&b, (uint8_t)n);
    for (int i = 0; i < n; i++) {
        put_u8(&b, 0x12);
        put_u8(&b, 0x0A);
        put_u8(&b, 0x10);
        put_u8(&b, 0x02); /* BYTE */
        put_be16(&b, items[i].len);
        put_be16(&b, items[i].area == 0x84 ? db : 0);
        put_u8(&b, items[i].area);
        put_be24(&b, items[i].byte * 8);
    }
    s7_end(&b, h, ps, b.n);
    tpkt_end(&b, tp);
    if ((rc = s7_send(s, c, false, t, &b)) != GP_OK)
        return rc;

    buf_reset(&b);
    tp = tpkt_dt_begin(&b);
    h = s7_begin(&b, 3, c->pduref);
    ps = b.n;
    put_u8(&b, 0x04);
    put_u8(&b, (uint8_t)n);
    size_t ds = b.n;
    for (int i = 0; i < n; i++) {
        put_u8(&b, 0xFF);
        put_u8(&b, 0x04); /* BYTE/WORD/DWORD: length in bits */
        put_be16(&b, (uint16_t)(items[i].len * 8));
        for (int k = 0; k < items[i].len; k++) {
            uint16_t v = plc->regs[(items[i].byte + (uint32_t)k / 2) % 128];
            if (items[i].byte < 100) {
                plc->rng_state = plc->rng_state * 1103515245u + 12345u;
                v = (uint16_t)(v + ((plc->rng_state >> 16) & 3));
            }
            put_u8(&b, (uint8_t)(k & 1 ? v : v >> 8));
        }
        if ((items[i].len & 1) && i != n - 1)
            put_u8(&b, 0x00); /* fill byte */
    }
    s7_end(&b, h, ps, ds);
    tpkt_end(&b, tp);
    c->pduref++;
    t += rtt_us(s, 2000, 9000);
    *done = t;
    return s7_send(s, c, true, t, &b);
}

static int s7_write(struct gp_sim *s, struct s7_conn *c, gp_time t, uint16_t db, uint32_t byte,
                    uint16_t value, gp_time *done)
{
    static struct gp_buf b;
    int rc;
    buf_reset(&b);
    size_t tp = tpkt_dt_begin(&b);
    size_t h = s7_begin(&b, 1, c->pduref);
    size_t ps = b.n;
    put_u8(&b, 0x05);
    put_u8(&b, 1);
    put_u8(&b, 0x12);
    put_u8(&b, 0x0A);
    put_u8(&b, 0x10);
    put_u8(&b, 0x04); /* WORD */
    put_be16(&b, 1);
    put_be16(&b, db);
    put_u8(&b, 0x84);
    put_be24(&b, byte * 8);
    size_t ds = b.n;
    put_u8(&b, 0x00);
    put_u8(&b, 0x04);
    put_be16(&b, 16);
    put_be16(&b, value);
    s7_end(&b, h, ps, ds);
    tpkt_end(&b, tp);
    if ((rc = s7_send(s, c, false, t, &b)) != GP_OK)
        return rc;
    buf_reset(&b);
    tp = tpkt_dt_begin(&b);
    h = s7_begin(&b, 3, c->pduref);
    ps = b.n;
    put_u8(&b, 0x05);
    put_u8(&b, 1);
    ds = b.n;
    put_u8(&b, 0xFF);
    s7_end(&b, h, ps, ds);
    tpkt_end(&b, tp);
    c->pduref++;
    t += rtt_us(s, 2000, 8000);
    *done = t;
    return s7_send(s, c, true, t, &b);
}

/* SZL read request/response (userdata, CPU functions, read SZL). */
static int s7_szl(struct gp_sim *s, struct s7_conn *c, struct gp_host *plc, gp_time t,
                  uint16_t szl_id, gp_time *done)
{
    static struct gp_buf b;
    int rc;
    uint8_t seq = (uint8_t)rng_range(&s->rng, 1, 200);
    buf_reset(&b);
    size_t tp = tpkt_dt_begin(&b);
    size_t h = s7_begin(&b, 7, c->pduref);
    size_t ps = b.n;
    put_be24(&b, 0x000112);
    put_u8(&b, 4);
    put_u8(&b, 0x11);
    put_u8(&b, 0x44); /* request, CPU functions */
    put_u8(&b, 0x01); /* read SZL */
    put_u8(&b, 0x00);
    size_t ds = b.n;
    put_u8(&b, 0xFF);
    put_u8(&b, 0x09);
    put_be16(&b, 4);
    put_be16(&b, szl_id);
    put_be16(&b, 0x0000);
    s7_end(&b, h, ps, ds);
    tpkt_end(&b, tp);
    if ((rc = s7_send(s, c, false, t, &b)) != GP_OK)
        return rc;

    buf_reset(&b);
    tp = tpkt_dt_begin(&b);
    h = s7_begin(&b, 7, c->pduref);
    ps = b.n;
    put_be24(&b, 0x000112);
    put_u8(&b, 8);
    put_u8(&b, 0x12);
    put_u8(&b, 0x84); /* response, CPU functions */
    put_u8(&b, 0x01);
    put_u8(&b, seq);
    put_u8(&b, 0x00); /* data unit reference */
    put_u8(&b, 0x00); /* last data unit */
    put_be16(&b, 0x0000);
    ds = b.n;
    put_u8(&b, 0xFF);
    put_u8(&b, 0x09);
    size_t lenpos = b.n;
    put_be16(&b, 0);
    put_be16(&b, szl_id);
    put_be16(&b, 0x0000);
    if (szl_id == 0x0011) {
        unsigned maj = 0, min = 0, pat = 0;
        const char *f = plc->firmware + 1; /* "V3.2.17" */
        while (*f >= '0' && *f <= '9') maj = maj * 10 + (unsigned)(*f++ - '0');
        if (*f == '.') f++;
        while (*f >= '0' && *f <= '9') min = min * 10 + (unsigned)(*f++ - '0');
        if (*f == '.') f++;
        while (*f >= '0' && *f <= '9') pat = pat * 10 + (unsigned)(*f++ - '0');
        put_be16(&b, 28);
        put_be16(&b, 3);
        put_be16(&b, 0x0001); /* module */
        put_padstr(&b, plc->order_no, 20, ' ');
        put_be16(&b, 0x0000);
        put_be16(&b, 0x0000);
        put_be16(&b, 0x0001);
        put_be16(&b, 0x0006); /* basic hardware */
        put_padstr(&b, plc->order_no, 20, ' ');
        put_be16(&b, 0x0000);
        put_be16(&b, 0x0000);
        put_be16(&b, 0x0001);
        put_be16(&b, 0x0007); /* basic firmware */
        put_padstr(&b, "", 20, ' ');
        put_be16(&b, 0x0000);
        put_be16(&b, (uint16_t)(0x5600 | (maj & 0xff)));
        put_be16(&b, (uint16_t)(((min & 0xff) << 8) | (pat & 0xff)));
    } else { /* 0x001c component identification */
        static const uint16_t idx[] = {1, 2, 3, 4, 5, 7};
        const char *val[6];
        val[0] = strstr(plc->model, "CPU 3") ? "SIMATIC 300(1)" : "S7-1500/ET200MP station_1";
        val[1] = plc->name;
        val[2] = "LINE2-PUMPS";
        val[3] = "Original Siemens Equipment";
        val[4] = plc->serial;
        val[5] = plc->model;
        put_be16(&b, 34);
        put_be16(&b, 6);
        for (int i = 0; i < 6; i++) {
            put_be16(&b, idx[i]);
            put_padstr(&b, val[i], 32, '\0');
        }
    }
    set_be16(&b, lenpos, (uint16_t)(b.n - lenpos - 2));
    s7_end(&b, h, ps, ds);
    tpkt_end(&b, tp);
    c->pduref++;
    t += rtt_us(s, 3000, 12000);
    *done = t;
    return s7_send(s, c, true, t, &b);
}

static int poll_step(struct gp_sim *s, struct gp_task *t)
{
    struct s7_poll *p = t->state;
    gp_time now = t->next;
    int rc;
    if (!p->c.tcp.open) {
        if ((rc = s7_connect(s, &p->c, p->cli, p->plc, now, &now)) != GP_OK)
            return rc;
        p->session_end = now + GP_SEC(rng_range(&s->rng, 120, 1200));
        t->next = now + GP_MS(20);
        return GP_OK;
    }
    if (now >= p->session_end) {
        if ((rc = tcp_close(s, &p->c.tcp, false, now, &now)) != GP_OK)
            return rc;
        t->next = now + GP_MS(rng_range(&s->rng, 500, 4000));
        return GP_OK;
    }
    gp_time start = now;
    if ((rc = s7_read(s, &p->c, p->plc, now, p->db, &now)) != GP_OK)
        return rc;
    if (now >= p->next_write) {
        now += rtt_us(s, 300, 1500);
        if ((rc = s7_write(s, &p->c, now, p->db, 100 + 2 * (p->writes++ % 2),
                           (uint16_t)rng_range(&s->rng, 100, 900), &now)) != GP_OK)
            return rc;
        p->next_write = now + GP_SEC(rng_range(&s->rng, 30, 120));
    }
    t->next = start + jitter(s, p->period, 2);
    if (t->next > now + GP_MS(210)) {
        if ((rc = tcp_ack(s, &p->c.tcp, false, now + GP_MS(200))) != GP_OK)
            return rc;
    }
    if (t->next <= now)
        t->next = now + GP_MS(1);
    return GP_OK;
}

static int sweep_step(struct gp_sim *s, struct gp_task *t)
{
    struct s7_sweep *w = t->state;
    gp_time now = t->next;
    int rc;
    struct s7_conn c;
    struct gp_host *plc = w->plcs[w->next++ % w->nplcs];
    if ((rc = s7_connect(s, &c, w->eng, plc, now, &now)) != GP_OK)
        return rc;
    now += GP_MS(rng_range(&s->rng, 5, 30));
    if ((rc = s7_szl(s, &c, plc, now, 0x0011, &now)) != GP_OK)
        return rc;
    now += GP_MS(rng_range(&s->rng, 5, 30));
    if ((rc = s7_szl(s, &c, plc, now, 0x001c, &now)) != GP_OK)
        return rc;
    now += GP_MS(rng_range(&s->rng, 20, 200));
    if ((rc = tcp_close(s, &c.tcp, false, now, &now)) != GP_OK)
        return rc;
    t->next = now + GP_SEC(rng_range(&s->rng, 50, 80));
    return GP_OK;
}

int gen_s7comm_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    struct gp_rng cfg;
    plant_rng(p, "s7comm", &cfg);
    struct s7_sweep *w = gp_alloc(s, sizeof *w);
    if (!w)
        return GP_ERR_NOMEM;
    w->eng = p->eng;
    int k = 0;
    for (int i = 0; i < p->nhosts; i++) {
        struct gp_host *plc = &p->hosts[i];
        if (plc->role != ROLE_PLC_S7)
            continue;
        if (w->nplcs < 128)
            w->plcs[w->nplcs++] = plc;
        struct s7_poll *m = gp_alloc(s, sizeof *m);
        if (!m)
            return GP_ERR_NOMEM;
        m->cli = p->hmis[(k + 1) % p->nhmis];
        m->plc = plc;
        /* configuration (the plant's, not the traffic's): poll period and data block */
        m->period = GP_MS(rng_chance(&cfg, 500) ? 500 : 1000);
        m->db = (uint16_t)(1 + rng_below(&cfg, 20));
        m->next_write = s->t0 + GP_SEC(rng_range(&s->rng, 10, 90));
        if (!task_add(s, s->t0 + rng_below(&s->rng, (uint32_t)GP_SEC(3)), poll_step, m))
            return GP_ERR_NOMEM;
        k++;
    }
    if (w->nplcs > 0 &&
        !task_add(s, s->t0 + GP_SEC(15) + rng_below(&s->rng, (uint32_t)GP_SEC(10)), sweep_step, w))
        return GP_ERR_NOMEM;
    return GP_OK;
}

/* ---- attacks */

static int plc_control(struct gp_sim *s, struct s7_conn *c, gp_time t, bool from_plc,
                       uint8_t rosctr, uint8_t func, const uint8_t *param, size_t plen,
                       const uint8_t *data, size_t dlen)
{
    static struct gp_buf b;
    buf_reset(&b);
    size_t tp = tpkt_dt_begin(&b);
    size_t h = s7_begin(&b, rosctr, c->pduref);
    size_t ps = b.n;
    put_u8(&b, func);
    put_bytes(&b, param, plen);
    size_t ds = b.n;
    put_bytes(&b, data, dlen);
    s7_end(&b, h, ps, ds);
    tpkt_end(&b, tp);
    return s7_send(s, c, from_plc, t, &b);
}

int gen_s7_attack(struct gp_sim *s, gp_time t, struct gp_host *from, struct gp_host *plc,
                  int kind, gp_time *done)
{
    struct s7_conn c;
    int rc;
    gp_time now = t;
    if ((rc = s7_connect(s, &c, from, plc, now, &now)) != GP_OK)
        return rc;
    now += GP_MS(rng_range(&s->rng, 50, 300));
    /* look first: SZL module identification */
    if ((rc = s7_szl(s, &c, plc, now, 0x0011, &now)) != GP_OK)
        return rc;
    now += GP_MS(rng_range(&s->rng, 200, 900));
    if (kind == 0) {
        static const uint8_t stop[] = {0, 0, 0, 0, 0, 9, 'P', '_', 'P', 'R', 'O', 'G', 'R', 'A', 'M'};
        if ((rc = plc_control(s, &c, now, false, 1, 0x29, stop, sizeof stop, NULL, 0)) != GP_OK)
            return rc;
        now += rtt_us(s, 5000, 20000);
        if ((rc = plc_control(s, &c, now, true, 3, 0x29, NULL, 0, NULL, 0)) != GP_OK)
            return rc;
        c.pduref++;
    } else {
        /* request download of OB1: filename "_0800001P" (OB, number 1, passive) */
        static const uint8_t req[] = {0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      9, '_', '0', '8', '0', '0', '0', '0', '1', 'P',
                                      13, '1', '0', '0', '0', '3', '3', '6', '0', '0', '0', '2', '3', '4'};
        static const uint8_t blk[] = {0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      9, '_', '0', '8', '0', '0', '0', '0', '1', 'P'};
        static const uint8_t end[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      9, '_', '0', '8', '0', '0', '0', '0', '1', 'P'};
        if ((rc = plc_control(s, &c, now, false, 1, 0x1a, req, sizeof req, NULL, 0)) != GP_OK)
            return rc;
        now += rtt_us(s, 3000, 9000);
        if ((rc = plc_control(s, &c, now, true, 3, 0x1a, NULL, 0, NULL, 0)) != GP_OK)
            return rc;
        c.pduref++;
        /* the PLC pulls the block in two parts */
        uint8_t data[4 + 200];
        for (int part = 0; part < 2; part++) {
            now += rtt_us(s, 2000, 6000);
            if ((rc = plc_control(s, &c, now, true, 1, 0x1b, blk, sizeof blk, NULL, 0)) != GP_OK)
                return rc;
            uint16_t n = part == 0 ? 200 : 136;
            data[0] = (uint8_t)(n >> 8);
            data[1] = (uint8_t)n;
            data[2] = 0x00;
            data[3] = 0xFB;
            for (int i = 0; i < n; i++)
                data[4 + i] = (uint8_t)(i == 0 && part == 0 ? 0x70 : (i * 31 + part * 7));
            uint8_t st = part == 0 ? 0x01 : 0x00; /* more data following */
            now += rtt_us(s, 1000, 4000);
            if ((rc = plc_control(s, &c, now, false, 3, 0x1b, &st, 1, data, 4u + n)) != GP_OK)
                return rc;
            c.pduref++;
        }
        now += rtt_us(s, 2000, 6000);
        if ((rc = plc_control(s, &c, now, true, 1, 0x1c, end, sizeof end, NULL, 0)) != GP_OK)
            return rc;
        now += rtt_us(s, 1000, 4000);
        if ((rc = plc_control(s, &c, now, false, 3, 0x1c, NULL, 0, NULL, 0)) != GP_OK)
            return rc;
        c.pduref++;
    }
    now += GP_MS(rng_range(&s->rng, 100, 500));
    if ((rc = tcp_close(s, &c.tcp, false, now, &now)) != GP_OK)
        return rc;
    if (done)
        *done = now;
    return GP_OK;
}
