/* gen-modbus.c - Modbus/TCP traffic: HMIs polling Schneider PLCs on port 502.
 *
 * What it is for:
 *  - each Modbus PLC is polled by one HMI over a long-lived TCP session: a scan of
 *    2-4 reads (FC 1/2/3/4, some FC 23) every 100 ms - 1 s, an operator write now
 *    and then (FC 5/6/15/16/22); sessions end with a FIN after minutes and the HMI
 *    reconnects. Some scans pipeline two requests in one segment (two PDUs per
 *    segment), some responses/requests are split across two segments.
 *  - the engineering station sweeps one PLC a minute on a fresh connection with the
 *    remaining public function codes (7, 8, 11, 12, 17, 20, 21, 24, 43/14) and
 *    gets the usual exception responses (codes 1-4).
 *  - gen_modbus_attack_write() for the new-hmi-write scenario.
 * Transaction ids match between request and response, MBAP lengths are exact.
 *
 * What it must never do: emit a PDU whose length field, byte count or quantity
 * disagrees with its data, or a response that does not answer its request.
 */
#include "gen.h"

#include <string.h>

struct mb_op {
    uint8_t fc;
    uint16_t addr, qty;
    uint16_t addr2, qty2; /* FC 23 write part; FC 8 sub-function in addr2 */
    uint8_t mei_code;     /* FC 43/14 read device id code */
    uint8_t exc;          /* exception code the server answers with, 0 = none */
};

#define MB_MAX_ITEMS 4
struct mb_poll {
    struct gp_tcp tcp;
    struct gp_host *cli, *plc;
    gp_time period, session_end, next_write;
    uint16_t tid;
    struct mb_op items[MB_MAX_ITEMS];
    int nitems;
    uint32_t scans, writes;
};

struct mb_sweep {
    struct gp_host *eng;
    struct gp_host *plcs[256];
    int nplcs, next;
    uint32_t count;
    uint16_t tid;
};

static uint16_t plc_reg(struct gp_host *plc, uint16_t addr)
{
    /* Process values drift a little on each read. */
    uint16_t *r = &plc->regs[addr % 128];
    plc->rng_state = plc->rng_state * 1103515245u + 12345u;
    int d = (int)((plc->rng_state >> 16) % 5) - 2;
    if (addr < 100) /* setpoints/config (100+) only change when written */
        *r = (uint16_t)(*r + d);
    return *r;
}

static size_t mbap_begin(struct gp_buf *b, uint16_t tid, uint8_t unit)
{
    size_t off = b->n;
    put_be16(b, tid);
    put_be16(b, 0);
    put_be16(b, 0); /* length, set by mbap_end */
    put_u8(b, unit);
    return off;
}

static void mbap_end(struct gp_buf *b, size_t off)
{
    set_be16(b, off + 4, (uint16_t)(b->n - off - 6));
}

static const char *mb_vendor_url = "www.se.com";

/* Append the request for op to req and the PLC's answer to rsp. */
static void mb_build(struct gp_host *plc, const struct mb_op *op, uint16_t tid,
                     struct gp_buf *req, struct gp_buf *rsp)
{
    uint8_t unit = (uint8_t)plc->unit_or_addr;
    size_t qo = mbap_begin(req, tid, unit);
    size_t ro = mbap_begin(rsp, tid, unit);
    uint16_t q = op->qty;
    put_u8(req, op->fc);

