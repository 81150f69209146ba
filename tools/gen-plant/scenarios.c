/* scenarios.c - attack segments layered on the normal plant (--scenario NAME).
 *
 * What it is for: the alerting tests learn a baseline on the normal capture, then
 * replay one of these. Each scenario adds its packets at s->attack_at (a third of
 * the capture, at most 20 s in) on top of the plant's own traffic (or alone with
 * --attack-only). Hosts that the plant does not have (attacker laptop, new device,
 * Internet address) are added here, never in plant.c, so the plant is the same for
 * every scenario.
 *
 *   new-hmi-write   a new laptop writes Modbus FC 16/6/5 to a PLC
 *   s7-stop         the engineering station stops an S7 PLC (function 0x29)
 *   s7-download     the engineering station downloads OB1 (0x1a/0x1b/0x1c)
 *   firmware-update the engineering station pushes firmware to a Rockwell PLC (CIP)
 *   port-scan       a new host SYN-scans 150 TCP ports of a PLC, closed ports RST
 *   arp-scan        a new host ARPs every address of 10.10.1.0/24
 *   new-device      a Phoenix Contact PLC never seen before appears and talks
 *   public-ip       a PLC resolves a name at 8.8.8.8 and connects to 52.29.x.x
 *
 * What it must never do: change the plant's existing hosts or their identity, or
 * emit anything tshark would call malformed (RSTs of the port scan are the only
 * expert warnings, by nature).
 */
#include "gen.h"

#include <stdio.h>
#include <string.h>

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static const char *const names[] = {
    "normal", "new-hmi-write", "s7-stop", "s7-download", "firmware-update",
    "port-scan", "arp-scan", "new-device", "public-ip", NULL,
};

bool scenario_known(const char *n)
{
    for (const char *const *p = names; *p; p++)
        if (strcmp(*p, n) == 0)
            return true;
    return false;
}

const char *const *scenario_names(void)
{
    return names;
}

static const uint8_t OUI_LCFC[3] = {0x28, 0xD2, 0x44};     /* Lenovo laptop */
static const uint8_t OUI_PHOENIX[3] = {0xA8, 0x74, 0x1D};  /* Phoenix Contact */

static struct gp_host *first_of(struct gp_plant *p, enum gp_role r)
{
    for (int i = 0; i < p->nhosts; i++)
        if (p->hosts[i].role == r)
            return &p->hosts[i];
    return NULL;
}

struct sc_state {
    struct gp_host *a, *b; /* attacker / source, target */
    int i, n;
    uint16_t sport;
    int kind;
};

static int arp_resolve(struct gp_sim *s, gp_time t, struct gp_host *from, struct gp_host *to)
{
    static const uint8_t zero[6] = {0};
    int rc = send_arp(s, t, from, mac_broadcast(), 1, from->mac, from->ip, zero, to->ip);
    if (rc != GP_OK)
        return rc;
    return send_arp(s, t + rtt_us(s, 100, 800), to, from->mac, 2, to->mac, to->ip, from->mac,
                    from->ip);
}

static int announce(struct gp_sim *s, gp_time t, struct gp_host *h)
{
    static const uint8_t zero[6] = {0};
    return send_arp(s, t, h, mac_broadcast(), 1, h->mac, h->ip, zero, h->ip);
}

/* ---- one-shot attacks */
static int oneshot_step(struct gp_sim *s, struct gp_task *t)
{
    struct sc_state *st = t->state;
    gp_time now = t->next, done = now;
    int rc = GP_OK;
    t->done = true;
    switch (st->kind) {
    case 0: /* new-hmi-write */
        if ((rc = announce(s, now, st->a)) != GP_OK)
            return rc;
        if ((rc = arp_resolve(s, now + GP_MS(900), st->a, st->b)) != GP_OK)
            return rc;
        rc = gen_modbus_attack_write(s, now + GP_SEC(1), st->a, st->b, &done);
        break;
    case 1: /* s7-stop */
        rc = gen_s7_attack(s, now, st->a, st->b, 0, &done);
        break;
    case 2: /* s7-download */
        rc = gen_s7_attack(s, now, st->a, st->b, 1, &done);
        break;
    case 3: /* firmware-update */
        rc = gen_enip_attack_firmware(s, now, st->a, st->b, &done);
        break;
    }
    return rc;
}

