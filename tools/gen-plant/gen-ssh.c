/* gen-ssh.c - SSH (TCP 22): the engineering station logs into the core switch.
 *
 * What it is for: once a minute eng-ws01 (PuTTY) connects to core-sw01's SSH
 * server: both sides send their identification line ("SSH-2.0-..."), then their
 * SSH_MSG_KEXINIT (cookie, algorithm name-lists); the client then gives up and
 * closes (a monitoring script checking reachability), as is common on OT networks.
 *
 * What it must never do: emit a binary packet whose length or padding is not a
 * valid SSH framing (block multiple of 8, at least 4 bytes of padding).
 */
#include "gen.h"

#include <string.h>

struct ssh_state {
    struct gp_tcp tcp;
    struct gp_host *cli, *srv;
};

static void ssh_namelist(struct gp_buf *b, const char *s)
{
    put_be32(b, (uint32_t)strlen(s));
    put_str(b, s);
}

static void ssh_kexinit(struct gp_sim *s, struct gp_buf *b, bool server)
{
    buf_reset(b);
    put_be32(b, 0);
    put_u8(b, 0);
    size_t pl = b->n;
    put_u8(b, 20);
    for (int i = 0; i < 16; i++)
        put_u8(b, (uint8_t)rng_next(&s->rng));
    if (server) {
        ssh_namelist(b, "diffie-hellman-group14-sha1,ecdh-sha2-nistp256,ecdh-sha2-nistp384");
        ssh_namelist(b, "ssh-rsa");
        ssh_namelist(b, "aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com");
        ssh_namelist(b, "aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com");
        ssh_namelist(b, "hmac-sha2-256,hmac-sha2-512,hmac-sha1");
        ssh_namelist(b, "hmac-sha2-256,hmac-sha2-512,hmac-sha1");
    } else {
        ssh_namelist(b, "curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256,"
                        "diffie-hellman-group14-sha1");
        ssh_namelist(b, "ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256,ssh-rsa");
        ssh_namelist(b, "aes256-ctr,aes128-ctr,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com");
        ssh_namelist(b, "aes256-ctr,aes128-ctr,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com");
        ssh_namelist(b, "hmac-sha2-256,hmac-sha1");
        ssh_namelist(b, "hmac-sha2-256,hmac-sha1");
    }
    ssh_namelist(b, "none");
    ssh_namelist(b, "none");
    ssh_namelist(b, "");
    ssh_namelist(b, "");
    put_u8(b, 0);      /* first_kex_packet_follows */
    put_be32(b, 0);    /* reserved */
    size_t payload = b->n - pl;
    size_t pad = 8 - ((5 + payload) % 8);
    if (pad < 4)
        pad += 8;
    put_zero(b, pad);
    b->d[4] = (uint8_t)pad;
    uint32_t len = (uint32_t)(1 + payload + pad);
    b->d[0] = (uint8_t)(len >> 24);
    b->d[1] = (uint8_t)(len >> 16);
    b->d[2] = (uint8_t)(len >> 8);
    b->d[3] = (uint8_t)len;
}

static int ssh_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    static const char cid[] = "SSH-2.0-PuTTY_Release_0.80\r\n";
    static const char sid[] = "SSH-2.0-Cisco-1.25\r\n";
    struct ssh_state *st = t->state;
    gp_time now = t->next;
    int rc;
    t->next = now + jitter(s, GP_SEC(60), 3);
    tcp_init(s, &st->tcp, st->cli, st->srv, 22);
    if ((rc = tcp_connect(s, &st->tcp, now, &now)) != GP_OK)
        return rc;
    now += rtt_us(s, 2000, 6000);
    if ((rc = tcp_data(s, &st->tcp, true, now, (const uint8_t *)sid, strlen(sid))) != GP_OK)
        return rc;
    now += GP_MS(1) + rng_below(&s->rng, 2000);
    if ((rc = tcp_data(s, &st->tcp, false, now, (const uint8_t *)cid, strlen(cid))) != GP_OK)
        return rc;
    ssh_kexinit(s, &b, false);
    now += GP_MS(1);
    if ((rc = tcp_data(s, &st->tcp, false, now, b.d, b.n)) != GP_OK)
        return rc;
    ssh_kexinit(s, &b, true);
    now += rtt_us(s, 2000, 8000);
    if ((rc = tcp_data(s, &st->tcp, true, now, b.d, b.n)) != GP_OK)
        return rc;
    return tcp_close(s, &st->tcp, false, now + GP_MS(20), &now);
}

int gen_ssh_setup(struct gp_sim *s)
{
    struct ssh_state *st = gp_alloc(s, sizeof *st);
    if (!st)
        return GP_ERR_NOMEM;
    st->cli = s->plant->eng;
    st->srv = s->plant->router;
    gp_time first = s->t0 + GP_SEC(4) + rng_below(&s->rng, (uint32_t)GP_SEC(10));
    return task_add(s, first, ssh_step, st) ? GP_OK : GP_ERR_NOMEM;
}
