/* gen-enip.c - EtherNet/IP + CIP (port 44818): Rockwell Logix PLCs.
 *
 * What it is for:
 *  - the engineering station browses the network with a ListIdentity broadcast
 *    (UDP 44818) every minute; every Rockwell PLC answers with its identity item
 *    (vendor 1, device type 14, product code, revision, serial, product name);
 *  - an HMI keeps an explicit-messaging session to each PLC: RegisterSession, then
 *    SendRRData every second carrying CIP Get_Attribute_Single on the Identity
 *    object, and every few seconds an Unconnected Send (Connection Manager) routed
 *    to the CPU in slot 0 with an embedded Get_Attribute_All; UnRegisterSession
 *    and FIN when the session is recycled;
 *  - gen_enip_attack_firmware(): a firmware image pushed the way ControlFLASH
 *    does it (public capture EIP-FirmwareChange.pcap): Rockwell flash update
 *    object, class 0xA1 (0x51 rejected, 0x4B begin, 0x4D blocks), then an
 *    Identity Reset.
 *
 * What it must never do: emit an encapsulation length, CPF item length, CIP path
 * size or Unconnected Send message size that disagrees with the bytes present.
 */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct enip_sess {
    struct gp_tcp tcp;
    struct gp_host *cli, *plc;
    uint32_t session;
    uint64_t ctx;
    gp_time session_end;
    uint32_t n;
};

struct enip_browse {
    struct gp_host *eng;
    struct gp_host *plcs[128];
    int nplcs;
};

static const uint16_t product_codes[] = {55, 94, 166};

static void ident_parse_rev(const struct gp_host *h, uint8_t *maj, uint8_t *min)
{
    unsigned a = 0, b = 0;
    const char *p = h->firmware;
    while (*p >= '0' && *p <= '9') a = a * 10 + (unsigned)(*p++ - '0');
    if (*p == '.') p++;
    while (*p >= '0' && *p <= '9') b = b * 10 + (unsigned)(*p++ - '0');
    *maj = (uint8_t)a;
    *min = (uint8_t)b;
}

static uint32_t ident_serial(const struct gp_host *h)
{
    return (uint32_t)strtoul(h->serial, NULL, 16);
}

/* 24-byte encapsulation header; length patched by encap_end. */
static size_t encap_begin(struct gp_buf *b, uint16_t cmd, uint32_t session, uint64_t ctx)
{
    size_t off = b->n;
    put_le16(b, cmd);
    put_le16(b, 0);
    put_le32(b, session);
    put_le32(b, 0);
    put_le64(b, ctx);
    put_le32(b, 0);
    return off;
}

static void encap_end(struct gp_buf *b, size_t off)
{
    set_le16(b, off + 2, (uint16_t)(b->n - off - 24));
}

/* Identity object attributes 1-7 as Get_Attribute_All returns them. */
static void put_identity_attrs(struct gp_buf *b, const struct gp_host *h)
{
    uint8_t maj, min;
    ident_parse_rev(h, &maj, &min);
    put_le16(b, 1);    /* vendor: Rockwell Automation/Allen-Bradley */
    put_le16(b, 0x0E); /* device type: programmable logic controller */
    put_le16(b, product_codes[h->unit_or_addr % 3]);
    put_u8(b, maj);
    put_u8(b, min);
    put_le16(b, 0x3060); /* status: owned, configured, run */
    put_le32(b, ident_serial(h));
    put_u8(b, (uint8_t)strlen(h->model));
    put_str(b, h->model);
}

static int browse_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    struct enip_browse *w = t->state;
    gp_time now = t->next;
    int rc;
    t->next = now + GP_SEC(rng_range(&s->rng, 55, 65));
    uint64_t ctx = rng_next(&s->rng);
    buf_reset(&b);
    size_t e = encap_begin(&b, 0x0063, 0, ctx);
    encap_end(&b, e);
    uint16_t sport = (uint16_t)rng_range(&s->rng, 49152, 65535);
    if ((rc = send_udp(s, now, w->eng, w->eng->ip, mac_broadcast(), 0xffffffffu, sport, 44818,
                       b.d, b.n)) != GP_OK)
        return rc;
    for (int i = 0; i < w->nplcs; i++) {
        struct gp_host *h = w->plcs[i];
        uint8_t maj, min;
        ident_parse_rev(h, &maj, &min);
        buf_reset(&b);
        e = encap_begin(&b, 0x0063, 0, ctx);
        put_le16(&b, 1);      /* item count */
        put_le16(&b, 0x000C); /* CIP identity */
        size_t il = b.n;
        put_le16(&b, 0);
        put_le16(&b, 1);      /* encapsulation protocol version */
        put_be16(&b, 2);      /* sin_family */
        put_be16(&b, 44818);
        put_be32(&b, h->ip);
        put_zero(&b, 8);
        put_identity_attrs(&b, h);
        put_u8(&b, 0x03);     /* state */
        set_le16(&b, il, (uint16_t)(b.n - il - 2));
        encap_end(&b, e);
        gp_time at = now + GP_MS(rng_range(&s->rng, 1, 40)) + (gp_time)i * 300;
        if ((rc = send_udp_hosts(s, at, h, w->eng, 44818, sport, b.d, b.n)) != GP_OK)
            return rc;
    }
    return GP_OK;
}

