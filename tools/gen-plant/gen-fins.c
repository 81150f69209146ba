/* gen-fins.c - Omron FINS over UDP 9600 from an HMI to the Omron PLC.
 *
 * What it is for: hmi01 reads a block of DM words of plc-omron01 every second
 * (memory area read, MRC/SRC 01 01, area 0x82) and reads the controller data
 * (05 01: CPU model and version) once a minute; the PLC answers with end code 0.
 * Node numbers are the last octets of the IP addresses (Omron's automatic
 * address conversion). The DM range read is the plant's configuration.
 *
 * What it must never do: answer with a different SID than the command, or return
 * a word count other than the one asked for.
 */
#include "gen.h"

#include <string.h>

struct fins_state {
    struct gp_host *hmi, *plc;
    uint16_t dm_addr, dm_words;
    uint8_t sid;
    int count;
};

static void fins_hdr(struct gp_buf *b, bool resp, struct gp_host *dst, struct gp_host *src,
                     uint8_t sid)
{
    buf_reset(b);
    put_u8(b, resp ? 0xC0 : 0x80);
    put_u8(b, 0x00);
    put_u8(b, 0x02);
    put_u8(b, 0x00);
    put_u8(b, (uint8_t)dst->ip);
    put_u8(b, 0x00);
    put_u8(b, 0x00);
    put_u8(b, (uint8_t)src->ip);
    put_u8(b, 0x00);
    put_u8(b, sid);
}

static int fins_step(struct gp_sim *s, struct gp_task *t)
{
    static struct gp_buf b;
    struct fins_state *f = t->state;
    gp_time now = t->next;
    int rc;
    t->next = now + jitter(s, GP_SEC(1), 3);
    uint8_t sid = f->sid++;
    bool ctl = f->count++ % 60 == 0;
    fins_hdr(&b, false, f->plc, f->hmi, sid);
    if (ctl) {
        put_u8(&b, 0x05); put_u8(&b, 0x01);
        put_u8(&b, 0x00); /* CPU unit model and version */
    } else {
        put_u8(&b, 0x01); put_u8(&b, 0x01);
        put_u8(&b, 0x82);
        put_be16(&b, f->dm_addr);
        put_u8(&b, 0x00);
        put_be16(&b, f->dm_words);
    }
    if ((rc = send_udp_hosts(s, now, f->hmi, f->plc, 9600, 9600, b.d, b.n)) != GP_OK)
        return rc;
    fins_hdr(&b, true, f->hmi, f->plc, sid);
    if (ctl) {
        put_u8(&b, 0x05); put_u8(&b, 0x01);
        put_be16(&b, 0x0000);
        put_padstr(&b, f->plc->model, 20, ' ');
        put_padstr(&b, f->plc->firmware, 20, ' ');
        put_zero(&b, 40);              /* for system use */
        put_be16(&b, 0x0014);          /* program area: 20 Ksteps */
        put_u8(&b, 0x17);              /* IOM size: 23 KB */
        put_be16(&b, 0x8000);          /* DM words: 32768 */
        put_u8(&b, 0x08);              /* timer/counter: 8 x 1024 */
        put_u8(&b, 0x00);              /* expansion DM banks */
        put_be16(&b, 0x0000);          /* steps/transitions */
        put_u8(&b, 0x00);              /* memory card: none */
        put_be16(&b, 0x0000);          /* memory card size */
    } else {
        put_u8(&b, 0x01); put_u8(&b, 0x01);
        put_be16(&b, 0x0000);
        for (uint16_t i = 0; i < f->dm_words; i++)
            put_be16(&b, f->plc->regs[(f->dm_addr + i) & 127] + (uint16_t)rng_below(&s->rng, 3));
    }
    if (b.overflow)
        return GP_ERR_RANGE;
    return send_udp_hosts(s, now + rtt_us(s, 2000, 9000), f->plc, f->hmi, 9600, 9600, b.d, b.n);
}

int gen_fins_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    struct gp_rng cfg;
    if (!p->omron || p->nhmis < 1)
        return GP_OK;
    plant_rng(p, "fins", &cfg);
    struct fins_state *f = gp_alloc(s, sizeof *f);
    if (!f)
        return GP_ERR_NOMEM;
    f->hmi = p->hmis[0];
    f->plc = p->omron;
    f->dm_addr = (uint16_t)(100 * rng_below(&cfg, 20));
    f->dm_words = (uint16_t)(10 + rng_below(&cfg, 20));
    f->sid = (uint8_t)rng_next(&s->rng);
    gp_time first = s->t0 + GP_SEC(1) + rng_below(&s->rng, (uint32_t)GP_SEC(3));
    return task_add(s, first, fins_step, f) ? GP_OK : GP_ERR_NOMEM;
}
