/* gen-lldp.c - LLDP (IEEE 802.1AB, Ethertype 0x88cc) from the core switch.
 *
 * What it is for: core-sw01 advertises itself every 30 s on the mirrored port the
 * sensor listens to: chassis id (MAC), port id (interface name), TTL 120, port
 * description, system name, system description (IOS version string), system
 * capabilities (bridge + router, both enabled) and its management address.
 *
 * What it must never do: emit a TLV whose length disagrees with its value, or a
 * frame without the mandatory chassis/port/TTL TLVs first and End last.
 */
#include "gen.h"

#include <string.h>

static const uint8_t LLDP_MCAST[6] = {0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e};
static const char LLDP_SYSDESC[] =
    "Cisco IOS Software, IE4000  Software (ie4000-UNIVERSALK9-M), Version 15.2(7)E8, "
    "RELEASE SOFTWARE (fc3)";

struct lldp_state {
    struct gp_host *sw;
    int port;
};

static void lldp_tlv(struct gp_buf *b, unsigned type, const void *v, size_t n)
{
    put_be16(b, (uint16_t)((type << 9) | n));
    put_bytes(b, v, n);
}

static int lldp_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    struct lldp_state *l = t->state;
    struct gp_host *sw = l->sw;
    uint8_t v[64];
    char port[16] = "Gi1/5";
    port[4] = (char)('0' + l->port);
    buf_reset(&b);
    v[0] = 4; /* chassis id: MAC address */
    memcpy(v + 1, sw->mac, 6);
    lldp_tlv(&b, 1, v, 7);
    v[0] = 5; /* port id: interface name */
    memcpy(v + 1, port, strlen(port));
    lldp_tlv(&b, 2, v, 1 + strlen(port));
    v[0] = 0; v[1] = 120;
    lldp_tlv(&b, 3, v, 2);
    lldp_tlv(&b, 4, "SPAN to OT sensor", 17);
    lldp_tlv(&b, 5, sw->name, strlen(sw->name));
    lldp_tlv(&b, 6, LLDP_SYSDESC, strlen(LLDP_SYSDESC));
    v[0] = 0x00; v[1] = 0x14; v[2] = 0x00; v[3] = 0x14; /* bridge, router */
    lldp_tlv(&b, 7, v, 4);
    v[0] = 5; v[1] = 1; /* IPv4 */
    v[2] = (uint8_t)(sw->ip >> 24); v[3] = (uint8_t)(sw->ip >> 16);
    v[4] = (uint8_t)(sw->ip >> 8); v[5] = (uint8_t)sw->ip;
    v[6] = 2; /* ifIndex */
    v[7] = 0; v[8] = 0; v[9] = 0; v[10] = 1;
    v[11] = 0; /* no OID */
    lldp_tlv(&b, 8, v, 12);
    put_be16(&b, 0); /* End */
    t->next += GP_SEC(30);
    return send_eth(s, t->next - GP_SEC(30), sw->mac, LLDP_MCAST, 0x88cc, b.d, b.n);
}

int gen_lldp_setup(struct gp_sim *s)
{
    struct gp_rng cfg;
    plant_rng(s->plant, "lldp", &cfg);
    struct lldp_state *l = gp_alloc(s, sizeof *l);
    if (!l)
        return GP_ERR_NOMEM;
    l->sw = s->plant->router;
    l->port = 1 + (int)rng_below(&cfg, 8);
    /* first announcement within the first 15 s of every capture */
    gp_time first = s->t0 + GP_MS(500) + rng_below(&s->rng, (uint32_t)GP_SEC(14));
    return task_add(s, first, lldp_step, l) ? GP_OK : GP_ERR_NOMEM;
}
