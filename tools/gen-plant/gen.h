/* gen.h - shared types of the gen-plant traffic generator.
 *
 * What it is for: the one header every gen-plant file includes. It declares the
 * deterministic PRNG, the byte builder used to assemble application payloads, the
 * packet builder (Ethernet/IPv4/TCP/UDP with checksums, TCP session state), the
 * time-ordered pcap writer, the event scheduler, and the plant model (hosts and
 * their roles). Protocol generators (gen-*.c) only see this interface.
 *
 * What it must never do: pull in wall-clock time, rand() or any other source of
 * nondeterminism. Same command line => byte-identical capture, always.
 */
#ifndef GEN_PLANT_GEN_H
#define GEN_PLANT_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Status codes: every function that can fail returns one of these. */
enum gp_status {
    GP_OK = 0,
    GP_ERR_IO = -1,      /* writing the capture failed */
    GP_ERR_NOMEM = -2,   /* allocation failed */
    GP_ERR_RANGE = -3,   /* a payload or table outgrew its fixed size (a bug) */
    GP_ERR_USAGE = -4,   /* bad argument */
    GP_STOP = 1,         /* not an error: the packet budget is reached */
};

/* Time: microseconds since the Unix epoch (packet time, never wall time). */
typedef uint64_t gp_time;
#define GP_MS(x) ((gp_time)(x) * 1000u)
#define GP_SEC(x) ((gp_time)(x) * 1000000u)
/* 2026-01-05T08:00:00Z */
#define GP_EPOCH_UNIX 1767600000ull

/* ---------------------------------------------------------------- PRNG */
struct gp_rng {
    uint64_t s[4];
};
void rng_seed(struct gp_rng *r, uint64_t seed);
uint64_t rng_next(struct gp_rng *r);
uint32_t rng_below(struct gp_rng *r, uint32_t n);        /* [0, n) ; n>0 */
uint32_t rng_range(struct gp_rng *r, uint32_t lo, uint32_t hi); /* [lo, hi] */
bool rng_chance(struct gp_rng *r, uint32_t per_mille);   /* true with p/1000 */
uint64_t gp_hash_str(const char *s);                     /* FNV-1a, for stream ids */

/* ---------------------------------------------------------------- bytes */
#define GP_BUF_MAX 4096
struct gp_buf {
    uint8_t d[GP_BUF_MAX];
    size_t n;
    bool overflow; /* set when a put did not fit; checked by the sender */
};
void buf_reset(struct gp_buf *b);
void put_u8(struct gp_buf *b, uint8_t v);
void put_be16(struct gp_buf *b, uint16_t v);
void put_le16(struct gp_buf *b, uint16_t v);
void put_be24(struct gp_buf *b, uint32_t v);
void put_le24(struct gp_buf *b, uint32_t v);
void put_be32(struct gp_buf *b, uint32_t v);
void put_le32(struct gp_buf *b, uint32_t v);
void put_le64(struct gp_buf *b, uint64_t v);
void put_bytes(struct gp_buf *b, const void *p, size_t n);
void put_zero(struct gp_buf *b, size_t n);
void put_str(struct gp_buf *b, const char *s);           /* bytes, no NUL */
void put_padstr(struct gp_buf *b, const char *s, size_t width, char pad);
void set_be16(struct gp_buf *b, size_t off, uint16_t v);
void set_le16(struct gp_buf *b, size_t off, uint16_t v);
void set_le32(struct gp_buf *b, size_t off, uint32_t v);
/* BER: ber_begin writes the tag, ber_end the minimal length of what was put since. */
size_t ber_begin(struct gp_buf *b, uint8_t tag);
void ber_end(struct gp_buf *b, size_t start);
void ber_uint(struct gp_buf *b, uint8_t tag, uint64_t v);   /* INTEGER, minimal */
void ber_str(struct gp_buf *b, uint8_t tag, const char *s); /* string types */

/* ---------------------------------------------------------------- plant */
enum gp_role {
    ROLE_ROUTER,      /* Cisco L3 switch, default gateway */
    ROLE_DC,          /* Windows server: DHCP + DNS */
    ROLE_ENG,         /* engineering station */
    ROLE_HMI,         /* operator HMI */
    ROLE_SCADA,       /* SCADA server (DNP3/104 master, OPC UA server, BACnet BMS) */
    ROLE_HISTORIAN,   /* historian (OPC UA client) */
    ROLE_PLC_MODBUS,  /* Schneider Modbus/TCP PLC */
    ROLE_PLC_S7,      /* Siemens S7-300/1500 */
    ROLE_PLC_ENIP,    /* Rockwell ControlLogix/CompactLogix */
    ROLE_RTU_DNP3,    /* SEL / ABB RTU speaking DNP3 */
    ROLE_RTU_IEC104,  /* ABB RTU speaking IEC 60870-5-104 */
    ROLE_BACNET,      /* Johnson Controls / Honeywell building controller */
    ROLE_OFFICE,      /* DHCP client workstation */
    ROLE_EXTERNAL,    /* an address beyond the gateway (MAC is the router's) */
    ROLE_ATTACKER,    /* scenario-only hosts */
    ROLE_IED,         /* ABB protection relay: IEC 61850 GOOSE publisher, MMS server */
    ROLE_PLC_FINS,    /* Omron PLC speaking FINS */
    ROLE_HART_GW,     /* HART-IP multiplexer / gateway */
    ROLE_NMS,         /* network monitoring server (SNMP manager) */
};