    /* request body */
    switch (op->fc) {
    case 1: case 2: case 3: case 4:
        put_be16(req, op->addr);
        put_be16(req, q);
        break;
    case 5:
        put_be16(req, op->addr);
        put_be16(req, op->qty ? 0xFF00 : 0x0000);
        break;
    case 6:
        put_be16(req, op->addr);
        put_be16(req, op->qty2);
        break;
    case 7: case 11: case 12: case 17:
        break;
    case 8:
        put_be16(req, op->addr2); /* sub-function */
        put_be16(req, op->addr2 == 0 ? 0xA537 : 0x0000);
        break;
    case 15:
        put_be16(req, op->addr);
        put_be16(req, q);
        put_u8(req, (uint8_t)((q + 7) / 8));
        for (int i = 0; i < (q + 7) / 8; i++)
            put_u8(req, (uint8_t)(0x5A ^ (i * 17) ^ (op->addr & 0xff)) &
                        (uint8_t)(i == (q - 1) / 8 && q % 8 ? (1u << (q % 8)) - 1 : 0xff));
        break;
    case 16:
        put_be16(req, op->addr);
        put_be16(req, q);
        put_u8(req, (uint8_t)(2 * q));
        for (int i = 0; i < q; i++)
            put_be16(req, (uint16_t)(op->qty2 + i * 5));
        break;
    case 20:
        put_u8(req, 7);
        put_u8(req, 6);
        put_be16(req, op->addr);  /* file number */
        put_be16(req, op->addr2); /* record number */
        put_be16(req, q);         /* record length */
        break;
    case 21:
        put_u8(req, (uint8_t)(7 + 2 * q));
        put_u8(req, 6);
        put_be16(req, op->addr);
        put_be16(req, op->addr2);
        put_be16(req, q);
        for (int i = 0; i < q; i++)
            put_be16(req, (uint16_t)(0x1000 + i));
        break;
    case 22:
        put_be16(req, op->addr);
        put_be16(req, 0xFFF2); /* AND mask */
        put_be16(req, 0x0005); /* OR mask */
        break;
    case 23:
        put_be16(req, op->addr);
        put_be16(req, q);
        put_be16(req, op->addr2);
        put_be16(req, op->qty2);
        put_u8(req, (uint8_t)(2 * op->qty2));
        for (int i = 0; i < op->qty2; i++)
            put_be16(req, (uint16_t)(500 + i));
        break;
    case 24:
        put_be16(req, op->addr);
        break;
    case 43:
        put_u8(req, 0x0E);
        put_u8(req, op->mei_code);
        put_u8(req, 0);
        break;
    }
    mbap_end(req, qo);