/* SendRRData carrying one CIP message (unconnected data item). */
static void rr_data(struct gp_buf *b, uint32_t session, uint64_t ctx, const struct gp_buf *cip,
                    uint16_t timeout)
{
    buf_reset(b);
    size_t e = encap_begin(b, 0x006F, session, ctx);
    put_le32(b, 0);       /* interface handle: CIP */
    put_le16(b, timeout);
    put_le16(b, 2);       /* item count */
    put_le16(b, 0x0000);  /* null address item */
    put_le16(b, 0);
    put_le16(b, 0x00B2);  /* unconnected data item */
    put_le16(b, (uint16_t)cip->n);
    put_bytes(b, cip->d, cip->n);
    encap_end(b, e);
}

static int cip_exchange(struct gp_sim *s, struct enip_sess *e, gp_time t, const struct gp_buf *req,
                        const struct gp_buf *rsp, gp_time *done)
{
    static struct gp_buf b;
    int rc;
    uint64_t ctx = e->ctx++;
    if (req->overflow || rsp->overflow)
        return GP_ERR_RANGE;
    rr_data(&b, e->session, ctx, req, 10);
    if ((rc = tcp_data(s, &e->tcp, false, t, b.d, b.n)) != GP_OK)
        return rc;
    rr_data(&b, e->session, ctx, rsp, 0);
    t += rtt_us(s, 800, 4000);
    *done = t;
    return tcp_data(s, &e->tcp, true, t, b.d, b.n);
}

static void cip_path_identity(struct gp_buf *b, uint8_t service, int attr)
{
    put_u8(b, service);
    put_u8(b, attr >= 0 ? 3 : 2);
    put_u8(b, 0x20); put_u8(b, 0x01); /* class 1: Identity */
    put_u8(b, 0x24); put_u8(b, 0x01); /* instance 1 */
    if (attr >= 0) {
        put_u8(b, 0x30);
        put_u8(b, (uint8_t)attr);
    }
}

static void cip_rsp_hdr(struct gp_buf *b, uint8_t service, uint8_t status)
{
    put_u8(b, (uint8_t)(service | 0x80));
    put_u8(b, 0);
    put_u8(b, status);
    put_u8(b, 0);
}

static int get_attr_single(struct gp_sim *s, struct enip_sess *e, gp_time t, int attr,
                           gp_time *done)
{
    static struct gp_buf req, rsp;
    const struct gp_host *h = e->plc;
    uint8_t maj, min;
    ident_parse_rev(h, &maj, &min);
    buf_reset(&req);
    buf_reset(&rsp);
    cip_path_identity(&req, 0x0E, attr);
    cip_rsp_hdr(&rsp, 0x0E, 0);
    switch (attr) {
    case 1: put_le16(&rsp, 1); break;
    case 2: put_le16(&rsp, 0x0E); break;
    case 3: put_le16(&rsp, product_codes[h->unit_or_addr % 3]); break;
    case 4: put_u8(&rsp, maj); put_u8(&rsp, min); break;
    case 5: put_le16(&rsp, 0x3060); break;
    case 6: put_le32(&rsp, ident_serial(h)); break;
    default:
        put_u8(&rsp, (uint8_t)strlen(h->model));
        put_str(&rsp, h->model);
        break;
    }
    return cip_exchange(s, e, t, &req, &rsp, done);
}

