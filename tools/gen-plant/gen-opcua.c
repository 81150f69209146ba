/* gen-opcua.c - OPC UA binary (opc.tcp, port 4840): historian reading the SCADA server.
 *
 * What it is for: the historian (client) keeps a session to the SCADA server's
 * OPC UA server: HEL/ACK, OPN (OpenSecureChannel, SecurityPolicy None), MSG
 * CreateSession and ActivateSession (anonymous), then a Read of 4 tags every
 * second (DataValues with a Double and source/server timestamps); after a while
 * CloseSession, CLO and FIN, and it reconnects. Sequence numbers and request ids
 * increase per secure channel as the specification requires.
 *
 * What it must never do: emit a message whose MessageSize differs from its bytes,
 * or a structure with a missing field (tshark decodes every field in order).
 */
#include "gen.h"

#include <string.h>

#define POLICY_NONE "http://opcfoundation.org/UA/SecurityPolicy#None"

struct ua_sess {
    struct gp_tcp tcp;
    struct gp_host *cli, *srv;
    uint32_t channel, token, seq_c, seq_s, req_id, handle;
    uint32_t session_id, auth;
    gp_time session_end;
    double tags[4];
    bool active;
};

static char endpoint[64];

static uint64_t ua_time(gp_time t)
{
    return (uint64_t)t * 10u + 116444736000000000ull;
}

static void ua_string(struct gp_buf *b, const char *s)
{
    if (!s) {
        put_le32(b, 0xffffffffu);
        return;
    }
    put_le32(b, (uint32_t)strlen(s));
    put_str(b, s);
}

static void ua_double(struct gp_buf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_le64(b, v);
}

static void ua_nodeid4(struct gp_buf *b, uint8_t ns, uint16_t id)
{
    put_u8(b, 0x01);
    put_u8(b, ns);
    put_le16(b, id);
}

static void ua_nodeid_num(struct gp_buf *b, uint16_t ns, uint32_t id)
{
    put_u8(b, 0x02);
    put_le16(b, ns);
    put_le32(b, id);
}

static void req_header(struct ua_sess *u, struct gp_buf *b, gp_time t)
{
    if (u->active)
        ua_nodeid_num(b, 1, u->auth);
    else {
        put_u8(b, 0x00); /* null NodeId (two-byte) */
        put_u8(b, 0x00);
    }
    put_le64(b, ua_time(t));
    put_le32(b, ++u->handle);
    put_le32(b, 0);         /* return diagnostics */
    ua_string(b, NULL);     /* audit entry id */
    put_le32(b, 10000);     /* timeout hint */
    put_u8(b, 0x00);        /* additional header: null ExtensionObject */
    put_u8(b, 0x00);
    put_u8(b, 0x00);
}

static void rsp_header(struct ua_sess *u, struct gp_buf *b, gp_time t)
{
    put_le64(b, ua_time(t));
    put_le32(b, u->handle);
    put_le32(b, 0);          /* Good */
    put_u8(b, 0x00);         /* diagnostic info: empty */
    put_le32(b, 0);          /* string table: empty array */
    put_u8(b, 0x00);
    put_u8(b, 0x00);
    put_u8(b, 0x00);
}

static size_t msg_begin(struct gp_buf *b, const char *type)
{
    buf_reset(b);
    put_bytes(b, type, 3);
    put_u8(b, 'F');
    put_le32(b, 0);
    return 0;
}

static void msg_end(struct gp_buf *b)
{
    set_le32(b, 4, (uint32_t)b->n);
}

/* symmetric MSG/CLO header */
static void sym_header(struct ua_sess *u, struct gp_buf *b, bool from_srv, uint32_t req_id)
{
    put_le32(b, u->channel);
    put_le32(b, u->token);
    put_le32(b, from_srv ? ++u->seq_s : ++u->seq_c);
    put_le32(b, req_id);
}

static int send_msg(struct gp_sim *s, struct ua_sess *u, bool from_srv, gp_time t, struct gp_buf *b)
{
    msg_end(b);
    if (b->overflow)
        return GP_ERR_RANGE;
    return tcp_data_split(s, &u->tcp, from_srv, t, b->d, b->n, 0, 30);
}