    if (op->exc) {
        put_u8(rsp, (uint8_t)(op->fc | 0x80));
        if (op->fc == 43)
            put_u8(rsp, 0x0E);
        put_u8(rsp, op->exc);
        mbap_end(rsp, ro);
        return;
    }
    put_u8(rsp, op->fc);
    switch (op->fc) {
    case 1: case 2: {
        int nb = (q + 7) / 8;
        put_u8(rsp, (uint8_t)nb);
        for (int i = 0; i < nb; i++) {
            uint8_t v = (uint8_t)(plc->coils >> ((op->addr / 8 + i) % 8 * 8));
            if (op->fc == 2)
                v = (uint8_t)~v;
            if (i == nb - 1 && q % 8)
                v &= (uint8_t)((1u << (q % 8)) - 1);
            put_u8(rsp, v);
        }
        break;
    }
    case 3: case 4:
        put_u8(rsp, (uint8_t)(2 * q));
        for (int i = 0; i < q; i++)
            put_be16(rsp, plc_reg(plc, (uint16_t)(op->addr + i + (op->fc == 4 ? 64 : 0))));
        break;
    case 5: case 6: case 22:
        put_bytes(rsp, req->d + qo + 8, req->n - qo - 8); /* echo */
        if (op->fc == 6)
            plc->regs[op->addr % 128] = op->qty2;
        break;
    case 7:
        put_u8(rsp, (uint8_t)(plc->coils & 0xff));
        break;
    case 8:
        put_be16(rsp, op->addr2);
        put_be16(rsp, op->addr2 == 0 ? 0xA537 : 0x0000);
        break;
    case 11:
        put_be16(rsp, 0x0000);
        put_be16(rsp, (uint16_t)(plc->rng_state & 0x3ff));
        break;
    case 12:
        put_u8(rsp, 6 + 4);
        put_be16(rsp, 0x0000);
        put_be16(rsp, (uint16_t)(plc->rng_state & 0x3ff));
        put_be16(rsp, (uint16_t)((plc->rng_state >> 10) & 0x3ff));
        put_u8(rsp, 0x40); /* comm event log, newest first: send event */
        put_u8(rsp, 0x80); /* receive event */
        put_u8(rsp, 0x40);
        put_u8(rsp, 0x80);
        break;
    case 15: case 16:
        put_be16(rsp, op->addr);
        put_be16(rsp, q);
        if (op->fc == 16)
            for (int i = 0; i < q; i++)
                plc->regs[(op->addr + i) % 128] = (uint16_t)(op->qty2 + i * 5);
        break;
    case 17: {
        /* byte count, server id, run indicator, additional data (model name) */
        size_t ml = strlen(plc->model);
        put_u8(rsp, (uint8_t)(2 + ml));
        put_u8(rsp, 0x42);
        put_u8(rsp, 0xFF);
        put_str(rsp, plc->model);
        break;
    }
    case 20:
        put_u8(rsp, (uint8_t)(2 + 2 * q));
        put_u8(rsp, (uint8_t)(1 + 2 * q));
        put_u8(rsp, 6);
        for (int i = 0; i < q; i++)
            put_be16(rsp, (uint16_t)(0x0D00 + i));
        break;
    case 21:
        put_bytes(rsp, req->d + qo + 8, req->n - qo - 8);
        break;
    case 23:
        put_u8(rsp, (uint8_t)(2 * q));
        for (int i = 0; i < q; i++)
            put_be16(rsp, plc_reg(plc, (uint16_t)(op->addr + i)));
        break;
    case 24: {
        int n = 3;
        put_be16(rsp, (uint16_t)(2 + 2 * n));
        put_be16(rsp, (uint16_t)n);
        for (int i = 0; i < n; i++)
            put_be16(rsp, plc_reg(plc, (uint16_t)(80 + i)));
        break;
    }
    case 43: {
        const char *objs[7];
        objs[0] = "Schneider Electric";
        objs[1] = plc->model;
        objs[2] = plc->firmware;
        objs[3] = mb_vendor_url;
        objs[4] = strncmp(plc->model, "TM", 2) == 0 ? "Modicon M241" : "Modicon M340";
        objs[5] = plc->model;
        objs[6] = plc->name;
        int first = 0, n = op->mei_code == 1 ? 3 : 7;
        put_u8(rsp, 0x0E);
        put_u8(rsp, op->mei_code);
        put_u8(rsp, op->mei_code == 1 ? 0x81 : 0x82); /* conformity level */
        put_u8(rsp, 0x00); /* more follows */
        put_u8(rsp, 0x00); /* next object id */
        put_u8(rsp, (uint8_t)(n - first));
        for (int i = first; i < n; i++) {
            put_u8(rsp, (uint8_t)i);
            put_u8(rsp, (uint8_t)strlen(objs[i]));
            put_str(rsp, objs[i]);
        }
        break;
    }
    }
    mbap_end(rsp, ro);
}

/* Request then response; split/ack behaviour chosen by the caller.
 * split: 0 none, 1 split the response, 2 split the request. Returns the time the
 * response (last segment) was sent. */
static int exchange(struct gp_sim *s, struct gp_tcp *c, gp_time t, struct gp_buf *req,
                    struct gp_buf *rsp, int split, gp_time *t_rsp)
{
    int rc;
    if (req->overflow || rsp->overflow)
        return GP_ERR_RANGE;
    /* tshark (like most passive decoders) needs the MBAP header and function code
     * in the first segment of a PDU to recognise it: split after byte 8. */
    if (split == 2 && req->n > 9) {
        size_t first = 8 + rng_below(&s->rng, (uint32_t)req->n - 8);
        rc = tcp_data_split(s, c, false, t, req->d, req->n, first, rtt_us(s, 40, 400));
        t += 400;
    } else {
        rc = tcp_data(s, c, false, t, req->d, req->n);
    }
    if (rc != GP_OK)
        return rc;
    t += rtt_us(s, 1200, 6500); /* PLC turnaround */
    if (split == 1 && rsp->n > 9) {
        size_t first = 8 + rng_below(&s->rng, (uint32_t)rsp->n - 8);
        gp_time dt = rtt_us(s, 50, 600);
        rc = tcp_data_split(s, c, true, t, rsp->d, rsp->n, first, dt);
        t += dt;
    } else {
        rc = tcp_data(s, c, true, t, rsp->d, rsp->n);
    }
    *t_rsp = t;
    return rc;
}

