/* main.c - gen-plant command line: parse arguments, build the plant, run the
 * generators, write the capture.
 *
 * What it is for: the only place that knows the command line and the list of
 * protocol generators (the table below: adding a protocol is one file and one
 * line here). Usage errors name the flag and value and exit 2; runtime failures
 * exit 1.
 *
 * What it must never do: use wall-clock time or any randomness other than the
 * seed given on the command line; call exit() outside main.
 */
#include "gen.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_PLANT_VERSION "1.0"

static const struct generator {
    const char *name;
    int (*setup)(struct gp_sim *s);
} generators[] = {
    {"arp", gen_arp_setup},
    {"dhcp", gen_dhcp_setup},
    {"dns", gen_dns_setup},
    {"modbus", gen_modbus_setup},
    {"s7comm", gen_s7comm_setup},
    {"dnp3", gen_dnp3_setup},
    {"iec104", gen_iec104_setup},
    {"enip", gen_enip_setup},
    {"bacnet", gen_bacnet_setup},
    {"opcua", gen_opcua_setup},
    {"goose", gen_goose_setup},
    {"mms", gen_mms_setup},
    {"profinet-dcp", gen_pndcp_setup},
    {"fins", gen_fins_setup},
    {"hart-ip", gen_hartip_setup},
    {"lldp", gen_lldp_setup},
    {"cdp", gen_cdp_setup},
    {"snmp", gen_snmp_setup},
    {"http", gen_http_setup},
    {"tls", gen_tls_setup},
    {"ssh", gen_ssh_setup},
    {"nbns", gen_nbns_setup},
    {"ntp", gen_ntp_setup},
    {"mdns", gen_mdns_setup},
    {"smb", gen_smb_setup},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: gen-plant [--seed N] [--duration SECONDS | --packets N] [--devices N]\n"
            "                 [--scenario NAME] [--start-offset SECONDS] [--attack-only] -o FILE\n"
            "\n"
            "Writes a deterministic pcap of a simulated industrial plant.\n"
            "  --seed N             plant and traffic seed (default 1)\n"
            "  --duration SECONDS   capture length in packet time (default 60)\n"
            "  --packets N          stop after exactly N packets instead (benchmarks)\n"
            "  --devices N          number of plant devices, %d..%d (default 40)\n"
            "  --scenario NAME      normal (default) or an attack segment:\n"
            "                       ",
            16, 500);
    for (const char *const *n = scenario_names(); *n; n++)
        fprintf(f, "%s%s", *n, n[1] ? ", " : "\n");
    fprintf(f,
            "  --start-offset SECONDS  start that many seconds after 2026-01-05T08:00:00Z\n"
            "                       (an attack segment continues after a normal capture)\n"
            "  --attack-only        scenario packets only, without the plant's own traffic\n"
            "  -o, --output FILE    pcap to write\n");
}

static int parse_u64(const char *flag, const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    if (!v || !*v || *v == '-' || *v == '+') {
        fprintf(stderr, "gen-plant: %s: '%s' is not a non-negative integer\n", flag, v ? v : "");
        return GP_ERR_USAGE;
    }
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || *end) {
        fprintf(stderr, "gen-plant: %s: '%s' is not a non-negative integer\n", flag, v);
        return GP_ERR_USAGE;
    }
    if (x < lo || x > hi) {
        fprintf(stderr, "gen-plant: %s: %s is out of range (%llu..%llu)\n", flag, v,
                (unsigned long long)lo, (unsigned long long)hi);
        return GP_ERR_USAGE;
    }
    *out = x;
    return GP_OK;
}

/* Seconds with up to 6 decimals, e.g. "90" or "0.5". */
static int parse_secs(const char *flag, const char *v, gp_time lo, gp_time hi, gp_time *out)
{
    const char *p = v;
    uint64_t whole = 0, frac = 0, scale = 1000000;
    int digits = 0;
    if (!v || !*v)
        goto bad;
    for (; *p >= '0' && *p <= '9'; p++, digits++) {
        whole = whole * 10 + (uint64_t)(*p - '0');
        if (whole > 100000000ull)
            goto range;
    }
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
            if (scale > 1) {
                scale /= 10;
                frac += (uint64_t)(*p - '0') * scale;
            }
        }
    }
    if (*p || digits == 0)
        goto bad;
    *out = whole * 1000000u + frac;
    if (*out < lo || *out > hi)
        goto range;
    return GP_OK;
bad:
    fprintf(stderr, "gen-plant: %s: '%s' is not a number of seconds\n", flag, v ? v : "");
    return GP_ERR_USAGE;