static int ua_open(struct gp_sim *s, struct ua_sess *u, gp_time t, gp_time *done)
{
    static struct gp_buf b;
    int rc;
    tcp_init(s, &u->tcp, u->cli, u->srv, 4840);
    if ((rc = tcp_connect(s, &u->tcp, t, &t)) != GP_OK)
        return rc;
    u->seq_c = (uint32_t)rng_range(&s->rng, 1, 1000);
    u->seq_s = (uint32_t)rng_range(&s->rng, 1, 1000);
    u->req_id = 0;
    u->handle = 0;
    u->active = false;

    msg_begin(&b, "HEL");
    put_le32(&b, 0);
    put_le32(&b, 65536);
    put_le32(&b, 65536);
    put_le32(&b, 0);
    put_le32(&b, 0);
    ua_string(&b, endpoint);
    t += GP_MS(1);
    if ((rc = send_msg(s, u, false, t, &b)) != GP_OK)
        return rc;
    msg_begin(&b, "ACK");
    put_le32(&b, 0);
    put_le32(&b, 65536);
    put_le32(&b, 65536);
    put_le32(&b, 16777216);
    put_le32(&b, 5000);
    t += rtt_us(s, 500, 2000);
    if ((rc = send_msg(s, u, true, t, &b)) != GP_OK)
        return rc;

    /* OpenSecureChannel */
    uint32_t rid = ++u->req_id;
    msg_begin(&b, "OPN");
    put_le32(&b, 0);
    ua_string(&b, POLICY_NONE);
    put_le32(&b, 0xffffffffu);
    put_le32(&b, 0xffffffffu);
    put_le32(&b, ++u->seq_c);
    put_le32(&b, rid);
    ua_nodeid4(&b, 0, 446);
    req_header(u, &b, t);
    put_le32(&b, 0);       /* client protocol version */
    put_le32(&b, 0);       /* Issue */
    put_le32(&b, 1);       /* MessageSecurityMode None */
    put_le32(&b, 0);       /* client nonce: empty */
    put_le32(&b, 3600000); /* requested lifetime */
    t += GP_MS(1);
    if ((rc = send_msg(s, u, false, t, &b)) != GP_OK)
        return rc;
    u->channel = (uint32_t)rng_range(&s->rng, 1, 0x7fffffff);
    u->token = (uint32_t)rng_range(&s->rng, 1, 0x7fffffff);
    msg_begin(&b, "OPN");
    put_le32(&b, u->channel);
    ua_string(&b, POLICY_NONE);
    put_le32(&b, 0xffffffffu);
    put_le32(&b, 0xffffffffu);
    put_le32(&b, ++u->seq_s);
    put_le32(&b, rid);
    ua_nodeid4(&b, 0, 449);
    t += rtt_us(s, 800, 3000);
    rsp_header(u, &b, t);
    put_le32(&b, 0);
    put_le32(&b, u->channel);
    put_le32(&b, u->token);
    put_le64(&b, ua_time(t));
    put_le32(&b, 3600000);
    put_le32(&b, 0);       /* server nonce: empty */
    if ((rc = send_msg(s, u, true, t, &b)) != GP_OK)
        return rc;

    /* CreateSession */
    char uri[96];
    rid = ++u->req_id;
    msg_begin(&b, "MSG");
    sym_header(u, &b, false, rid);
    ua_nodeid4(&b, 0, 461);
    req_header(u, &b, t);
    memcpy(uri, "urn:", 4);
    strncpy(uri + 4, u->cli->name, sizeof uri - 40);
    uri[sizeof uri - 36] = 0;
    strcat(uri, ":Historian:OpcUaClient");
    ua_string(&b, uri);
    ua_string(&b, "urn:plant:historian");
    put_u8(&b, 0x02);      /* LocalizedText: text only */
    ua_string(&b, "Plant Historian Collector");
    put_le32(&b, 1);       /* Client */
    ua_string(&b, NULL);
    ua_string(&b, NULL);
    put_le32(&b, 0xffffffffu); /* discovery urls: null array */
    ua_string(&b, NULL);   /* server uri */
    ua_string(&b, endpoint);
    ua_string(&b, "HistorianSession");
    put_le32(&b, 32);
    for (int i = 0; i < 32; i++)
        put_u8(&b, (uint8_t)rng_next(&s->rng));
    put_le32(&b, 0xffffffffu); /* client certificate */
    ua_double(&b, 1200000.0);
    put_le32(&b, 0);
    t += GP_MS(2);
    if ((rc = send_msg(s, u, false, t, &b)) != GP_OK)
        return rc;
    u->session_id = (uint32_t)rng_range(&s->rng, 1000, 900000);
    u->auth = (uint32_t)rng_next(&s->rng);
    msg_begin(&b, "MSG");
    sym_header(u, &b, true, rid);
    ua_nodeid4(&b, 0, 464);
    t += rtt_us(s, 2000, 8000);
    rsp_header(u, &b, t);
    ua_nodeid_num(&b, 1, u->session_id);
    ua_nodeid_num(&b, 1, u->auth);
    ua_double(&b, 1200000.0);
    put_le32(&b, 32);
    for (int i = 0; i < 32; i++)
        put_u8(&b, (uint8_t)rng_next(&s->rng));
    put_le32(&b, 0xffffffffu); /* server certificate */
    put_le32(&b, 0);           /* server endpoints */
    put_le32(&b, 0);           /* server software certificates */
    ua_string(&b, NULL);       /* signature algorithm */
    put_le32(&b, 0xffffffffu); /* signature */
    put_le32(&b, 0);
    if ((rc = send_msg(s, u, true, t, &b)) != GP_OK)
        return rc;
    u->active = true;

    /* ActivateSession, anonymous */
    rid = ++u->req_id;
    msg_begin(&b, "MSG");
    sym_header(u, &b, false, rid);
    ua_nodeid4(&b, 0, 467);
    t += GP_MS(2);
    req_header(u, &b, t);
    ua_string(&b, NULL);
    put_le32(&b, 0xffffffffu);
    put_le32(&b, 0);           /* client software certificates */
    put_le32(&b, 1);
    ua_string(&b, "en-US");
    ua_nodeid4(&b, 0, 321);    /* AnonymousIdentityToken, binary */
    put_u8(&b, 0x01);
    put_le32(&b, 4 + 9);
    ua_string(&b, "anonymous");
    ua_string(&b, NULL);
    put_le32(&b, 0xffffffffu);
    if ((rc = send_msg(s, u, false, t, &b)) != GP_OK)
        return rc;
    msg_begin(&b, "MSG");
    sym_header(u, &b, true, rid);
    ua_nodeid4(&b, 0, 470);
    t += rtt_us(s, 2000, 8000);
    rsp_header(u, &b, t);
    put_le32(&b, 32);
    for (int i = 0; i < 32; i++)
        put_u8(&b, (uint8_t)rng_next(&s->rng));
    put_le32(&b, 0);
    put_le32(&b, 0);
    if ((rc = send_msg(s, u, true, t, &b)) != GP_OK)
        return rc;
    *done = t;
    return GP_OK;
}

