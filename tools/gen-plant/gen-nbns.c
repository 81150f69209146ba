/* gen-nbns.c - NetBIOS over UDP: name registration (137) and browser host
 * announcements (138, SMB mailslot \MAILSLOT\BROWSE) from the Windows hosts.
 *
 * What it is for: every Windows machine of the plant (DC, SCADA, historian,
 * engineering station, HMIs and the office PCs once DHCP gave them an address)
 * broadcasts the registration of NAME<00>, NAME<20> and its workgroup
 * PLANT<00> within the first seconds of every capture, then a browser Host
 * Announcement (Windows 10, server type workstation+server+NT) every 60 s.
 *
 * What it must never do: emit an encoded NetBIOS name that is not 32 characters,
 * a datagram length or SMB transaction offset that disagrees with the bytes.
 */
#include "gen.h"

#include <ctype.h>
#include <string.h>

struct nb_host {
    struct gp_host *h;
    bool registered;
    uint16_t trn;
};

static void nb_name(struct gp_buf *b, const char *name, uint8_t suffix)
{
    char n[16];
    size_t i;
    for (i = 0; i < 15; i++)
        n[i] = i < strlen(name) ? (char)toupper((unsigned char)name[i]) : ' ';
    n[15] = (char)suffix;
    put_u8(b, 32);
    for (i = 0; i < 16; i++) {
        put_u8(b, (uint8_t)('A' + (((uint8_t)n[i]) >> 4)));
        put_u8(b, (uint8_t)('A' + (((uint8_t)n[i]) & 15)));
    }
    put_u8(b, 0);
}

static int nb_register(struct gp_sim *s, struct nb_host *n, gp_time t)
{
    static struct gp_buf b;
    static const struct { uint8_t suffix; bool group; } names[3] = {{0x00, false}, {0x20, false}, {0x00, true}};
    uint32_t bcast = s->plant->net | ~s->plant->mask;
    int rc;
    for (int i = 0; i < 3; i++) {
        buf_reset(&b);
        put_be16(&b, n->trn++);
        put_be16(&b, 0x2910);  /* registration, RD, broadcast */
        put_be16(&b, 1);
        put_be16(&b, 0);
        put_be16(&b, 0);
        put_be16(&b, 1);
        nb_name(&b, names[i].group ? "PLANT" : n->h->name, names[i].suffix);
        put_be16(&b, 0x0020);
        put_be16(&b, 0x0001);
        put_be16(&b, 0xc00c);
        put_be16(&b, 0x0020);
        put_be16(&b, 0x0001);
        put_be32(&b, 300000);
        put_be16(&b, 6);
        put_be16(&b, names[i].group ? 0x8000 : 0x0000);
        put_be32(&b, n->h->ip);
        rc = send_udp(s, t + (gp_time)i * GP_MS(2), n->h, n->h->ip, mac_broadcast(), bcast, 137, 137,
                      b.d, b.n);
        if (rc != GP_OK)
            return rc;
    }
    return GP_OK;
}