/* ---- port scan: one probe per step */
static int portscan_step(struct gp_sim *s, struct gp_task *t)
{
    struct sc_state *st = t->state;
    gp_time now = t->next;
    static const uint16_t common[] = {21, 22, 23, 25, 53, 80, 102, 110, 111, 135, 139, 143, 161,
                                      443, 445, 502, 1433, 1883, 2222, 2404, 3306, 3389, 4840,
                                      5900, 8080, 8443, 20000, 44818, 47808};
    int rc;
    if (st->i == 0) {
        if ((rc = announce(s, now, st->a)) != GP_OK)
            return rc;
        if ((rc = arp_resolve(s, now + GP_MS(500), st->a, st->b)) != GP_OK)
            return rc;
        st->i++;
        t->next = now + GP_SEC(1);
        return GP_OK;
    }
    int k = st->i - 1;
    if (k >= st->n) {
        t->done = true;
        return GP_OK;
    }
    st->i++;
    uint16_t port = k < (int)(sizeof common / sizeof common[0])
                        ? common[k]
                        : (uint16_t)(1024 + (k * 37) % 8000);
    uint32_t seq = (uint32_t)rng_next(&s->rng);
    /* nmap -sS: SYN from a fixed source port, no options but MSS */
    if ((rc = send_tcp_raw(s, now, st->a, st->b, st->sport, port, seq, 0, TCP_SYN, 1024, NULL, 0,
                           true)) != GP_OK)
        return rc;
    gp_time r = now + rtt_us(s, 150, 700);
    bool open = port == 502 || port == 80;
    if (st->b->role == ROLE_PLC_S7)
        open = port == 102 || port == 80;
    if (open) {
        uint32_t isn = (uint32_t)rng_next(&s->rng);
        if ((rc = send_tcp_raw(s, r, st->b, st->a, port, st->sport, isn, seq + 1,
                               TCP_SYN | TCP_ACK, 8192, NULL, 0, true)) != GP_OK)
            return rc;
        rc = send_tcp_raw(s, r + rtt_us(s, 50, 200), st->a, st->b, st->sport, port, seq + 1, 0,
                          TCP_RST, 0, NULL, 0, false);
    } else {
        rc = send_tcp_raw(s, r, st->b, st->a, port, st->sport, 0, seq + 1, TCP_RST | TCP_ACK, 0,
                          NULL, 0, false);
    }
    t->next = now + rtt_us(s, 1500, 6000);
    return rc;
}

/* ---- ARP scan of a /24 */
static int arpscan_step(struct gp_sim *s, struct gp_task *t)
{
    static const uint8_t zero[6] = {0};
    struct sc_state *st = t->state;
    gp_time now = t->next;
    struct gp_plant *p = s->plant;
    int rc;
    if (st->i >= 254) {
        t->done = true;
        return GP_OK;
    }
    uint32_t target = IP4(10, 10, 1, 1 + st->i);
    st->i++;
    if ((rc = send_arp(s, now, st->a, mac_broadcast(), 1, st->a->mac, st->a->ip, zero, target)) != GP_OK)
        return rc;
    for (int i = 0; i < p->nhosts; i++) {
        struct gp_host *h = &p->hosts[i];
        if (h->ip == target && h->up && h->role != ROLE_EXTERNAL && h != st->a) {
            rc = send_arp(s, now + rtt_us(s, 100, 900), h, st->a->mac, 2, h->mac, h->ip,
                          st->a->mac, st->a->ip);
            if (rc != GP_OK)
                return rc;
        }
    }
    t->next = now + rtt_us(s, 2000, 4000);
    return GP_OK;
}