static int do_op(struct gp_sim *s, struct gp_tcp *c, struct gp_host *plc, const struct mb_op *op,
                 uint16_t *tid, gp_time t, int split, gp_time *t_rsp)
{
    static struct gp_buf req, rsp;
    buf_reset(&req);
    buf_reset(&rsp);
    mb_build(plc, op, (*tid)++, &req, &rsp);
    return exchange(s, c, t, &req, &rsp, split, t_rsp);
}

/* Operator writes cycle through a fixed list from the start of every capture, so
 * an attack segment's background never uses a function or address the normal
 * capture of the same plant (if it is longer) did not already show. */
static void pick_write(struct gp_sim *s, uint32_t n, struct mb_op *w)
{
    memset(w, 0, sizeof *w);
    switch (n % 5) {
    case 0:
        w->fc = 6;
        w->addr = (uint16_t)(100 + (n / 5) % 4);
        w->qty2 = (uint16_t)rng_range(&s->rng, 200, 900);
        break;
    case 1:
        w->fc = 16;
        w->addr = 100;
        w->qty = 4;
        w->qty2 = (uint16_t)rng_range(&s->rng, 200, 900);
        break;
    case 2:
        w->fc = 5;
        w->addr = 8;
        w->qty = (uint16_t)rng_below(&s->rng, 2);
        break;
    case 3:
        w->fc = 22;
        w->addr = 110;
        break;
    default:
        w->fc = 15;
        w->addr = 0;
        w->qty = 12;
        break;
    }
}

static int poll_step(struct gp_sim *s, struct gp_task *t)
{
    struct mb_poll *m = t->state;
    gp_time now = t->next;
    int rc;

    if (!m->tcp.open) {
        tcp_init(s, &m->tcp, m->cli, m->plc, 502);
        if ((rc = tcp_connect(s, &m->tcp, now, &now)) != GP_OK)
            return rc;
        m->session_end = now + GP_SEC(rng_range(&s->rng, 60, 900));
        t->next = now + GP_MS(rng_range(&s->rng, 5, 50));
        return GP_OK;
    }
    if (now >= m->session_end) {
        /* HMI closes and reconnects (tag reload, redundancy switchover...) */
        bool srv_first = rng_chance(&s->rng, 200);
        if (m->tcp.srv_unacked && (rc = tcp_ack(s, &m->tcp, false, now)) != GP_OK)
            return rc;
        if ((rc = tcp_close(s, &m->tcp, srv_first, now + 100, &now)) != GP_OK)
            return rc;
        t->next = now + GP_MS(rng_range(&s->rng, 300, 3000));
        return GP_OK;
    }

    m->scans++;
    gp_time start = now, t_rsp = now;
    int i = 0;
    /* About one scan in 20 pipelines its first two reads in one segment. */
    if (m->nitems >= 2 && rng_chance(&s->rng, 50)) {
        static struct gp_buf req, rsp;
        buf_reset(&req);
        buf_reset(&rsp);
        mb_build(m->plc, &m->items[0], m->tid++, &req, &rsp);
        mb_build(m->plc, &m->items[1], m->tid++, &req, &rsp);
        if ((rc = exchange(s, &m->tcp, now, &req, &rsp, 0, &t_rsp)) != GP_OK)
            return rc;
        now = t_rsp + rtt_us(s, 200, 1200);
        i = 2;
    }
    for (; i < m->nitems; i++) {
        int split = 0;
        uint32_t r = rng_below(&s->rng, 1000);
        if (r < 25)
            split = 1;
        else if (r < 35)
            split = 2;
        if ((rc = do_op(s, &m->tcp, m->plc, &m->items[i], &m->tid, now, split, &t_rsp)) != GP_OK)
            return rc;
        now = t_rsp + rtt_us(s, 200, 1200);
    }
    if (now >= m->next_write) {
        struct mb_op w;
        pick_write(s, m->writes++, &w);
        if ((rc = do_op(s, &m->tcp, m->plc, &w, &m->tid, now, 0, &t_rsp)) != GP_OK)
            return rc;
        now = t_rsp + rtt_us(s, 200, 1200);
        m->next_write = now + GP_SEC(rng_range(&s->rng, 10, 30));
    }
    t->next = start + jitter(s, m->period, 2);
    /* Windows delayed ACK when the next scan is far away. */
    if (t->next > t_rsp + GP_MS(210))
        if ((rc = tcp_ack(s, &m->tcp, false, t_rsp + GP_MS(200))) != GP_OK)
            return rc;
    if (t->next <= now)
        t->next = now + GP_MS(1);
    return GP_OK;
}

