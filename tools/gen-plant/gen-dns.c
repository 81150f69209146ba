/* gen-dns.c - DNS background: hosts resolving plant and Internet names via the DC.
 *
 * What it is for: supervisory hosts look up the plant devices they talk to (A and
 * PTR), office workstations look up Windows/Internet names (A answers, AAAA with
 * no data, NXDOMAIN for wpad). The domain controller answers everything; answers
 * use name compression pointing at the question.
 *
 * What it must never do: reuse a transaction id on one client while a query is
 * outstanding, or emit an answer whose counts disagree with its sections.
 */
#include "gen.h"

#include <stdio.h>
#include <string.h>

struct dns_state {
    struct gp_host *h;
    gp_time period;
    uint32_t n;
};

static void put_name(struct gp_buf *b, const char *name)
{
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        put_u8(b, (uint8_t)len);
        put_bytes(b, p, len);
        p += len;
        if (*p == '.')
            p++;
    }
    put_u8(b, 0);
}

/* Internet names an office workstation resolves, with plausible public answers. */
static const struct {
    const char *name;
    uint32_t ip;
} inet_names[] = {
    {"time.windows.com", 0x14654B10u},          /* 20.101.75.16 */
    {"login.microsoftonline.com", 0x14BE9E22u}, /* 20.190.158.34 */
    {"settings-win.data.microsoft.com", 0x34A8751Bu}, /* 52.168.117.27 */
    {"outlook.office365.com", 0x345F2D42u},     /* 52.95.45.66 */
    {"www.msftconnecttest.com", 0x0D6B04D2u},   /* 13.107.4.210 */
};

static int query(struct gp_sim *s, gp_time t, struct gp_host *cli, const char *qname,
                 uint16_t qtype, int rcode, uint32_t answer_ip, const char *ptr_target)
{
    static struct gp_buf q, r;
    struct gp_host *dc = s->plant->dc;
    uint16_t id = (uint16_t)rng_next(&s->rng);
    uint16_t sport = (uint16_t)rng_range(&s->rng, 49152, 65535);
    int rc;

    buf_reset(&q);
    put_be16(&q, id);
    put_be16(&q, 0x0100); /* standard query, RD */
    put_be16(&q, 1);
    put_be16(&q, 0);
    put_be16(&q, 0);
    put_be16(&q, 0);
    put_name(&q, qname);
    put_be16(&q, qtype);
    put_be16(&q, 1);
    if (q.overflow)
        return GP_ERR_RANGE;
    if ((rc = send_udp_hosts(s, t, cli, dc, sport, 53, q.d, q.n)) != GP_OK)
        return rc;

    bool has_answer = rcode == 0 && (answer_ip || ptr_target);
    buf_reset(&r);
    put_be16(&r, id);
    put_be16(&r, (uint16_t)(0x8180 | (rcode & 0xf))); /* response, RD, RA */
    put_be16(&r, 1);
    put_be16(&r, has_answer ? 1 : 0);
    put_be16(&r, 0);
    put_be16(&r, 0);
    put_bytes(&r, q.d + 12, q.n - 12); /* question */
    if (has_answer) {
        put_be16(&r, 0xC00C);
        put_be16(&r, qtype);
        put_be16(&r, 1);
        put_be32(&r, ptr_target ? 1200 : (answer_ip >> 24) == 10 ? 1200 : 300);
        if (ptr_target) {
            struct gp_buf tmp;
            buf_reset(&tmp);
            put_name(&tmp, ptr_target);
            put_be16(&r, (uint16_t)tmp.n);
            put_bytes(&r, tmp.d, tmp.n);
        } else {
            put_be16(&r, 4);
            put_be32(&r, answer_ip);
        }
    }
    if (r.overflow)
        return GP_ERR_RANGE;
    return send_udp_hosts(s, t + rtt_us(s, 300, 2500), dc, cli, 53, sport, r.d, r.n);
}

static struct gp_host *pick_peer(struct gp_sim *s, struct gp_host *h)
{
    struct gp_plant *p = s->plant;
    for (int tries = 0; tries < 8; tries++) {
        struct gp_host *o = &p->hosts[rng_below(&s->rng, (uint32_t)p->nhosts)];
        if (o == h || !o->up || o->role == ROLE_EXTERNAL || o->role == ROLE_ATTACKER)
            continue;
        if (h->role == ROLE_OFFICE && o->role != ROLE_DC && o->role != ROLE_HISTORIAN &&
            o->role != ROLE_OFFICE)
            continue;
        return o;
    }
    return p->dc;
}

static int dns_step(struct gp_sim *s, struct gp_task *t)
{
    struct dns_state *d = t->state;
    gp_time now = t->next;
    char name[96];
    t->next = now + jitter(s, d->period, 40);
    if (!d->h->up)
        return GP_OK;
    d->n++;
    if (d->h->role == ROLE_OFFICE) {
        uint32_t k = rng_below(&s->rng, 10);
        if (k < 5) {
            size_t i = rng_below(&s->rng, sizeof inet_names / sizeof inet_names[0]);
            int rc = query(s, now, d->h, inet_names[i].name, 1, 0, inet_names[i].ip, NULL);
            if (rc != GP_OK)
                return rc;
            return query(s, now + GP_MS(1), d->h, inet_names[i].name, 28, 0, 0, NULL);
        }
        if (k < 7) {
            snprintf(name, sizeof name, "wpad.%s", s->plant->domain);
            return query(s, now, d->h, name, 1, 3, 0, NULL);
        }
    }
    struct gp_host *o = pick_peer(s, d->h);
    if (rng_chance(&s->rng, 250)) {
        char target[64];
        snprintf(name, sizeof name, "%u.%u.%u.%u.in-addr.arpa", o->ip & 255, (o->ip >> 8) & 255,
                 (o->ip >> 16) & 255, o->ip >> 24);
        snprintf(target, sizeof target, "%s.%s", o->name, s->plant->domain);
        return query(s, now, d->h, name, 12, 0, 0, target);
    }
    snprintf(name, sizeof name, "%s.%s", o->name, s->plant->domain);
    return query(s, now, d->h, name, 1, 0, o->ip, NULL);
}

int gen_dns_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    for (int i = 0; i < p->nhosts; i++) {
        struct gp_host *h = &p->hosts[i];
        if (h->role != ROLE_HMI && h->role != ROLE_ENG && h->role != ROLE_SCADA &&
            h->role != ROLE_HISTORIAN && h->role != ROLE_OFFICE)
            continue;
        struct dns_state *d = gp_alloc(s, sizeof *d);
        if (!d)
            return GP_ERR_NOMEM;
        d->h = h;
        d->period = GP_SEC(h->role == ROLE_OFFICE ? 15 : 45);
        if (!task_add(s, s->t0 + rng_below(&s->rng, (uint32_t)GP_SEC(10)), dns_step, d))
            return GP_ERR_NOMEM;
    }
    return GP_OK;
}