/* ---- new device: appears, resolves, then polls a PLC every second */
static int newdev_step(struct gp_sim *s, struct gp_task *t)
{
    struct sc_state *st = t->state;
    gp_time now = t->next;
    int rc;
    if (st->i == 0) {
        if ((rc = announce(s, now, st->a)) != GP_OK)
            return rc;
        if ((rc = announce(s, now + GP_SEC(1), st->a)) != GP_OK)
            return rc;
        if ((rc = arp_resolve(s, now + GP_SEC(2), st->a, s->plant->router)) != GP_OK)
            return rc;
        if ((rc = arp_resolve(s, now + GP_MS(2100), st->a, st->b)) != GP_OK)
            return rc;
        st->i = 1;
        t->next = now + GP_MS(2200);
        return GP_OK;
    }
    /* peer-to-peer interlock read: Modbus FC 3, the device is the client */
    static struct gp_tcp c;
    static uint16_t tid;
    if (st->i == 1) {
        tcp_init(s, &c, st->a, st->b, 502);
        if ((rc = tcp_connect(s, &c, now, &now)) != GP_OK)
            return rc;
        st->i = 2;
        tid = 1;
    }
    uint8_t req[12] = {(uint8_t)(tid >> 8), (uint8_t)tid, 0, 0, 0, 6, 1, 3, 0, 0, 0, 4};
    uint8_t rsp[17] = {(uint8_t)(tid >> 8), (uint8_t)tid, 0, 0, 0, 11, 1, 3, 8};
    tid++;
    for (int i = 0; i < 4; i++) {
        rsp[9 + 2 * i] = (uint8_t)(st->b->regs[i] >> 8);
        rsp[10 + 2 * i] = (uint8_t)st->b->regs[i];
    }
    if ((rc = tcp_data(s, &c, false, now, req, sizeof req)) != GP_OK)
        return rc;
    if ((rc = tcp_data(s, &c, true, now + rtt_us(s, 1500, 5000), rsp, sizeof rsp)) != GP_OK)
        return rc;
    if ((rc = tcp_ack(s, &c, false, now + GP_MS(40))) != GP_OK)
        return rc;
    t->next = now + GP_SEC(1);
    return GP_OK;
}

/* ---- PLC talking to the Internet */
static void dns_name(uint8_t *b, size_t *n, const char *name)
{
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        b[(*n)++] = (uint8_t)len;
        memcpy(b + *n, p, len);
        *n += len;
        p += len;
        if (*p == '.')
            p++;
    }
    b[(*n)++] = 0;
}