struct gp_host {
    char name[32];          /* hostname (DNS / DHCP option 12) */
    uint8_t mac[6];
    uint32_t ip;            /* host byte order; 0 until DHCP gives one */
    enum gp_role role;
    uint8_t ttl;
    uint16_t ip_id;
    uint16_t next_port;     /* next ephemeral port */
    const char *vendor;     /* "Schneider Electric", ... */
    char model[40];
    char order_no[24];      /* S7 MLFB / catalogue number */
    char serial[24];
    char firmware[16];      /* "V3.2.1" */
    uint16_t unit_or_addr;  /* Modbus unit id / DNP3 outstation address / 104 CA */
    uint16_t regs[128];     /* process image served by a PLC */
    uint64_t coils;
    uint32_t rng_state;     /* per-device process noise */
    int index;              /* position in plant->hosts */
    bool up;                /* has its address (DHCP clients: after the ACK) */
    bool dhcp;              /* gets its address by DHCP */
};

#define GP_MAX_HOSTS 600
struct gp_plant {
    struct gp_host hosts[GP_MAX_HOSTS];
    int nhosts;
    struct gp_host *router, *dc, *eng, *scada, *historian;
    struct gp_host *hmis[3];
    struct gp_host *nms, *omron, *hartgw, *ieds[2];
    int nieds;
    int nhmis;
    uint32_t net, mask;     /* 10.10.0.0/16 */
    char domain[32];        /* "plant.local" */
    uint64_t seed;          /* --seed */
    int ndevices;           /* --devices */
};
int plant_build(struct gp_plant *p, uint64_t seed, int ndevices);
/* The plant's configuration stream for one generator (which functions and address
 * ranges each HMI polls, which writes its operators do, poll periods...): seeded from
 * --seed and --devices only, so every capture of the same plant behaves the same
 * whatever --start-offset, --duration or --scenario. Draw from it only in setup
 * functions; per-packet randomness stays in s->rng. */
void plant_rng(const struct gp_plant *p, const char *stream, struct gp_rng *r);
struct gp_host *plant_add_host(struct gp_plant *p, enum gp_role role, const uint8_t oui[3],
                               uint32_t ip, const char *name, struct gp_rng *r);
int plant_count(const struct gp_plant *p, enum gp_role role);
void ip_to_str(uint32_t ip, char *out, size_t n);

/* ---------------------------------------------------------------- output */
struct gp_sim;
int out_open(struct gp_sim *s, const char *path);
int out_close(struct gp_sim *s);
/* Queue one Ethernet frame at time t; frames are written in time order. */
int emit_frame(struct gp_sim *s, gp_time t, const uint8_t *frame, size_t len);
int out_flush_until(struct gp_sim *s, gp_time t, bool all);

/* ---------------------------------------------------------------- packets */
int send_arp(struct gp_sim *s, gp_time t, const struct gp_host *from, const uint8_t dst_mac[6],
             uint16_t op, const uint8_t sha[6], uint32_t spa, const uint8_t tha[6], uint32_t tpa);
/* UDP from one host to another (dst_mac NULL => dst host's MAC, broadcast if dst NULL). */
int send_udp(struct gp_sim *s, gp_time t, struct gp_host *src, uint32_t src_ip,
             const uint8_t dst_mac[6], uint32_t dst_ip, uint16_t sport, uint16_t dport,
             const uint8_t *data, size_t len);
int send_udp_hosts(struct gp_sim *s, gp_time t, struct gp_host *src, struct gp_host *dst,
                   uint16_t sport, uint16_t dport, const uint8_t *data, size_t len);
const uint8_t *mac_broadcast(void);
/* A raw Ethernet frame (type >= 0x600) or an 802.3 frame (type = payload length,
 * payload starts with the LLC header): LLDP, CDP, GOOSE, PROFINET DCP. */
int send_eth(struct gp_sim *s, gp_time t, const uint8_t src[6], const uint8_t dst[6],
             uint16_t type, const uint8_t *data, size_t len);

/* TCP session between a client and a server host. */
struct gp_tcp {
    struct gp_host *cli, *srv;
    uint16_t cport, sport;
    uint32_t cseq, sseq;        /* next sequence number each side sends */
    uint16_t cwin, swin;
    bool open;
    bool cli_unacked, srv_unacked; /* data sent that the peer has not ACKed yet */
};
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
/* Fresh session state: ephemeral port and ISNs from the rng. */
void tcp_init(struct gp_sim *s, struct gp_tcp *c, struct gp_host *cli, struct gp_host *srv,
              uint16_t sport);
/* 3-way handshake starting at t; returns the time of the final ACK in *done. */
int tcp_connect(struct gp_sim *s, struct gp_tcp *c, gp_time t, gp_time *done);
/* One data segment (PSH|ACK) from client (from_srv=false) or server. */
int tcp_data(struct gp_sim *s, struct gp_tcp *c, bool from_srv, gp_time t, const uint8_t *d,
             size_t n);
