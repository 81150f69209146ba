/* plant.c - the plant topology: which devices exist, their addresses and identity.
 *
 * What it is for: building the same set of hosts for the same (seed, --devices)
 * whatever the scenario, so a baseline learned on the normal capture matches the
 * devices of every attack capture. One flat Ethernet segment, 10.10.0.0/16, with
 * address blocks per zone: 10.10.0.1 gateway (Cisco L3 switch), 10.10.1.0/24
 * control (PLCs, RTUs, building controllers), 10.10.2.0/24 supervisory (HMIs,
 * SCADA, historian, engineering station, domain controller), 10.10.3.0/24 office
 * clients addressed by DHCP. MACs use real vendor OUIs (IEEE registry).
 *
 * plant_rng() gives each generator its own configuration stream of the same plant
 * (seed and --devices only), for what the plant's devices are set up to do.
 *
 * What it must never do: draw from the traffic PRNG (only from its own stream
 * derived from the seed), or depend on the scenario name.
 */
#include "gen.h"

#include <stdio.h>
#include <string.h>

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

/* Real OUIs (IEEE registry). */
static const uint8_t OUI_CISCO[3] = {0x00, 0x19, 0xE7};
static const uint8_t OUI_DELL[3] = {0x98, 0xE7, 0x43};
static const uint8_t OUI_HP[3] = {0x9C, 0x7B, 0xEF};
static const uint8_t OUI_HP2[3] = {0x3C, 0xD9, 0x2B};
static const uint8_t OUI_INTEL[3] = {0xAC, 0xED, 0x5C};
static const uint8_t OUI_LCFC[3] = {0x28, 0xD2, 0x44};
static const uint8_t OUI_TELEMECANIQUE[3] = {0x00, 0x80, 0xF4}; /* Schneider M340/M580 */
static const uint8_t OUI_SCHNEIDER[3] = {0x00, 0x00, 0x54};
static const uint8_t OUI_SIEMENS[3] = {0x00, 0x0E, 0x8C};
static const uint8_t OUI_SIEMENS2[3] = {0x00, 0x1B, 0x1B};
static const uint8_t OUI_ROCKWELL[3] = {0x00, 0x00, 0xBC};
static const uint8_t OUI_ROCKWELL2[3] = {0x00, 0x1D, 0x9C};
static const uint8_t OUI_SEL[3] = {0x00, 0x30, 0xA7};
static const uint8_t OUI_ABB[3] = {0x00, 0x1B, 0x45};
static const uint8_t OUI_JCI[3] = {0x00, 0x10, 0x8D};
static const uint8_t OUI_OMRON[3] = {0x00, 0x00, 0x0A};
static const uint8_t OUI_ROSEMOUNT[3] = {0x00, 0x26, 0x16};