static int nb_announce(struct gp_sim *s, struct nb_host *n, gp_time t)
{
    static struct gp_buf b;
    uint32_t bcast = s->plant->net | ~s->plant->mask;
    buf_reset(&b);
    put_u8(&b, 0x11);          /* direct group datagram */
    put_u8(&b, 0x02);          /* first fragment, B node */
    put_be16(&b, n->trn++);
    put_be32(&b, n->h->ip);
    put_be16(&b, 138);
    put_be16(&b, 0);           /* datagram length, patched */
    put_be16(&b, 0);
    size_t dg = b.n;
    nb_name(&b, n->h->name, 0x00);
    nb_name(&b, "PLANT", 0x1d);
    size_t smb = b.n;
    put_bytes(&b, "\xffSMB", 4);
    put_u8(&b, 0x25);          /* Trans */
    put_zero(&b, 4);           /* status */
    put_u8(&b, 0);             /* flags */
    put_le16(&b, 0);           /* flags2 */
    put_zero(&b, 12);          /* pid high, signature, reserved */
    put_le16(&b, 0);           /* tid */
    put_le16(&b, 0);           /* pid */
    put_le16(&b, 0);           /* uid */
    put_le16(&b, 0);           /* mid */
    static const char slot[] = "\\MAILSLOT\\BROWSE";
    const size_t data_n = 33;
    const size_t name_off = 32 + 1 + 34 + 2;
    const size_t data_off = name_off + sizeof slot;
    put_u8(&b, 17);            /* word count */
    put_le16(&b, 0);           /* total parameter count */
    put_le16(&b, (uint16_t)data_n);
    put_le16(&b, 0);           /* max parameter count */
    put_le16(&b, 0);           /* max data count */
    put_u8(&b, 0);             /* max setup count */
    put_u8(&b, 0);
    put_le16(&b, 0);           /* flags */
    put_le32(&b, 0);           /* timeout */
    put_le16(&b, 0);
    put_le16(&b, 0);           /* parameter count */
    put_le16(&b, (uint16_t)data_off);
    put_le16(&b, (uint16_t)data_n);
    put_le16(&b, (uint16_t)data_off);
    put_u8(&b, 3);             /* setup count */
    put_u8(&b, 0);
    put_le16(&b, 1);           /* mailslot write */
    put_le16(&b, 1);           /* priority */
    put_le16(&b, 2);           /* class: unreliable, broadcast */
    put_le16(&b, (uint16_t)(sizeof slot + data_n));
    put_bytes(&b, slot, sizeof slot);
    size_t d0 = b.n;
    put_u8(&b, 0x01);          /* Host Announcement */
    put_u8(&b, 0);             /* update count */
    put_le32(&b, 60000);       /* periodicity, ms */
    char nm[16] = {0};
    for (size_t i = 0; i < 15 && n->h->name[i]; i++)
        nm[i] = (char)toupper((unsigned char)n->h->name[i]);
    put_bytes(&b, nm, 16);
    put_u8(&b, 10);            /* Windows 10 */
    put_u8(&b, 0);
    put_le32(&b, n->h->role == ROLE_DC ? 0x0000102bu : 0x00011003u);
    put_u8(&b, 15);
    put_u8(&b, 1);
    put_le16(&b, 0xaa55);
    put_u8(&b, 0);             /* comment */
    if (b.overflow || b.n - d0 != data_n || d0 - smb != data_off)
        return GP_ERR_RANGE;
    set_be16(&b, 10, (uint16_t)(b.n - dg));
    return send_udp(s, t, n->h, n->h->ip, mac_broadcast(), bcast, 138, 138, b.d, b.n);
}

static int nb_step(struct gp_sim *s, struct gp_task *t)
{
    struct nb_host *n = t->state;
    gp_time now = t->next;
    int rc;
    if (!n->h->up) {
        t->next = now + GP_SEC(2);
        return GP_OK;
    }
    if (!n->registered) {
        n->registered = true;
        t->next = now + GP_MS(800) + rng_below(&s->rng, 400000);
        return nb_register(s, n, now);
    }
    if ((rc = nb_announce(s, n, now)) != GP_OK)
        return rc;
    t->next = now + jitter(s, GP_SEC(60), 1);
    return GP_OK;
}

int gen_nbns_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    for (int i = 0; i < p->nhosts; i++) {
        struct gp_host *h = &p->hosts[i];
        if (h->role != ROLE_DC && h->role != ROLE_SCADA && h->role != ROLE_HISTORIAN &&
            h->role != ROLE_ENG && h->role != ROLE_HMI && h->role != ROLE_OFFICE)
            continue;
        struct nb_host *n = gp_alloc(s, sizeof *n);
        if (!n)
            return GP_ERR_NOMEM;
        n->h = h;
        n->trn = (uint16_t)rng_next(&s->rng);
        gp_time at = s->t0 + GP_SEC(1) + rng_below(&s->rng, (uint32_t)GP_SEC(10));
        if (!task_add(s, at, nb_step, n))
            return GP_ERR_NOMEM;
    }
    return GP_OK;
}