/* Segment data as the stack would: at most mss bytes per segment, dt between. */
int tcp_data_split(struct gp_sim *s, struct gp_tcp *c, bool from_srv, gp_time t,
                   const uint8_t *d, size_t n, size_t first, gp_time dt);
int tcp_ack(struct gp_sim *s, struct gp_tcp *c, bool from_srv, gp_time t);
/* FIN handshake, the client closes first unless srv_first. */
int tcp_close(struct gp_sim *s, struct gp_tcp *c, bool srv_first, gp_time t, gp_time *done);
/* Raw segment with explicit flags/seq/ack, for scans. */
int send_tcp_raw(struct gp_sim *s, gp_time t, struct gp_host *src, struct gp_host *dst,
                 uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                 uint16_t win, const uint8_t *d, size_t n, bool mss_opt);

/* ---------------------------------------------------------------- scheduler */
struct gp_task;
typedef int (*gp_step_fn)(struct gp_sim *s, struct gp_task *task);
struct gp_task {
    gp_time next;       /* when step runs next */
    uint64_t order;     /* tie break: creation order */
    gp_step_fn step;
    void *state;        /* owned by the generator that created the task */
    bool done;          /* set by step to retire the task */
};
struct gp_task *task_add(struct gp_sim *s, gp_time first, gp_step_fn fn, void *state);
void *gp_alloc(struct gp_sim *s, size_t n); /* zeroed, freed when the sim ends */
int sim_run(struct gp_sim *s);
void sim_free(struct gp_sim *s);

/* ---------------------------------------------------------------- simulation */
struct gp_pend;
struct gp_sim {
    struct gp_plant *plant;
    struct gp_rng rng;        /* traffic randomness (depends on --start-offset); the
                               * plant's configuration comes from plant_rng() */
    gp_time t0, t_end;        /* t_end == UINT64_MAX when --packets is used */
    uint64_t max_packets;     /* 0 = unlimited */
    uint64_t written;
    const char *scenario;
    bool attack_only;         /* scenario packets only, no background plant */
    gp_time attack_at;        /* when the scenario's attack begins */
    /* output */
    void *pcap, *dumper;
    struct gp_pend **heap;
    size_t heap_n, heap_cap;
    uint64_t emit_seq;
    struct gp_pend *free_list;
    /* scheduler */
    struct gp_task **tasks;
    size_t ntasks, cap_tasks;
    uint64_t task_seq;
    void **allocs;
    size_t nallocs, cap_allocs;
    int status;               /* first error seen by a task */
};

/* Helpers used by generators. */
gp_time jitter(struct gp_sim *s, gp_time base, uint32_t pct); /* base +/- pct% */
gp_time rtt_us(struct gp_sim *s, uint32_t lo_us, uint32_t hi_us);

/* ---------------------------------------------------------------- generators */
/* Each protocol generator file exports one setup function that creates its tasks
 * for the plant. Listed once in main.c's generator table. */
int gen_arp_setup(struct gp_sim *s);
int gen_dhcp_setup(struct gp_sim *s);
int gen_dns_setup(struct gp_sim *s);
int gen_modbus_setup(struct gp_sim *s);
int gen_s7comm_setup(struct gp_sim *s);
int gen_dnp3_setup(struct gp_sim *s);
int gen_iec104_setup(struct gp_sim *s);
int gen_enip_setup(struct gp_sim *s);
int gen_bacnet_setup(struct gp_sim *s);
int gen_opcua_setup(struct gp_sim *s);
int gen_goose_setup(struct gp_sim *s);
int gen_mms_setup(struct gp_sim *s);
int gen_pndcp_setup(struct gp_sim *s);
int gen_fins_setup(struct gp_sim *s);
int gen_hartip_setup(struct gp_sim *s);
int gen_lldp_setup(struct gp_sim *s);
int gen_cdp_setup(struct gp_sim *s);
int gen_snmp_setup(struct gp_sim *s);
int gen_http_setup(struct gp_sim *s);
int gen_tls_setup(struct gp_sim *s);
int gen_ssh_setup(struct gp_sim *s);
int gen_nbns_setup(struct gp_sim *s);
int gen_ntp_setup(struct gp_sim *s);
int gen_mdns_setup(struct gp_sim *s);
int gen_smb_setup(struct gp_sim *s);

/* Attack pieces exported by protocol generators, used by scenarios.c. */
int gen_modbus_attack_write(struct gp_sim *s, gp_time t, struct gp_host *attacker,
                            struct gp_host *plc, gp_time *done);
int gen_s7_attack(struct gp_sim *s, gp_time t, struct gp_host *from, struct gp_host *plc,
                  int kind, gp_time *done); /* kind: 0 stop, 1 download */
int gen_enip_attack_firmware(struct gp_sim *s, gp_time t, struct gp_host *from,
                             struct gp_host *plc, gp_time *done);
int scenario_setup(struct gp_sim *s);
bool scenario_known(const char *name);
const char *const *scenario_names(void);

#endif
