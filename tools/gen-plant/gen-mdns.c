/* gen-mdns.c - multicast name announcements: mDNS (5353) and LLMNR (5355).
 *
 * What it is for: the Windows hosts of the supervisory zone announce their
 * "<host>.local" address by mDNS (unsolicited response to 224.0.0.251, cache-flush
 * A record) every 120 s, and the HMIs look up "wpad" by LLMNR (224.0.0.252) every
 * 60 s and get no answer, as Windows does when DNS has no WPAD entry.
 *
 * What it must never do: send to a multicast IP with a MAC that is not its
 * 01:00:5e mapping, or emit a malformed name.
 */
#include "gen.h"

#include <stdio.h>
#include <string.h>

struct mc_host {
    struct gp_host *h;
    bool llmnr;
    uint16_t id;
};

static const uint8_t MAC_MDNS[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
static const uint8_t MAC_LLMNR[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfc};
#define IP_MDNS 0xe00000fbu
#define IP_LLMNR 0xe00000fcu

static void mc_label(struct gp_buf *b, const char *l)
{
    put_u8(b, (uint8_t)strlen(l));
    put_str(b, l);
}

static int mc_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    struct mc_host *m = t->state;
    gp_time now = t->next;
    buf_reset(&b);
    if (m->llmnr) {
        t->next = now + jitter(s, GP_SEC(60), 2);
        put_be16(&b, m->id++);
        put_be16(&b, 0x0000);
        put_be16(&b, 1);
        put_be16(&b, 0);
        put_be16(&b, 0);
        put_be16(&b, 0);
        mc_label(&b, "wpad");
        put_u8(&b, 0);
        put_be16(&b, 1);
        put_be16(&b, 1);
        uint16_t sport = (uint16_t)rng_range(&s->rng, 49152, 65000);
        return send_udp(s, now, m->h, m->h->ip, MAC_LLMNR, IP_LLMNR, sport, 5355, b.d, b.n);
    }
    t->next = now + jitter(s, GP_SEC(120), 1);
    put_be16(&b, 0);
    put_be16(&b, 0x8400);   /* response, authoritative */
    put_be16(&b, 0);
    put_be16(&b, 1);
    put_be16(&b, 0);
    put_be16(&b, 0);
    mc_label(&b, m->h->name);
    mc_label(&b, "local");
    put_u8(&b, 0);
    put_be16(&b, 1);
    put_be16(&b, 0x8001);   /* cache flush, IN */
    put_be32(&b, 120);
    put_be16(&b, 4);
    put_be32(&b, m->h->ip);
    return send_udp(s, now, m->h, m->h->ip, MAC_MDNS, IP_MDNS, 5353, 5353, b.d, b.n);
}

int gen_mdns_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    for (int i = 0; i < p->nhosts; i++) {
        struct gp_host *h = &p->hosts[i];
        if (h->role != ROLE_SCADA && h->role != ROLE_HISTORIAN && h->role != ROLE_ENG &&
            h->role != ROLE_HMI)
            continue;
        for (int k = 0; k < (h->role == ROLE_HMI ? 2 : 1); k++) {
            struct mc_host *m = gp_alloc(s, sizeof *m);
            if (!m)
                return GP_ERR_NOMEM;
            m->h = h;
            m->llmnr = k == 1;
            m->id = (uint16_t)rng_next(&s->rng);
            gp_time at = s->t0 + GP_SEC(1) + rng_below(&s->rng, (uint32_t)GP_SEC(12));
            if (!task_add(s, at, mc_step, m))
                return GP_ERR_NOMEM;
        }
    }
    return GP_OK;
}
