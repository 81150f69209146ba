/* gen-snmp.c - SNMP v2c (UDP 161) from the monitoring server to the switch and PLCs.
 *
 * What it is for: nms01 polls the switch and every Modbus, S7 and Logix PLC once a
 * minute (community "public") with a GetRequest for sysDescr.0, sysObjectID.0 and
 * sysName.0 and gets a GetResponse carrying the device's own description (vendor,
 * model, firmware), its vendor's enterprise OID and its hostname. The polled
 * devices and their order are the plant's configuration.
 *
 * What it must never do: answer with a request-id other than the request's, or
 * emit a BER length that disagrees with the bytes.
 */
#include "gen.h"

#include <stdio.h>
#include <string.h>

#define SNMP_MAX 160
struct snmp_state {
    struct gp_host *nms;
    struct gp_host *devs[SNMP_MAX];
    int ndevs;
    uint16_t sport;
    uint32_t reqid;
};

struct snmp_poll {
    struct snmp_state *st;
    struct gp_host *dev;
};

static const uint8_t SNMP_SYS[] = {0x2b, 0x06, 0x01, 0x02, 0x01, 0x01}; /* 1.3.6.1.2.1.1 */

static void snmp_oid_sys(struct gp_buf *b, uint8_t leaf)
{
    put_u8(b, 0x06);
    put_u8(b, sizeof SNMP_SYS + 2);
    put_bytes(b, SNMP_SYS, sizeof SNMP_SYS);
    put_u8(b, leaf);
    put_u8(b, 0);
}

/* sysObjectID of the device: its vendor's enterprise arc */
static void snmp_objid(struct gp_buf *b, const struct gp_host *h)
{
    /* 1.3.6.1.4.1.<ent>.<a>.<b> */
    unsigned ent, a, c;
    switch (h->role) {
    case ROLE_ROUTER: ent = 9; a = 1; c = 2139; break;            /* Cisco */
    case ROLE_PLC_MODBUS: ent = 3833; a = 1; c = 7; break;        /* Schneider (Telemecanique) */
    case ROLE_PLC_S7: ent = 4329; a = 6; c = 1; break;            /* Siemens automation */
    default: ent = 95; a = 1; c = 2; break;                       /* Rockwell (Allen-Bradley) */
    }
    size_t o = ber_begin(b, 0x06);
    put_bytes(b, "\x2b\x06\x01\x04\x01", 5);
    if (ent >= 128)
        put_u8(b, (uint8_t)(0x80 | (ent >> 7)));
    put_u8(b, (uint8_t)(ent & 0x7f));
    put_u8(b, (uint8_t)a);
    if (c >= 128)
        put_u8(b, (uint8_t)(0x80 | (c >> 7)));
    put_u8(b, (uint8_t)(c & 0x7f));
    ber_end(b, o);
}

static void snmp_descr(const struct gp_host *h, char *out, size_t n)
{
    switch (h->role) {
    case ROLE_ROUTER:
        snprintf(out, n, "Cisco IOS Software, IE4000  Software (ie4000-UNIVERSALK9-M), "
                 "Version 15.2(7)E8, RELEASE SOFTWARE (fc3)");
        break;
    case ROLE_PLC_S7:
        snprintf(out, n, "Siemens, SIMATIC S7, %s, %s, %s", h->model, h->order_no, h->firmware);
        break;
    default:
        snprintf(out, n, "%s %s %s", h->vendor, h->model, h->firmware[0] ? h->firmware : "");
        break;
    }
}

static int snmp_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    struct snmp_poll *p = t->state;
    struct snmp_state *st = p->st;
    struct gp_host *d = p->dev;
    gp_time now = t->next;
    int rc;
    t->next = now + GP_SEC(60);
    uint32_t id = st->reqid++ & 0x7fffffff;
    for (int resp = 0; resp < 2; resp++) {
        buf_reset(&b);
        size_t msg = ber_begin(&b, 0x30);
        ber_uint(&b, 0x02, 1); /* v2c */
        ber_str(&b, 0x04, "public");
        size_t pdu = ber_begin(&b, resp ? 0xa2 : 0xa0);
        ber_uint(&b, 0x02, id);
        ber_uint(&b, 0x02, 0);
        ber_uint(&b, 0x02, 0);
        size_t vbl = ber_begin(&b, 0x30);
        static const uint8_t leaves[3] = {1, 2, 5};
        for (int i = 0; i < 3; i++) {
            size_t vb = ber_begin(&b, 0x30);
            snmp_oid_sys(&b, leaves[i]);
            if (!resp) {
                put_u8(&b, 0x05);
                put_u8(&b, 0x00);
            } else if (leaves[i] == 1) {
                char descr[200];
                snmp_descr(d, descr, sizeof descr);
                ber_str(&b, 0x04, descr);
            } else if (leaves[i] == 2) {
                snmp_objid(&b, d);
            } else {
                ber_str(&b, 0x04, d->name);
            }
            ber_end(&b, vb);
        }
        ber_end(&b, vbl);
        ber_end(&b, pdu);
        ber_end(&b, msg);
        if (b.overflow)
            return GP_ERR_RANGE;
        if (resp)
            rc = send_udp_hosts(s, now + rtt_us(s, 1000, 15000), d, st->nms, 161, st->sport, b.d, b.n);
        else
            rc = send_udp_hosts(s, now, st->nms, d, st->sport, 161, b.d, b.n);
        if (rc != GP_OK)
            return rc;
    }
    return GP_OK;
}

int gen_snmp_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    if (!p->nms)
        return GP_OK;
    struct snmp_state *st = gp_alloc(s, sizeof *st);
    if (!st)
        return GP_ERR_NOMEM;
    st->nms = p->nms;
    st->sport = (uint16_t)rng_range(&s->rng, 49152, 65000);
    st->reqid = (uint32_t)rng_next(&s->rng);
    for (int i = 0; i < p->nhosts && st->ndevs < SNMP_MAX; i++) {
        enum gp_role r = p->hosts[i].role;
        if (r == ROLE_ROUTER || r == ROLE_PLC_MODBUS || r == ROLE_PLC_S7 || r == ROLE_PLC_ENIP)
            st->devs[st->ndevs++] = &p->hosts[i];
    }
    /* the poll cycle: every device within the first 15 s, then once a minute */
    for (int i = 0; i < st->ndevs; i++) {
        struct snmp_poll *q = gp_alloc(s, sizeof *q);
        if (!q)
            return GP_ERR_NOMEM;
        q->st = st;
        q->dev = st->devs[i];
        gp_time at = s->t0 + GP_SEC(1) + (gp_time)i * GP_SEC(14) / (gp_time)st->ndevs +
                     rng_below(&s->rng, 20000);
        if (!task_add(s, at, snmp_step, q))
            return GP_ERR_NOMEM;
    }
    return GP_OK;
}