static int unconnected_send(struct gp_sim *s, struct enip_sess *e, gp_time t, gp_time *done)
{
    static struct gp_buf req, rsp, emb;
    buf_reset(&emb);
    cip_path_identity(&emb, 0x01, -1); /* Get_Attribute_All, Identity */
    buf_reset(&req);
    put_u8(&req, 0x52);
    put_u8(&req, 2);
    put_u8(&req, 0x20); put_u8(&req, 0x06); /* Connection Manager */
    put_u8(&req, 0x24); put_u8(&req, 0x01);
    put_u8(&req, 0x07);  /* priority / time tick */
    put_u8(&req, 0xE9);  /* timeout ticks */
    put_le16(&req, (uint16_t)emb.n);
    put_bytes(&req, emb.d, emb.n);
    if (emb.n & 1)
        put_u8(&req, 0);
    put_u8(&req, 1);     /* route path size (words) */
    put_u8(&req, 0);
    put_u8(&req, 0x01);  /* backplane port 1 */
    put_u8(&req, 0x00);  /* slot 0 */
    buf_reset(&rsp);
    cip_rsp_hdr(&rsp, 0x01, 0);
    put_identity_attrs(&rsp, e->plc);
    return cip_exchange(s, e, t, &req, &rsp, done);
}

static int register_session(struct gp_sim *s, struct enip_sess *e, gp_time t, gp_time *done)
{
    static struct gp_buf b;
    int rc;
    tcp_init(s, &e->tcp, e->cli, e->plc, 44818);
    if ((rc = tcp_connect(s, &e->tcp, t, &t)) != GP_OK)
        return rc;
    e->ctx = rng_next(&s->rng) & 0xffffffffffffull;
    buf_reset(&b);
    size_t h = encap_begin(&b, 0x0065, 0, e->ctx);
    put_le16(&b, 1);
    put_le16(&b, 0);
    encap_end(&b, h);
    t += GP_MS(1);
    if ((rc = tcp_data(s, &e->tcp, false, t, b.d, b.n)) != GP_OK)
        return rc;
    e->session = (uint32_t)rng_next(&s->rng) | 1u;
    buf_reset(&b);
    h = encap_begin(&b, 0x0065, e->session, e->ctx);
    put_le16(&b, 1);
    put_le16(&b, 0);
    encap_end(&b, h);
    t += rtt_us(s, 700, 3000);
    e->ctx++;
    *done = t;
    return tcp_data(s, &e->tcp, true, t, b.d, b.n);
}

static int unregister_close(struct gp_sim *s, struct enip_sess *e, gp_time t, gp_time *done)
{
    static struct gp_buf b;
    int rc;
    buf_reset(&b);
    size_t h = encap_begin(&b, 0x0066, e->session, 0);
    encap_end(&b, h);
    if ((rc = tcp_data(s, &e->tcp, false, t, b.d, b.n)) != GP_OK)
        return rc;
    /* the target closes the connection without answering */
    return tcp_close(s, &e->tcp, true, t + rtt_us(s, 500, 2000), done);
}

static int sess_step(struct gp_sim *s, struct gp_task *t)
{
    struct enip_sess *e = t->state;
    gp_time now = t->next;
    int rc;
    if (!e->tcp.open) {
        if ((rc = register_session(s, e, now, &now)) != GP_OK)
            return rc;
        e->session_end = now + GP_SEC(rng_range(&s->rng, 90, 900));
        t->next = now + GP_MS(10);
        return GP_OK;
    }
    if (now >= e->session_end) {
        if ((rc = unregister_close(s, e, now, &now)) != GP_OK)
            return rc;
        t->next = now + GP_MS(rng_range(&s->rng, 500, 3000));
        return GP_OK;
    }
    gp_time start = now;
    e->n++;
    if (e->n % 5 == 0)
        rc = unconnected_send(s, e, now, &now);
    else
        rc = get_attr_single(s, e, now, (int)(1 + e->n % 7), &now);
    if (rc != GP_OK)
        return rc;
    if ((rc = tcp_ack(s, &e->tcp, false, now + GP_MS(200))) != GP_OK)
        return rc;
    t->next = start + jitter(s, GP_SEC(1), 2);
    return GP_OK;
}

int gen_enip_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    struct enip_browse *w = gp_alloc(s, sizeof *w);
    if (!w)
        return GP_ERR_NOMEM;
    w->eng = p->eng;
    int k = 0;
    for (int i = 0; i < p->nhosts; i++) {
        struct gp_host *h = &p->hosts[i];
        if (h->role != ROLE_PLC_ENIP)
            continue;
        if (w->nplcs < 128)
            w->plcs[w->nplcs++] = h;
        struct enip_sess *e = gp_alloc(s, sizeof *e);
        if (!e)
            return GP_ERR_NOMEM;
        e->cli = p->hmis[(k + 2) % p->nhmis];
        e->plc = h;
        if (!task_add(s, s->t0 + rng_below(&s->rng, (uint32_t)GP_SEC(3)), sess_step, e))
            return GP_ERR_NOMEM;
        k++;
    }
    if (w->nplcs > 0 &&
        !task_add(s, s->t0 + GP_SEC(3) + rng_below(&s->rng, (uint32_t)GP_SEC(5)), browse_step, w))
        return GP_ERR_NOMEM;
    return GP_OK;
}