static int ua_read(struct gp_sim *s, struct ua_sess *u, gp_time t, gp_time *done)
{
    static struct gp_buf b;
    int rc;
    uint32_t rid = ++u->req_id;
    msg_begin(&b, "MSG");
    sym_header(u, &b, false, rid);
    ua_nodeid4(&b, 0, 631);
    req_header(u, &b, t);
    ua_double(&b, 0.0);
    put_le32(&b, 2);  /* timestamps: both */
    put_le32(&b, 4);
    for (int i = 0; i < 4; i++) {
        ua_nodeid4(&b, 2, (uint16_t)(1001 + i));
        put_le32(&b, 13); /* Value */
        ua_string(&b, NULL);
        put_le16(&b, 0);
        ua_string(&b, NULL);
    }
    if ((rc = send_msg(s, u, false, t, &b)) != GP_OK)
        return rc;
    msg_begin(&b, "MSG");
    sym_header(u, &b, true, rid);
    ua_nodeid4(&b, 0, 634);
    gp_time rt = t + rtt_us(s, 1000, 5000);
    rsp_header(u, &b, rt);
    put_le32(&b, 4);
    for (int i = 0; i < 4; i++) {
        u->tags[i] += (double)((int)rng_below(&s->rng, 201) - 100) / 100.0;
        put_u8(&b, 0x0D); /* value, source and server timestamps */
        put_u8(&b, 11);   /* Double */
        ua_double(&b, u->tags[i]);
        put_le64(&b, ua_time(t - GP_MS(rng_range(&s->rng, 10, 900))));
        put_le64(&b, ua_time(rt));
    }
    put_le32(&b, 0);
    *done = rt;
    return send_msg(s, u, true, rt, &b);
}

