/* gen-hartip.c - HART-IP (UDP 5094) between the historian and the HART gateway.
 *
 * What it is for: hist01 (the asset-management client) opens a HART-IP session
 * with hart-gw01 (session initiate, primary master, 60 s inactivity timer), sends a
 * keep-alive every 20 s and every 10 s a pass-through HART command 0 (Read Unique
 * Identifier) to the gateway itself, answered with its expanded device type,
 * revisions and device id.
 *
 * What it must never do: emit a byte count that disagrees with the message, a
 * HART checksum that is not the XOR of the frame, or reuse a sequence number.
 */
#include "gen.h"

#include <string.h>

struct hip_state {
    struct gp_host *cli, *gw;
    uint16_t sport;
    uint16_t seq;
    bool open;
    int count;
};

static void hip_hdr(struct gp_buf *b, uint8_t type, uint8_t id, uint16_t seq)
{
    buf_reset(b);
    put_u8(b, 1);
    put_u8(b, type);
    put_u8(b, id);
    put_u8(b, 0);
    put_be16(b, seq);
    put_be16(b, 0);
}

static int hip_xchg(struct gp_sim *s, struct hip_state *h, gp_time t, uint8_t id)
{
    static struct gp_buf b;
    int rc;
    uint16_t seq = h->seq++;
    for (int resp = 0; resp < 2; resp++) {
        hip_hdr(&b, (uint8_t)resp, id, seq);
        if (id == 0) {
            put_u8(&b, 1);           /* primary master */
            put_be32(&b, 60000);     /* inactivity close time, ms */
        } else if (id == 3) {
            size_t f = b.n;
            if (!resp) {
                put_u8(&b, 0x02);    /* short frame, master to slave */
                put_u8(&b, 0x80);    /* primary master, polling address 0 */
                put_u8(&b, 0x00);    /* command 0 */
                put_u8(&b, 0x00);
            } else {
                put_u8(&b, 0x06);    /* short frame, slave to master */
                put_u8(&b, 0x80);
                put_u8(&b, 0x00);
                put_u8(&b, 24);      /* byte count */
                put_u8(&b, 0x00);    /* response code */
                put_u8(&b, 0x00);    /* device status */
                put_u8(&b, 254);
                put_be16(&b, 0x2663); /* expanded device type: Rosemount gateway */
                put_u8(&b, 5);       /* preambles */
                put_u8(&b, 7);       /* HART 7 */
                put_u8(&b, 3);       /* device revision */
                put_u8(&b, 4);       /* software revision */
                put_u8(&b, 0x0c);    /* hardware revision 1, physical signaling 4 */
                put_u8(&b, 0x00);    /* flags */
                put_be24(&b, ((uint32_t)h->gw->mac[3] << 16) | ((uint32_t)h->gw->mac[4] << 8) | h->gw->mac[5]);
                put_u8(&b, 5);       /* min preambles */
                put_u8(&b, 4);       /* max device variables */
                put_be16(&b, 17);    /* configuration change counter */
                put_u8(&b, 0x00);    /* extended status */
                put_be16(&b, 0x0026); /* manufacturer: Rosemount */
                put_be16(&b, 0x0026); /* private label */
                put_u8(&b, 0x81);    /* device profile: wireless gateway */
            }
            uint8_t x = 0;
            for (size_t i = f; i < b.n; i++)
                x ^= b.d[i];
            put_u8(&b, x);
        }
        set_be16(&b, 6, (uint16_t)b.n);
        if (b.overflow)
            return GP_ERR_RANGE;
        if (resp)
            rc = send_udp_hosts(s, t + rtt_us(s, 1500, 6000), h->gw, h->cli, 5094, h->sport, b.d, b.n);
        else
            rc = send_udp_hosts(s, t, h->cli, h->gw, h->sport, 5094, b.d, b.n);
        if (rc != GP_OK)
            return rc;
    }
    return GP_OK;
}

static int hip_step(struct gp_sim *s, struct gp_task *t)
{
    struct hip_state *h = t->state;
    gp_time now = t->next;
    int rc;
    t->next = now + jitter(s, GP_SEC(10), 2);
    if (!h->open) {
        h->open = true;
        return hip_xchg(s, h, now, 0);
    }
    if ((rc = hip_xchg(s, h, now, 3)) != GP_OK)
        return rc;
    if (h->count++ % 2 == 1)
        rc = hip_xchg(s, h, now + GP_MS(500), 2);
    return rc;
}

int gen_hartip_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    if (!p->hartgw)
        return GP_OK;
    struct hip_state *h = gp_alloc(s, sizeof *h);
    if (!h)
        return GP_ERR_NOMEM;
    h->cli = p->historian;
    h->gw = p->hartgw;
    h->sport = (uint16_t)rng_range(&s->rng, 49152, 65000);
    h->seq = (uint16_t)rng_below(&s->rng, 1000);
    gp_time first = s->t0 + GP_SEC(2) + rng_below(&s->rng, (uint32_t)GP_SEC(4));
    if (!task_add(s, first, hip_step, h))
        return GP_ERR_NOMEM;
    return GP_OK;
}