int gen_enip_attack_firmware(struct gp_sim *s, gp_time t, struct gp_host *from,
                             struct gp_host *plc, gp_time *done)
{
    static struct gp_buf req, rsp;
    struct enip_sess e;
    int rc;
    memset(&e, 0, sizeof e);
    e.cli = from;
    e.plc = plc;
    gp_time now = t;
    if ((rc = register_session(s, &e, now, &now)) != GP_OK)
        return rc;
    /* What ControlFLASH sends (as in the public capture EIP-FirmwareChange.pcap):
     * requests to the Rockwell flash update object, class 0xA1 instance 1, over
     * SendRRData. First a service 0x51 the target rejects (status 0x08, service not
     * supported), then 0x4B begin update with the image size, answered with the
     * largest block the target takes (350 bytes), then 0x4D blocks (offset + data),
     * each acknowledged with its offset, then an Identity Reset to boot the new
     * image. The image here is a short one (a real one is ~1.8 MB, 5000+ blocks). */
    const uint32_t block = 350, nblocks = 12;
    const uint32_t size = nblocks * block - 276; /* last block shorter, as in the capture */
    now += GP_MS(rng_range(&s->rng, 200, 600));
    buf_reset(&req);
    put_u8(&req, 0x51);
    put_u8(&req, 2);
    put_u8(&req, 0x20); put_u8(&req, 0xA1);
    put_u8(&req, 0x24); put_u8(&req, 0x01);
    put_le32(&req, size);
    put_le32(&req, 0);
    put_le16(&req, 1);
    put_le16(&req, 1);
    put_le32(&req, 0x0051AEC3); /* image checksum */
    buf_reset(&rsp);
    cip_rsp_hdr(&rsp, 0x51, 0x08); /* service not supported */
    if ((rc = cip_exchange(s, &e, now, &req, &rsp, &now)) != GP_OK)
        return rc;
    now += rtt_us(s, 300, 900);
    buf_reset(&req);
    put_u8(&req, 0x4B);
    put_u8(&req, 2);
    put_u8(&req, 0x20); put_u8(&req, 0xA1);
    put_u8(&req, 0x24); put_u8(&req, 0x01);
    put_le32(&req, size);
    put_le32(&req, 0);
    buf_reset(&rsp);
    cip_rsp_hdr(&rsp, 0x4B, 0);
    put_le16(&rsp, 0);
    put_le16(&rsp, 0x147B);
    put_le16(&rsp, (uint16_t)block); /* largest block */
    put_le16(&rsp, 0x0304);
    put_le32(&rsp, 0);
    if ((rc = cip_exchange(s, &e, now, &req, &rsp, &now)) != GP_OK)
        return rc;
    for (uint32_t off = 0; off < size; off += block) {
        uint32_t n = size - off < block ? size - off : block;
        now += rtt_us(s, 500, 2000);
        buf_reset(&req);
        put_u8(&req, 0x4D);
        put_u8(&req, 2);
        put_u8(&req, 0x20); put_u8(&req, 0xA1);
        put_u8(&req, 0x24); put_u8(&req, 0x01);
        put_le32(&req, off);
        for (uint32_t i = 0; i < n; i++)
            put_u8(&req, off + i < size - 64 ? (uint8_t)((off + i) * 53 + (off + i) / 7) : 0xFF);
        buf_reset(&rsp);
        cip_rsp_hdr(&rsp, 0x4D, 0);
        put_le32(&rsp, off);
        put_le16(&rsp, 2);
        if ((rc = cip_exchange(s, &e, now, &req, &rsp, &now)) != GP_OK)
            return rc;
    }
    /* apply: Identity Reset (type 0: power cycle emulation) */
    now += GP_MS(rng_range(&s->rng, 300, 900));
    buf_reset(&req);
    put_u8(&req, 0x05);
    put_u8(&req, 2);
    put_u8(&req, 0x20); put_u8(&req, 0x01);
    put_u8(&req, 0x24); put_u8(&req, 0x01);
    put_u8(&req, 0x00);
    buf_reset(&rsp);
    cip_rsp_hdr(&rsp, 0x05, 0);
    if ((rc = cip_exchange(s, &e, now, &req, &rsp, &now)) != GP_OK)
        return rc;
    if ((rc = unregister_close(s, &e, now + GP_MS(100), &now)) != GP_OK)
        return rc;
    if (done)
        *done = now;
    return GP_OK;
}