static int ua_close(struct gp_sim *s, struct ua_sess *u, gp_time t, gp_time *done)
{
    static struct gp_buf b;
    int rc;
    uint32_t rid = ++u->req_id;
    msg_begin(&b, "MSG");
    sym_header(u, &b, false, rid);
    ua_nodeid4(&b, 0, 473);
    req_header(u, &b, t);
    put_u8(&b, 1); /* delete subscriptions */
    if ((rc = send_msg(s, u, false, t, &b)) != GP_OK)
        return rc;
    msg_begin(&b, "MSG");
    sym_header(u, &b, true, rid);
    ua_nodeid4(&b, 0, 476);
    t += rtt_us(s, 1000, 4000);
    rsp_header(u, &b, t);
    if ((rc = send_msg(s, u, true, t, &b)) != GP_OK)
        return rc;
    u->active = false;
    rid = ++u->req_id;
    msg_begin(&b, "CLO");
    sym_header(u, &b, false, rid);
    ua_nodeid4(&b, 0, 452);
    t += GP_MS(1);
    req_header(u, &b, t);
    if ((rc = send_msg(s, u, false, t, &b)) != GP_OK)
        return rc;
    return tcp_close(s, &u->tcp, false, t + GP_MS(1), done);
}

static int ua_step(struct gp_sim *s, struct gp_task *t)
{
    struct ua_sess *u = t->state;
    gp_time now = t->next;
    int rc;
    if (!u->tcp.open) {
        if ((rc = ua_open(s, u, now, &now)) != GP_OK)
            return rc;
        u->session_end = now + GP_SEC(rng_range(&s->rng, 120, 1200));
        t->next = now + GP_MS(50);
        return GP_OK;
    }
    if (now >= u->session_end) {
        if ((rc = ua_close(s, u, now, &now)) != GP_OK)
            return rc;
        t->next = now + GP_SEC(rng_range(&s->rng, 2, 10));
        return GP_OK;
    }
    gp_time start = now;
    if ((rc = ua_read(s, u, now, &now)) != GP_OK)
        return rc;
    if ((rc = tcp_ack(s, &u->tcp, false, now + GP_MS(200))) != GP_OK)
        return rc;
    t->next = start + jitter(s, GP_SEC(1), 1);
    return GP_OK;
}

int gen_opcua_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    struct ua_sess *u = gp_alloc(s, sizeof *u);
    if (!u)
        return GP_ERR_NOMEM;
    u->cli = p->historian;
    u->srv = p->scada;
    memcpy(endpoint, "opc.tcp://", 10);
    strncpy(endpoint + 10, p->scada->name, 30);
    endpoint[40] = 0;
    strcat(endpoint, ":4840");
    for (int i = 0; i < 4; i++)
        u->tags[i] = 20.0 + 10.0 * i + (double)rng_below(&s->rng, 1000) / 100.0;
    return task_add(s, s->t0 + GP_MS(500) + rng_below(&s->rng, (uint32_t)GP_SEC(2)), ua_step, u)
               ? GP_OK
               : GP_ERR_NOMEM;
}