range:
    fprintf(stderr, "gen-plant: %s: %s is out of range (%llu.%03llu..%llu seconds)\n", flag, v,
            (unsigned long long)(lo / 1000000u), (unsigned long long)(lo % 1000000u / 1000u),
            (unsigned long long)(hi / 1000000u));
    return GP_ERR_USAGE;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1, packets = 0, devices = 40;
    gp_time duration = GP_SEC(60), offset = 0;
    bool have_duration = false, have_packets = false, attack_only = false;
    const char *scenario = "normal", *output = NULL;

    enum { O_SEED = 256, O_DURATION, O_PACKETS, O_DEVICES, O_SCENARIO, O_OFFSET, O_ATTACK_ONLY,
           O_VERSION };
    static const struct option opts[] = {
        {"seed", required_argument, NULL, O_SEED},
        {"duration", required_argument, NULL, O_DURATION},
        {"packets", required_argument, NULL, O_PACKETS},
        {"devices", required_argument, NULL, O_DEVICES},
        {"scenario", required_argument, NULL, O_SCENARIO},
        {"start-offset", required_argument, NULL, O_OFFSET},
        {"attack-only", no_argument, NULL, O_ATTACK_ONLY},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (c) {
        case O_SEED:
            if (parse_u64("--seed", optarg, 0, UINT64_MAX, &seed) != GP_OK)
                return 2;
            break;
        case O_DURATION:
            if (parse_secs("--duration", optarg, 1000, GP_SEC(30 * 24 * 3600), &duration) != GP_OK)
                return 2;
            have_duration = true;
            break;
        case O_PACKETS:
            if (parse_u64("--packets", optarg, 1, 1000000000ull, &packets) != GP_OK)
                return 2;
            have_packets = true;
            break;
        case O_DEVICES:
            if (parse_u64("--devices", optarg, 16, 500, &devices) != GP_OK)
                return 2;
            break;
        case O_SCENARIO:
            if (!scenario_known(optarg)) {
                fprintf(stderr, "gen-plant: --scenario: unknown scenario '%s' (known: ", optarg);
                for (const char *const *n = scenario_names(); *n; n++)
                    fprintf(stderr, "%s%s", *n, n[1] ? ", " : ")\n");
                return 2;
            }
            scenario = optarg;
            break;
        case O_OFFSET:
            if (parse_secs("--start-offset", optarg, 0, GP_SEC(365 * 24 * 3600), &offset) != GP_OK)
                return 2;
            break;
        case O_ATTACK_ONLY:
            attack_only = true;
            break;
        case 'o':
            output = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case O_VERSION:
            printf("gen-plant %s\n", GEN_PLANT_VERSION);
            return 0;
        case ':':
            fprintf(stderr, "gen-plant: %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            if (optopt)
                fprintf(stderr, "gen-plant: unknown option '-%c'\n", optopt);
            else
                fprintf(stderr, "gen-plant: unknown option '%s'\n", argv[optind - 1]);
            fprintf(stderr, "Try 'gen-plant --help'.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gen-plant: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!output) {
        fprintf(stderr, "gen-plant: -o FILE is required\n");
        return 2;
    }
    if (have_duration && have_packets) {
        fprintf(stderr, "gen-plant: --duration and --packets are mutually exclusive\n");
        return 2;
    }
    if (attack_only && strcmp(scenario, "normal") == 0) {
        fprintf(stderr, "gen-plant: --attack-only needs an attack --scenario, not 'normal'\n");
        return 2;
    }

    static struct gp_plant plant;
    if (plant_build(&plant, seed, (int)devices) != GP_OK) {
        fprintf(stderr, "gen-plant: --devices: %llu is too few for a plant\n",
                (unsigned long long)devices);
        return 2;
    }

    static struct gp_sim sim;
    struct gp_sim *s = &sim;
    s->plant = &plant;
    rng_seed(&s->rng, seed ^ gp_hash_str("traffic") ^ (offset * 0x9E3779B97F4A7C15ull));
    s->t0 = GP_SEC(GP_EPOCH_UNIX) + offset;
    s->t_end = have_packets ? UINT64_MAX : s->t0 + duration;
    s->max_packets = packets;
    s->scenario = scenario;
    s->attack_only = attack_only;
    {
        gp_time d = have_packets ? GP_SEC(60) : duration;
        gp_time at = d / 3 < GP_SEC(20) ? d / 3 : GP_SEC(20);
        s->attack_at = s->t0 + at;
    }
    int rc = out_open(s, output);
    if (rc != GP_OK)
        return 1;
    /* Background first, so its tasks are created in a fixed order. */
    if (!attack_only) {
        for (size_t i = 0; i < sizeof generators / sizeof generators[0]; i++) {
            rc = generators[i].setup(s);
            if (rc != GP_OK) {
                fprintf(stderr, "gen-plant: generator %s failed to start (%d)\n",
                        generators[i].name, rc);
                goto fail;
            }
        }
    }
    if (strcmp(scenario, "normal") != 0) {
        rc = scenario_setup(s);
        if (rc != GP_OK) {
            fprintf(stderr, "gen-plant: scenario %s failed to start (%d)\n", scenario, rc);
            goto fail;
        }
    }
    rc = sim_run(s);
    if (rc != GP_OK) {
        fprintf(stderr, "gen-plant: generation failed (%d)\n", rc);
        goto fail;
    }
    rc = out_close(s);
    sim_free(s);
    if (rc != GP_OK) {
        fprintf(stderr, "gen-plant: error writing %s\n", output);
        return 1;
    }
    return 0;
fail:
    out_close(s);
    sim_free(s);
    return 1;
}