static int sweep_step(struct gp_sim *s, struct gp_task *t)
{
    struct mb_sweep *w = t->state;
    gp_time now = t->next;
    int rc;
    if (w->nplcs == 0) {
        t->done = true;
        return GP_OK;
    }
    struct gp_host *plc = w->plcs[w->next++ % w->nplcs];
    uint32_t k = w->count++;
    bool small = strncmp(plc->model, "TM", 2) == 0; /* M241: no file records */
    struct mb_op ops[] = {
        {.fc = 43, .mei_code = 1},
        {.fc = 43, .mei_code = 2},
        {.fc = 17},
        {.fc = 7},
        {.fc = 8, .addr2 = 0x0000},
        {.fc = 11},
        {.fc = 12},
        {.fc = 20, .addr = 4, .addr2 = 1, .qty = 4, .exc = small ? 1 : 0},
        {.fc = 21, .addr = 4, .addr2 = 1, .qty = 2, .exc = small ? 1 : 0},
        {.fc = 24, .addr = (uint16_t)(k % 2 ? 0x04D2 : 80), .exc = (uint8_t)(k % 2 ? 2 : 0)},
        {.fc = 3, .addr = 100, .qty = 10},
        {.fc = 16, .addr = 100, .qty = 4, .qty2 = (uint16_t)(300 + k)},
        {.fc = 6, .addr = 105, .qty2 = 0xFFFF, .exc = 3},
        {.fc = 23, .addr = 0, .qty = 4, .addr2 = 120, .qty2 = 2, .exc = (uint8_t)(k % 3 == 0 ? 4 : 0)},
    };
    struct gp_tcp c;
    tcp_init(s, &c, w->eng, plc, 502);
    if ((rc = tcp_connect(s, &c, now, &now)) != GP_OK)
        return rc;
    now += GP_MS(rng_range(&s->rng, 2, 20));
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        gp_time t_rsp;
        if ((rc = do_op(s, &c, plc, &ops[i], &w->tid, now, 0, &t_rsp)) != GP_OK)
            return rc;
        now = t_rsp + GP_MS(rng_range(&s->rng, 5, 40)); /* an engineer's tool, not a poller */
    }
    if ((rc = tcp_close(s, &c, false, now, &now)) != GP_OK)
        return rc;
    t->next = now + GP_SEC(rng_range(&s->rng, 45, 75));
    return GP_OK;
}