static int publicip_step(struct gp_sim *s, struct gp_task *t)
{
    struct sc_state *st = t->state;
    gp_time now = t->next;
    struct gp_host *plc = st->a, *gdns = st->b;
    struct gp_host *cloud = &s->plant->hosts[gdns->index + 1];
    int rc;
    uint8_t q[128], r[160];
    size_t qn = 0;
    uint16_t id = (uint16_t)rng_next(&s->rng);
    q[qn++] = (uint8_t)(id >> 8);
    q[qn++] = (uint8_t)id;
    static const uint8_t hdr[] = {0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    memcpy(q + qn, hdr, sizeof hdr);
    qn += sizeof hdr;
    dns_name(q, &qn, "telemetry.plc-cloud-update.com");
    q[qn++] = 0;
    q[qn++] = 1;
    q[qn++] = 0;
    q[qn++] = 1;
    memcpy(r, q, qn);
    size_t rn = qn;
    r[2] = 0x81;
    r[3] = 0x80;
    r[7] = 1; /* one answer */
    static const uint8_t ans[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0x01, 0x2C, 0, 4};
    memcpy(r + rn, ans, sizeof ans);
    rn += sizeof ans;
    r[rn++] = (uint8_t)(cloud->ip >> 24);
    r[rn++] = (uint8_t)(cloud->ip >> 16);
    r[rn++] = (uint8_t)(cloud->ip >> 8);
    r[rn++] = (uint8_t)cloud->ip;
    uint16_t sport = (uint16_t)rng_range(&s->rng, 1024, 5000);
    if ((rc = arp_resolve(s, now, plc, s->plant->router)) != GP_OK)
        return rc;
    now += GP_MS(5);
    if ((rc = send_udp(s, now, plc, plc->ip, s->plant->router->mac, gdns->ip, sport, 53, q, qn)) != GP_OK)
        return rc;
    now += GP_MS(rng_range(&s->rng, 8, 25));
    if ((rc = send_udp(s, now, gdns, gdns->ip, plc->mac, plc->ip, 53, sport, r, rn)) != GP_OK)
        return rc;
    /* outbound TCP to the resolved address: handshake, idle, close */
    struct gp_tcp c;
    tcp_init(s, &c, plc, cloud, 443);
    now += GP_MS(3);
    if ((rc = tcp_connect(s, &c, now, &now)) != GP_OK)
        return rc;
    if ((rc = tcp_close(s, &c, false, now + GP_SEC(2), &now)) != GP_OK)
        return rc;
    if (++st->i >= st->n)
        t->done = true;
    t->next = now + GP_SEC(10);
    return GP_OK;
}

int scenario_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    struct sc_state *st = gp_alloc(s, sizeof *st);
    if (!st)
        return GP_ERR_NOMEM;
    const char *sc = s->scenario;
    gp_step_fn fn = oneshot_step;
    if (strcmp(sc, "new-hmi-write") == 0) {
        st->a = plant_add_host(p, ROLE_ATTACKER, OUI_LCFC, IP4(10, 10, 2, 200), "laptop-7f3k", &s->rng);
        st->b = first_of(p, ROLE_PLC_MODBUS);
        st->kind = 0;
        if (st->a)
            st->a->ttl = 128;
    } else if (strcmp(sc, "s7-stop") == 0 || strcmp(sc, "s7-download") == 0) {
        st->a = p->eng;
        st->b = first_of(p, ROLE_PLC_S7);
        st->kind = strcmp(sc, "s7-stop") == 0 ? 1 : 2;
    } else if (strcmp(sc, "firmware-update") == 0) {
        st->a = p->eng;
        st->b = first_of(p, ROLE_PLC_ENIP);
        st->kind = 3;
    } else if (strcmp(sc, "port-scan") == 0) {
        st->a = plant_add_host(p, ROLE_ATTACKER, OUI_LCFC, IP4(10, 10, 2, 201), "laptop-q9x2", &s->rng);
        st->b = first_of(p, ROLE_PLC_MODBUS);
        st->n = 150;
        st->sport = (uint16_t)rng_range(&s->rng, 40000, 60000);
        fn = portscan_step;
    } else if (strcmp(sc, "arp-scan") == 0) {
        st->a = plant_add_host(p, ROLE_ATTACKER, OUI_LCFC, IP4(10, 10, 2, 202), "laptop-m4v8", &s->rng);
        st->b = NULL;
        fn = arpscan_step;
    } else if (strcmp(sc, "new-device") == 0) {
        st->a = plant_add_host(p, ROLE_ATTACKER, OUI_PHOENIX, IP4(10, 10, 1, 241), "axc-f2152", &s->rng);
        st->b = first_of(p, ROLE_PLC_MODBUS);
        fn = newdev_step;
    } else if (strcmp(sc, "public-ip") == 0) {
        st->a = first_of(p, ROLE_PLC_MODBUS);
        st->b = plant_add_host(p, ROLE_EXTERNAL, p->router->mac, IP4(8, 8, 8, 8), "dns.google", &s->rng);
        struct gp_host *cloud = plant_add_host(p, ROLE_EXTERNAL, p->router->mac, IP4(52, 29, 185, 17),
                                               "plc-cloud", &s->rng);
        if (!st->b || !cloud)
            return GP_ERR_RANGE;
        memcpy(st->b->mac, p->router->mac, 6);
        memcpy(cloud->mac, p->router->mac, 6);
        st->b->ttl = cloud->ttl = 118;
        st->n = 3;
        fn = publicip_step;
    } else {
        return GP_ERR_USAGE;
    }
    if (!st->a || (fn != arpscan_step && !st->b))
        return GP_ERR_RANGE;
    return task_add(s, s->attack_at, fn, st) ? GP_OK : GP_ERR_NOMEM;
}
