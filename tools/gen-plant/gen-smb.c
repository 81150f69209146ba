/* gen-smb.c - SMB2 NEGOTIATE (TCP 445) from the HMIs to the domain controller.
 *
 * What it is for: once a minute each HMI (Group Policy refresh) opens a
 * connection to dc01:445 and negotiates SMB2 (dialects 2.0.2, 2.1, 3.0, 3.0.2; no
 * 3.1.1, so no negotiate contexts); dc01 answers with dialect 3.0.2, signing
 * required, its server GUID, sizes, system time and a SPNEGO negTokenInit
 * (Kerberos and NTLMSSP). The client then closes (the session setup that would
 * follow is not modelled).
 *
 * What it must never do: emit a NetBIOS session length, SMB2 structure size or
 * security buffer offset/length that disagrees with the bytes.
 */
#include "gen.h"

#include <string.h>

struct smb_state {
    struct gp_tcp tcp;
    struct gp_host *cli, *srv;
    uint8_t cli_guid[16], srv_guid[16];
    uint64_t msg_id;
};

static void smb_hdr(struct gp_buf *b, bool resp, uint64_t mid)
{
    buf_reset(b);
    put_be32(b, 0);            /* NetBIOS session message, length patched */
    put_bytes(b, "\xfeSMB", 4);
    put_le16(b, 64);
    put_le16(b, 0);            /* credit charge */
    put_le32(b, 0);            /* status */
    put_le16(b, 0);            /* NEGOTIATE */
    put_le16(b, 1);            /* credits */
    put_le32(b, resp ? 1 : 0); /* flags: server to redir */
    put_le32(b, 0);            /* next command */
    put_le64(b, mid);
    put_le32(b, 0xfeff);       /* process id */
    put_le32(b, 0);            /* tree id */
    put_le64(b, 0);            /* session id */
    put_zero(b, 16);           /* signature */
}

static void smb_end(struct gp_buf *b)
{
    uint32_t n = (uint32_t)(b->n - 4);
    b->d[1] = (uint8_t)(n >> 16);
    b->d[2] = (uint8_t)(n >> 8);
    b->d[3] = (uint8_t)n;
}

static void smb_spnego(struct gp_buf *b)
{
    size_t app = ber_begin(b, 0x60);
    put_bytes(b, "\x06\x06\x2b\x06\x01\x05\x05\x02", 8);    /* SPNEGO */
    size_t ti = ber_begin(b, 0xa0);
    size_t seq = ber_begin(b, 0x30);
    size_t mt = ber_begin(b, 0xa0);
    size_t ml = ber_begin(b, 0x30);
    put_bytes(b, "\x06\x09\x2a\x86\x48\x82\xf7\x12\x01\x02\x02", 11); /* MS Kerberos */
    put_bytes(b, "\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02", 11); /* Kerberos 5 */
    put_bytes(b, "\x06\x0a\x2b\x06\x01\x04\x01\x82\x37\x02\x02\x0a", 12); /* NTLMSSP */
    ber_end(b, ml);
    ber_end(b, mt);
    size_t hints = ber_begin(b, 0xa3);
    size_t hs = ber_begin(b, 0x30);
    size_t hn = ber_begin(b, 0xa0);
    ber_str(b, 0x1b, "not_defined_in_RFC4178@please_ignore");
    ber_end(b, hn);
    ber_end(b, hs);
    ber_end(b, hints);
    ber_end(b, seq);
    ber_end(b, ti);
    ber_end(b, app);
}

static int smb_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    struct smb_state *st = t->state;
    gp_time now = t->next;
    int rc;
    t->next = now + jitter(s, GP_SEC(60), 3);
    tcp_init(s, &st->tcp, st->cli, st->srv, 445);
    if ((rc = tcp_connect(s, &st->tcp, now, &now)) != GP_OK)
        return rc;
    smb_hdr(&b, false, 0);
    put_le16(&b, 36);
    put_le16(&b, 4);
    put_le16(&b, 1);            /* signing enabled */
    put_le16(&b, 0);
    put_le32(&b, 0x0000007f);
    put_bytes(&b, st->cli_guid, 16);
    put_le64(&b, 0);            /* client start time */
    put_le16(&b, 0x0202);
    put_le16(&b, 0x0210);
    put_le16(&b, 0x0300);
    put_le16(&b, 0x0302);
    smb_end(&b);
    now += GP_MS(1);
    if ((rc = tcp_data(s, &st->tcp, false, now, b.d, b.n)) != GP_OK)
        return rc;
    smb_hdr(&b, true, 0);
    put_le16(&b, 65);
    put_le16(&b, 3);            /* signing enabled and required */
    put_le16(&b, 0x0302);
    put_le16(&b, 0);
    put_bytes(&b, st->srv_guid, 16);
    put_le32(&b, 0x0000002f);
    put_le32(&b, 8388608);
    put_le32(&b, 8388608);
    put_le32(&b, 8388608);
    put_le64(&b, now * 10u + 116444736000000000ull);
    put_le64(&b, 0);
    put_le16(&b, 0x80);
    size_t secl = b.n;
    put_le16(&b, 0);
    put_le32(&b, 0);
    size_t sec = b.n;
    smb_spnego(&b);
    set_le16(&b, secl, (uint16_t)(b.n - sec));
    smb_end(&b);
    if (b.overflow || sec - 4 != 0x80)
        return GP_ERR_RANGE;
    now += rtt_us(s, 500, 3000);
    if ((rc = tcp_data(s, &st->tcp, true, now, b.d, b.n)) != GP_OK)
        return rc;
    now += GP_MS(1);
    if ((rc = tcp_ack(s, &st->tcp, false, now)) != GP_OK)
        return rc;
    return tcp_close(s, &st->tcp, false, now + GP_MS(5), &now);
}

int gen_smb_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    struct gp_rng cfg;
    plant_rng(p, "smb", &cfg);
    uint8_t srv_guid[16];
    for (int i = 0; i < 16; i++)
        srv_guid[i] = (uint8_t)rng_next(&cfg);
    for (int i = 0; i < p->nhmis; i++) {
        struct smb_state *st = gp_alloc(s, sizeof *st);
        if (!st)
            return GP_ERR_NOMEM;
        st->cli = p->hmis[i];
        st->srv = p->dc;
        for (int k = 0; k < 16; k++)
            st->cli_guid[k] = (uint8_t)rng_next(&cfg);
        memcpy(st->srv_guid, srv_guid, 16);
        gp_time at = s->t0 + GP_SEC(2) + rng_below(&s->rng, (uint32_t)GP_SEC(12));
        if (!task_add(s, at, smb_step, st))
            return GP_ERR_NOMEM;
    }
    return GP_OK;
}
