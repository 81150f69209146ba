/*
 * emit.h - JSON Lines records on stdout (--emit), and the formatting they share.
 *
 * Each thread formats its records into its own buffer and writes the buffer out in
 * whole lines, under one mutex, only when it is full or at the end: records of
 * different threads never interleave within a line. Records are built with json-c.
 *
 * Must never: be called on the per-packet path unless the user asked for records.
 */
#ifndef OTS_EMIT_H
#define OTS_EMIT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fact.h"
#include "packet.h"

#define EMIT_PDUS    0x01u
#define EMIT_FACTS   0x02u
#define EMIT_DEVICES 0x04u
#define EMIT_ALERTS  0x08u
#define EMIT_STATS   0x10u

/* Parses "pdus,facts,..." into flags; on error names the bad item in err. */
int emit_parse_list(const char *list, unsigned *flags, char *err, size_t errlen);

struct outbuf {
	char *buf;
	size_t len, cap;
};

int outbuf_init(struct outbuf *o, size_t cap);
void outbuf_free(struct outbuf *o);
/* Serialises obj as one line into o (flushing o first if needed) and releases obj. */
void outbuf_put(struct outbuf *o, json_object *obj);
void outbuf_flush(struct outbuf *o);

/* formatting */
void fmt_ts(uint64_t ts_us, char buf[40]);
void fmt_mac(const uint8_t mac[6], char buf[18]);
void fmt_ip(int family, const uint8_t *ip, char buf[46]);
const char *transport_name(int transport);

/* a new record object with "type" and "ts" */
json_object *rec_new(const char *type, uint64_t ts_us);
/* flow-bound fields of a packet: src, sport, dst, dport, transport, vlan, src_mac, dst_mac */
void rec_add_packet(json_object *o, const struct packet *pkt);
/* the same for a fact's endpoints */
void rec_add_fact_endpoints(json_object *o, const struct fact *f);
json_object *fact_to_json(const struct fact *f);

#endif
