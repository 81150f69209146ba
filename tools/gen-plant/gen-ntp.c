/* gen-ntp.c - NTP (UDP 123): servers, HMIs and S7 PLCs synchronise with the DC.
 *
 * What it is for: the Windows hosts (SCADA, historian, engineering station, HMIs)
 * and the S7 PLCs send a client request (mode 3) to dc01 every 64 s; dc01 answers
 * in server mode (4), stratum 3, its reference the core switch (stratum 2), with
 * origin/receive/transmit timestamps consistent with packet time.
 *
 * What it must never do: answer with an origin timestamp other than the request's
 * transmit timestamp, or use wall-clock time.
 */
#include "gen.h"

struct ntp_cli {
    struct gp_host *cli, *srv;
    uint16_t sport;
    bool windows;
};

#define NTP_UNIX_OFFSET 2208988800ull

static void ntp_ts(struct gp_buf *b, gp_time t)
{
    put_be32(b, (uint32_t)(t / 1000000u + NTP_UNIX_OFFSET));
    put_be32(b, (uint32_t)(((t % 1000000u) << 32) / 1000000u));
}

static int ntp_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    struct ntp_cli *c = t->state;
    gp_time now = t->next;
    int rc;
    t->next = now + GP_SEC(64);
    /* request: the client's clock is a few ms off */
    gp_time cli_tx = now + rng_below(&s->rng, 8000);
    buf_reset(&b);
    put_u8(&b, c->windows ? 0xdb : 0x23);   /* LI 3 (unsynchronised) / 0, v4, mode 3 */
    put_u8(&b, 0);
    put_u8(&b, c->windows ? 17 : 6);        /* poll interval (log2 s) */
    put_u8(&b, 0xe9);                       /* precision */
    put_be32(&b, 0);
    put_be32(&b, 0);
    put_be32(&b, 0);
    put_zero(&b, 24);
    ntp_ts(&b, cli_tx);
    if ((rc = send_udp_hosts(s, now, c->cli, c->srv, c->sport, 123, b.d, b.n)) != GP_OK)
        return rc;
    gp_time rx = now + rtt_us(s, 150, 900);
    gp_time tx = rx + rng_below(&s->rng, 120);
    buf_reset(&b);
    put_u8(&b, 0x24);                       /* LI 0, v4, mode 4 */
    put_u8(&b, 3);                          /* stratum */
    put_u8(&b, c->windows ? 17 : 6);
    put_u8(&b, 0xe9);
    put_be32(&b, 0x00000a31);               /* root delay */
    put_be32(&b, 0x00001c4e);               /* root dispersion */
    put_be32(&b, s->plant->router->ip);     /* reference id: upstream server */
    ntp_ts(&b, now - GP_SEC(37) - (now % GP_SEC(64)));
    ntp_ts(&b, cli_tx);
    ntp_ts(&b, rx);
    ntp_ts(&b, tx);
    return send_udp_hosts(s, tx, c->srv, c->cli, 123, c->sport, b.d, b.n);
}

int gen_ntp_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    int k = 0;
    for (int i = 0; i < p->nhosts; i++) {
        struct gp_host *h = &p->hosts[i];
        bool win = h->role == ROLE_SCADA || h->role == ROLE_HISTORIAN || h->role == ROLE_ENG ||
                   h->role == ROLE_HMI;
        if (!win && h->role != ROLE_PLC_S7)
            continue;
        struct ntp_cli *c = gp_alloc(s, sizeof *c);
        if (!c)
            return GP_ERR_NOMEM;
        c->cli = h;
        c->srv = p->dc;
        c->windows = win;
        c->sport = win ? 123 : (uint16_t)rng_range(&s->rng, 49152, 65000);
        gp_time at = s->t0 + GP_SEC(1) + (gp_time)(k++ % 15) * GP_SEC(1) +
                     rng_below(&s->rng, (uint32_t)GP_MS(900));
        if (!task_add(s, at, ntp_step, c))
            return GP_ERR_NOMEM;
    }
    return GP_OK;
}