void ip_to_str(uint32_t ip, char *out, size_t n)
{
    snprintf(out, n, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
}

struct gp_host *plant_add_host(struct gp_plant *p, enum gp_role role, const uint8_t oui[3],
                               uint32_t ip, const char *name, struct gp_rng *r)
{
    if (p->nhosts >= GP_MAX_HOSTS)
        return NULL;
    struct gp_host *h = &p->hosts[p->nhosts];
    memset(h, 0, sizeof *h);
    h->index = p->nhosts++;
    h->role = role;
    h->ip = ip;
    snprintf(h->name, sizeof h->name, "%s", name);
    memcpy(h->mac, oui, 3);
    /* NIC-specific part: unique within the plant (index in the top bits). */
    uint32_t nic = ((uint32_t)h->index << 12) ^ (rng_below(r, 4096));
    h->mac[3] = (uint8_t)(nic >> 16);
    h->mac[4] = (uint8_t)(nic >> 8);
    h->mac[5] = (uint8_t)nic;
    h->ttl = 64;
    h->ip_id = (uint16_t)rng_next(r);
    h->next_port = 0;
    h->rng_state = (uint32_t)rng_next(r) | 1u;
    for (int i = 0; i < 128; i++)
        h->regs[i] = (uint16_t)rng_below(r, 2000);
    h->coils = rng_next(r);
    h->up = ip != 0;
    return h;
}

int plant_count(const struct gp_plant *p, enum gp_role role)
{
    int n = 0;
    for (int i = 0; i < p->nhosts; i++)
        n += p->hosts[i].role == role;
    return n;
}

static void serial_str(struct gp_rng *r, char *out, size_t n, const char *prefix, int digits)
{
    size_t len = strlen(prefix);
    if (n == 0)
        return;
    if (len >= n)
        len = n - 1;
    memcpy(out, prefix, len);
    for (int i = 0; i < digits && len + 1 < n; i++)
        out[len++] = (char)('0' + rng_below(r, 10));
    out[len] = 0;
}

void plant_rng(const struct gp_plant *p, const char *stream, struct gp_rng *r)
{
    rng_seed(r, p->seed ^ gp_hash_str("plant") ^ gp_hash_str(stream) ^
                    ((uint64_t)p->ndevices * 0xD1B54A32D192ED03ull));
}

int plant_build(struct gp_plant *p, uint64_t seed, int ndevices)
{
    struct gp_rng r;
    char name[32];
    rng_seed(&r, seed ^ gp_hash_str("plant"));
    memset(p, 0, sizeof *p);
    p->seed = seed;
    p->ndevices = ndevices;
    p->net = IP4(10, 10, 0, 0);
    p->mask = 0xffff0000u;
    snprintf(p->domain, sizeof p->domain, "plant.local");

    struct gp_host *h;
    if (!(h = plant_add_host(p, ROLE_ROUTER, OUI_CISCO, IP4(10, 10, 0, 1), "core-sw01", &r)))
        return GP_ERR_RANGE;
    h->ttl = 255;
    h->vendor = "Cisco";
    snprintf(h->model, sizeof h->model, "IE-4000-8GT4G-E");
    p->router = h;

    h = plant_add_host(p, ROLE_DC, OUI_DELL, IP4(10, 10, 2, 10), "dc01", &r);
    h->ttl = 128;
    h->vendor = "Dell";
    snprintf(h->model, sizeof h->model, "PowerEdge R650");
    p->dc = h;
    h = plant_add_host(p, ROLE_SCADA, OUI_DELL, IP4(10, 10, 2, 11), "scada01", &r);
    h->ttl = 128;
    h->vendor = "Dell";
    snprintf(h->model, sizeof h->model, "PowerEdge R750");
    p->scada = h;
    h = plant_add_host(p, ROLE_HISTORIAN, OUI_HP, IP4(10, 10, 2, 12), "hist01", &r);
    h->ttl = 128;
    h->vendor = "HP";
    snprintf(h->model, sizeof h->model, "ProLiant DL380 Gen10");
    p->historian = h;
    h = plant_add_host(p, ROLE_ENG, OUI_DELL, IP4(10, 10, 2, 20), "eng-ws01", &r);
    h->ttl = 128;
    h->vendor = "Dell";
    snprintf(h->model, sizeof h->model, "Precision 3660");
    p->eng = h;

    int core = 5;
    p->nhmis = ndevices >= 30 ? 3 : 2;
    for (int i = 0; i < p->nhmis; i++) {
        snprintf(name, sizeof name, "hmi%02d", i + 1);
        h = plant_add_host(p, ROLE_HMI, i % 2 ? OUI_HP2 : OUI_HP, IP4(10, 10, 2, 21 + i), name, &r);
        h->ttl = 128;
        h->vendor = "HP";
        snprintf(h->model, sizeof h->model, "Z2 G9");
        p->hmis[i] = h;
    }
    core += p->nhmis;

    int rest = ndevices - core;
    int office = rest * 15 / 100;
    if (office < 2)
        office = 2;
    int field = rest - office;
    int n_s7 = field * 20 / 100, n_enip = field * 14 / 100, n_dnp3 = field * 10 / 100;
    int n_104 = field * 10 / 100, n_bac = field * 10 / 100;
    if (n_s7 < 1) n_s7 = 1;
    if (n_enip < 1) n_enip = 1;
    if (n_dnp3 < 1) n_dnp3 = 1;
    if (n_104 < 1) n_104 = 1;
    if (n_bac < 1) n_bac = 1;
    int n_mb = field - n_s7 - n_enip - n_dnp3 - n_104 - n_bac;
    if (n_mb < 2)
        return GP_ERR_USAGE;
    /* control zone: at most 230 hosts in 10.10.1.0/24, spill into 10.10.4.0/24 */
    int ctl = 0;
#define CTL_IP() (ctl < 230 ? IP4(10, 10, 1, 10 + ctl) : IP4(10, 10, 4, 10 + (ctl - 230)))

    static const char *const mb_models[] = {"BMX P34 2020", "BME P58 2040", "TM241CEC24T", "BMX P34 1000"};
    static const char *const mb_fw[] = {"v3.20", "v2.90", "v5.1.9.34", "v3.10"};
    for (int i = 0; i < n_mb; i++, ctl++) {
        snprintf(name, sizeof name, "plc-mb%02d", i + 1);
        h = plant_add_host(p, ROLE_PLC_MODBUS, i % 3 == 2 ? OUI_SCHNEIDER : OUI_TELEMECANIQUE, CTL_IP(), name, &r);
        h->vendor = "Schneider Electric";
        int m = (int)rng_below(&r, 4);
        snprintf(h->model, sizeof h->model, "%s", mb_models[m]);
        snprintf(h->firmware, sizeof h->firmware, "%s", mb_fw[m]);
        serial_str(&r, h->serial, sizeof h->serial, "21", 8);
        h->unit_or_addr = (i % 4 == 3) ? 255 : 1;
        h->ttl = 64;
    }
    static const char *const s7_orders[] = {"6ES7 315-2EH14-0AB0", "6ES7 516-3AN01-0AB0", "6ES7 214-1AG40-0XB0"};
    static const char *const s7_models[] = {"CPU 315-2 PN/DP", "CPU 1516-3 PN/DP", "CPU 1214C DC/DC/DC"};
    static const char *const s7_fw[] = {"V3.2.17", "V2.9.4", "V4.5.2"};
    for (int i = 0; i < n_s7; i++, ctl++) {
        snprintf(name, sizeof name, "plc-s7-%02d", i + 1);
        h = plant_add_host(p, ROLE_PLC_S7, i % 2 ? OUI_SIEMENS2 : OUI_SIEMENS, CTL_IP(), name, &r);
        h->vendor = "Siemens";
        int m = (int)rng_below(&r, 3);
        snprintf(h->order_no, sizeof h->order_no, "%s", s7_orders[m]);
        snprintf(h->model, sizeof h->model, "%s", s7_models[m]);
        snprintf(h->firmware, sizeof h->firmware, "%s", s7_fw[m]);
        serial_str(&r, h->serial, sizeof h->serial, "S C-H", 9);
        h->ttl = 30;
    }
    static const char *const ab_models[] = {"1756-L73/B LOGIX5573", "1769-L33ER/A LOGIX5333ER", "1756-L83E/B"};
    for (int i = 0; i < n_enip; i++, ctl++) {
        snprintf(name, sizeof name, "plc-ab%02d", i + 1);
        h = plant_add_host(p, ROLE_PLC_ENIP, i % 2 ? OUI_ROCKWELL2 : OUI_ROCKWELL, CTL_IP(), name, &r);
        h->vendor = "Rockwell Automation";
        int m = (int)rng_below(&r, 3);
        snprintf(h->model, sizeof h->model, "%s", ab_models[m]);
        /* one draw per statement: argument evaluation order is unspecified */
        unsigned fw_major = 20u + rng_below(&r, 14);
        unsigned fw_minor = rng_below(&r, 20);
        snprintf(h->firmware, sizeof h->firmware, "%u.%u", fw_major, fw_minor);
        snprintf(h->serial, sizeof h->serial, "%08x", (unsigned)rng_next(&r));
        h->unit_or_addr = (uint16_t)m;
        h->ttl = 64;
    }
    for (int i = 0; i < n_dnp3; i++, ctl++) {
        snprintf(name, sizeof name, "rtu-dnp%02d", i + 1);
        h = plant_add_host(p, ROLE_RTU_DNP3, OUI_SEL, CTL_IP(), name, &r);
        h->vendor = "SEL";
        snprintf(h->model, sizeof h->model, "SEL-3530 RTAC");
        h->unit_or_addr = (uint16_t)(10 + i);
        h->ttl = 64;
    }
    for (int i = 0; i < n_104; i++, ctl++) {
        snprintf(name, sizeof name, "rtu-104-%02d", i + 1);
        h = plant_add_host(p, ROLE_RTU_IEC104, OUI_ABB, CTL_IP(), name, &r);
        h->vendor = "ABB";
        snprintf(h->model, sizeof h->model, "RTU560");
        h->unit_or_addr = (uint16_t)(100 + i);
        h->ttl = 64;
    }
    for (int i = 0; i < n_bac; i++, ctl++) {
        snprintf(name, sizeof name, "bms-ctl%02d", i + 1);
        h = plant_add_host(p, ROLE_BACNET, OUI_JCI, CTL_IP(), name, &r);
        h->vendor = "Johnson Controls";
        snprintf(h->model, sizeof h->model, "FX-PCG2611");
        h->unit_or_addr = (uint16_t)(1000 + i);
        h->ttl = 64;
    }
    static const uint8_t *const office_ouis[] = {OUI_DELL, OUI_HP2, OUI_INTEL, OUI_LCFC};
    for (int i = 0; i < office; i++) {
        snprintf(name, sizeof name, "ws-ops%02d", i + 1);
        h = plant_add_host(p, ROLE_OFFICE, office_ouis[i % 4], IP4(10, 10, 3, 100 + i), name, &r);
        h->vendor = "workstation";
        h->dhcp = true; /* ip is the lease the DHCP server hands out */
        h->up = false;
        h->ttl = 128;
    }
    /* Added after every other host (so the hosts above keep their addresses and
     * MACs): a monitoring server, two ABB protection relays (IEC 61850), an Omron
     * PLC (FINS) and a HART-IP gateway. */
    h = plant_add_host(p, ROLE_NMS, OUI_HP, IP4(10, 10, 2, 13), "nms01", &r);
    if (!h)
        return GP_ERR_RANGE;
    h->ttl = 64;
    h->vendor = "HP";
    snprintf(h->model, sizeof h->model, "ProLiant DL360 Gen10");
    p->nms = h;
    for (int i = 0; i < 2; i++, ctl++) {
        snprintf(name, sizeof name, "ied%02d", i + 1);
        if (!(h = plant_add_host(p, ROLE_IED, OUI_ABB, CTL_IP(), name, &r)))
            return GP_ERR_RANGE;
        h->vendor = "ABB";
        snprintf(h->model, sizeof h->model, "%s", i ? "REF620" : "REF615");
        snprintf(h->firmware, sizeof h->firmware, "%s", i ? "2.0 FP1" : "5.0 FP1");
        h->unit_or_addr = (uint16_t)(i + 1);
        h->ttl = 64;
        p->ieds[p->nieds++] = h;
    }
    if (!(h = plant_add_host(p, ROLE_PLC_FINS, OUI_OMRON, CTL_IP(), "plc-omron01", &r)))
        return GP_ERR_RANGE;
    ctl++;
    h->vendor = "OMRON";
    snprintf(h->model, sizeof h->model, "CJ2M-CPU33");
    snprintf(h->firmware, sizeof h->firmware, "02.01");
    p->omron = h;
    if (!(h = plant_add_host(p, ROLE_HART_GW, OUI_ROSEMOUNT, CTL_IP(), "hart-gw01", &r)))
        return GP_ERR_RANGE;
    ctl++;
    h->vendor = "Emerson";
    snprintf(h->model, sizeof h->model, "1410S Wireless Gateway");
    p->hartgw = h;
#undef CTL_IP
    return GP_OK;
}