int gen_modbus_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    static const uint32_t periods_ms[] = {100, 250, 250, 500, 500, 500, 1000, 1000};
    /* What each HMI polls is the plant's configuration, not traffic: same for every
     * capture of the same plant (see plant_rng). */
    struct gp_rng cfg;
    plant_rng(p, "modbus", &cfg);
    struct mb_sweep *w = gp_alloc(s, sizeof *w);
    if (!w)
        return GP_ERR_NOMEM;
    w->eng = p->eng;
    w->tid = (uint16_t)rng_next(&s->rng);
    int k = 0;
    for (int i = 0; i < p->nhosts; i++) {
        struct gp_host *plc = &p->hosts[i];
        if (plc->role != ROLE_PLC_MODBUS)
            continue;
        if (w->nplcs < 256)
            w->plcs[w->nplcs++] = plc;
        struct mb_poll *m = gp_alloc(s, sizeof *m);
        if (!m)
            return GP_ERR_NOMEM;
        m->cli = p->hmis[k % p->nhmis];
        m->plc = plc;
        /* configuration: one draw per statement, always the same number of draws */
        m->period = GP_MS(periods_ms[rng_below(&cfg, 8)]);
        uint16_t hr_qty = (uint16_t)rng_range(&cfg, 10, 40);
        bool use_ir = rng_chance(&cfg, 600);
        uint16_t ir_qty = (uint16_t)rng_range(&cfg, 6, 16);
        uint8_t bit_fc = (uint8_t)(rng_chance(&cfg, 500) ? 1 : 2);
        uint16_t bit_qty = (uint16_t)(rng_chance(&cfg, 500) ? 16 : 21);
        struct mb_op *it = m->items;
        it[m->nitems++] = (struct mb_op){.fc = 3, .addr = 0, .qty = hr_qty};
        if (use_ir)
            it[m->nitems++] = (struct mb_op){.fc = 4, .addr = 0, .qty = ir_qty};
        it[m->nitems++] = (struct mb_op){.fc = bit_fc, .addr = 0, .qty = bit_qty};
        if (k % 4 == 1)
            it[m->nitems++] = (struct mb_op){.fc = 23, .addr = 20, .qty = 4, .addr2 = 120, .qty2 = 2};
        /* traffic */
        m->tid = (uint16_t)rng_below(&s->rng, 60000);
        m->next_write = s->t0 + GP_SEC(rng_range(&s->rng, 3, 20));
        if (!task_add(s, s->t0 + rng_below(&s->rng, (uint32_t)GP_SEC(2)), poll_step, m))
            return GP_ERR_NOMEM;
        k++;
    }
    if (!task_add(s, s->t0 + GP_SEC(8) + rng_below(&s->rng, (uint32_t)GP_SEC(4)), sweep_step, w))
        return GP_ERR_NOMEM;
    return GP_OK;
}

int gen_modbus_attack_write(struct gp_sim *s, gp_time t, struct gp_host *attacker,
                            struct gp_host *plc, gp_time *done)
{
    struct gp_tcp c;
    uint16_t tid = 1;
    int rc;
    gp_time now = t, t_rsp;
    tcp_init(s, &c, attacker, plc, 502);
    if ((rc = tcp_connect(s, &c, now, &now)) != GP_OK)
        return rc;
    const struct mb_op ops[] = {
        {.fc = 3, .addr = 0, .qty = 20},
        {.fc = 16, .addr = 0, .qty = 10, .qty2 = 0},       /* zero the process values */
        {.fc = 6, .addr = 40, .qty2 = 9999},               /* setpoint far off range */
        {.fc = 6, .addr = 41, .qty2 = 0},
        {.fc = 5, .addr = 0, .qty = 0},                    /* stop the pump coil */
        {.fc = 16, .addr = 100, .qty = 8, .qty2 = 65000},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        now += GP_MS(rng_range(&s->rng, 20, 400));
        if ((rc = do_op(s, &c, plc, &ops[i], &tid, now, 0, &t_rsp)) != GP_OK)
            return rc;
        now = t_rsp;
    }
    if ((rc = tcp_close(s, &c, false, now + GP_MS(50), &now)) != GP_OK)
        return rc;
    if (done)
        *done = now;
    return GP_OK;
}
