/* gen-arp.c - ARP background: cache refreshes between hosts that talk to each other.
 *
 * What it is for: every host that is up periodically resolves one of its peers
 * (gateway, domain controller, its polling partners): a broadcast who-has and the
 * peer's unicast reply. The DHCP generator sends its own probe/announcement.
 *
 * What it must never do: claim an address for a MAC that does not own it (tshark
 * would flag a duplicate address), or ARP for hosts beyond the gateway.
 */
#include "gen.h"

#include <string.h>

#define ARP_MAX_PEERS 24

struct arp_state {
    struct gp_host *h;
    struct gp_host *peers[ARP_MAX_PEERS];
    int npeers, next;
    gp_time period;
};

static void add_peer(struct arp_state *a, struct gp_host *p)
{
    if (!p || p == a->h || a->npeers >= ARP_MAX_PEERS)
        return;
    for (int i = 0; i < a->npeers; i++)
        if (a->peers[i] == p)
            return;
    a->peers[a->npeers++] = p;
}

static int arp_step(struct gp_sim *s, struct gp_task *t)
{
    static const uint8_t zero[6] = {0};
    struct arp_state *a = t->state;
    gp_time now = t->next;
    t->next = now + jitter(s, a->period, 30);
    if (!a->h->up || a->npeers == 0)
        return GP_OK;
    struct gp_host *p = a->peers[a->next++ % a->npeers];
    if (!p->up)
        return GP_OK;
    int rc = send_arp(s, now, a->h, mac_broadcast(), 1, a->h->mac, a->h->ip, zero, p->ip);
    if (rc != GP_OK)
        return rc;
    return send_arp(s, now + rtt_us(s, 80, 900), p, a->h->mac, 2, p->mac, p->ip, a->h->mac,
                    a->h->ip);
}

int gen_arp_setup(struct gp_sim *s)
{
    struct gp_plant *pl = s->plant;
    for (int i = 0; i < pl->nhosts; i++) {
        struct gp_host *h = &pl->hosts[i];
        if (h->role == ROLE_EXTERNAL || h->role == ROLE_ROUTER || h->role == ROLE_ATTACKER)
            continue;
        struct arp_state *a = gp_alloc(s, sizeof *a);
        if (!a)
            return GP_ERR_NOMEM;
        a->h = h;
        add_peer(a, pl->router);
        add_peer(a, pl->dc);
        switch (h->role) {
        case ROLE_HMI:
        case ROLE_ENG:
            for (int j = 0; j < pl->nhosts; j++) {
                enum gp_role r = pl->hosts[j].role;
                if (r == ROLE_PLC_MODBUS || r == ROLE_PLC_S7 || r == ROLE_PLC_ENIP)
                    add_peer(a, &pl->hosts[j]);
            }
            add_peer(a, pl->scada);
            break;
        case ROLE_SCADA:
            for (int j = 0; j < pl->nhosts; j++) {
                enum gp_role r = pl->hosts[j].role;
                if (r == ROLE_RTU_DNP3 || r == ROLE_RTU_IEC104 || r == ROLE_BACNET)
                    add_peer(a, &pl->hosts[j]);
            }
            add_peer(a, pl->historian);
            break;
        case ROLE_HISTORIAN:
            add_peer(a, pl->scada);
            break;
        case ROLE_PLC_MODBUS:
        case ROLE_PLC_S7:
        case ROLE_PLC_ENIP:
            for (int k = 0; k < pl->nhmis; k++)
                add_peer(a, pl->hmis[k]);
            add_peer(a, pl->eng);
            break;
        case ROLE_RTU_DNP3:
        case ROLE_RTU_IEC104:
        case ROLE_BACNET:
            add_peer(a, pl->scada);
            break;
        default:
            break;
        }
        /* Windows refreshes reachable entries every 15-45 s per peer; cycling
         * through the peers, a host ARPs once every 20-60 s. */
        a->period = GP_SEC(20 + rng_below(&s->rng, 40));
        a->next = (int)rng_below(&s->rng, (uint32_t)a->npeers);
        if (!task_add(s, s->t0 + rng_below(&s->rng, (uint32_t)GP_SEC(20)), arp_step, a))
            return GP_ERR_NOMEM;
    }
    return GP_OK;
}
