/* gen-cdp.c - Cisco Discovery Protocol v2 (802.3 + LLC/SNAP 0x2000) from the switch.
 *
 * What it is for: core-sw01 sends a CDP announcement every 60 s to 01:00:0c:cc:cc:cc:
 * device id, management address, port id, capabilities (router, switch, IGMP),
 * software version, platform, native VLAN and duplex, with the CDP checksum.
 *
 * What it must never do: emit a TLV length or 802.3 length that disagrees with
 * the bytes, or a wrong checksum (the PDU is kept to an even length).
 */
#include "gen.h"

#include <stdio.h>
#include <string.h>

static const uint8_t CDP_MCAST[6] = {0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc};

struct cdp_state {
    struct gp_host *sw;
    int port;
};

static void cdp_tlv(struct gp_buf *b, uint16_t type, const void *v, size_t n)
{
    put_be16(b, type);
    put_be16(b, (uint16_t)(4 + n));
    put_bytes(b, v, n);
}

static int cdp_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    struct cdp_state *c = t->state;
    struct gp_host *sw = c->sw;
    gp_time now = t->next;
    char str[160];
    uint8_t v[32];
    t->next = now + GP_SEC(60);
    buf_reset(&b);
    put_bytes(&b, "\xaa\xaa\x03\x00\x00\x0c\x20\x00", 8); /* LLC + SNAP Cisco CDP */
    size_t pdu = b.n;
    put_u8(&b, 2);     /* version */
    put_u8(&b, 180);   /* holdtime */
    put_be16(&b, 0);   /* checksum */
    snprintf(str, sizeof str, "%s.%s", sw->name, s->plant->domain);
    cdp_tlv(&b, 0x0001, str, strlen(str));
    /* addresses: one, NLPID IP */
    put_be16(&b, 0x0002);
    put_be16(&b, 4 + 4 + 9);
    put_be32(&b, 1);
    put_u8(&b, 1); put_u8(&b, 1); put_u8(&b, 0xcc);
    put_be16(&b, 4);
    put_be32(&b, sw->ip);
    snprintf(str, sizeof str, "GigabitEthernet1/%d", c->port);
    cdp_tlv(&b, 0x0003, str, strlen(str));
    v[0] = 0; v[1] = 0; v[2] = 0; v[3] = 0x29; /* router, switch, IGMP */
    cdp_tlv(&b, 0x0004, v, 4);
    snprintf(str, sizeof str, "Cisco IOS Software, IE4000  Software (ie4000-UNIVERSALK9-M), "
             "Version 15.2(7)E8, RELEASE SOFTWARE (fc3)");
    cdp_tlv(&b, 0x0005, str, strlen(str));
    snprintf(str, sizeof str, "cisco %s", sw->model);
    cdp_tlv(&b, 0x0006, str, strlen(str));
    v[0] = 0; v[1] = 1;
    cdp_tlv(&b, 0x000a, v, 2);
    v[0] = 1;
    cdp_tlv(&b, 0x000b, v, 1);
    if ((b.n - pdu) & 1) {
        /* keep the PDU even: pad the platform string would change it; add a
         * one-byte-longer VTP domain instead */
        cdp_tlv(&b, 0x0009, "OT", 2);
        if ((b.n - pdu) & 1)
            cdp_tlv(&b, 0x0009, "OT1", 3);
    }
    if (b.overflow)
        return GP_ERR_RANGE;
    uint32_t sum = 0;
    for (size_t i = pdu; i + 1 < b.n; i += 2)
        sum += ((uint32_t)b.d[i] << 8) | b.d[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    set_be16(&b, pdu + 2, (uint16_t)~sum);
    return send_eth(s, now, sw->mac, CDP_MCAST, (uint16_t)b.n, b.d, b.n);
}

int gen_cdp_setup(struct gp_sim *s)
{
    struct gp_rng cfg;
    plant_rng(s->plant, "lldp", &cfg); /* the same switch port as LLDP */
    struct cdp_state *c = gp_alloc(s, sizeof *c);
    if (!c)
        return GP_ERR_NOMEM;
    c->sw = s->plant->router;
    c->port = 1 + (int)rng_below(&cfg, 8);
    /* first announcement within the first 15 s of every capture */
    gp_time first = s->t0 + GP_SEC(1) + rng_below(&s->rng, (uint32_t)GP_SEC(14));
    return task_add(s, first, cdp_step, c) ? GP_OK : GP_ERR_NOMEM;
}
