/*
 * emit.c - JSON Lines output and record formatting (json-c does the JSON).
 *
 * Must never: write a partial line, or hold the output mutex while formatting.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emit.h"

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

int emit_parse_list(const char *list, unsigned *flags, char *err, size_t errlen)
{
	static const struct { const char *name; unsigned flag; } names[] = {
		{ "pdus", EMIT_PDUS }, { "facts", EMIT_FACTS }, { "devices", EMIT_DEVICES },
		{ "alerts", EMIT_ALERTS }, { "stats", EMIT_STATS },
	};
	*flags = 0;
	const char *p = list;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		bool found = false;
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			if (strlen(names[i].name) == n && !strncmp(p, names[i].name, n)) {
				*flags |= names[i].flag;
				found = true;
			}
		}
		if (!found) {
			snprintf(err, errlen, "--emit: unknown record type '%.*s' (expected pdus, facts, devices, alerts, stats)",
				 (int)n, p);
			return -1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

int outbuf_init(struct outbuf *o, size_t cap)
{
	o->buf = malloc(cap);
	o->len = 0;
	o->cap = o->buf ? cap : 0;
	return o->buf ? 0 : -1;
}

void outbuf_free(struct outbuf *o)
{
	outbuf_flush(o);
	free(o->buf);
	o->buf = NULL;
	o->cap = 0;
}

void outbuf_flush(struct outbuf *o)
{
	if (!o->len)
		return;
	pthread_mutex_lock(&out_lock);
	fwrite(o->buf, 1, o->len, stdout);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
	o->len = 0;
}

void outbuf_put(struct outbuf *o, json_object *obj)
{
	size_t n = 0;
	const char *s = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
	if (o->len + n + 1 > o->cap)
		outbuf_flush(o);
	if (n + 1 > o->cap) { /* a record bigger than the buffer goes out on its own */
		pthread_mutex_lock(&out_lock);
		fwrite(s, 1, n, stdout);
		fputc('\n', stdout);
		pthread_mutex_unlock(&out_lock);
	} else {
		memcpy(o->buf + o->len, s, n);
		o->buf[o->len + n] = '\n';
		o->len += n + 1;
	}
	json_object_put(obj);
}

void fmt_ts(uint64_t ts_us, char buf[40])
{
	time_t secs = (time_t)(ts_us / 1000000u);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(buf, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, 40 - n, ".%06uZ", (unsigned)(ts_us % 1000000u));
}

void fmt_mac(const uint8_t mac[6], char buf[18])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

void fmt_ip(int family, const uint8_t *ip, char buf[46])
{
	if (family == 4)
		inet_ntop(AF_INET, ip, buf, 46);
	else if (family == 6)
		inet_ntop(AF_INET6, ip, buf, 46);
	else
		buf[0] = '\0';
}

const char *transport_name(int transport)
{
	switch (transport) {
	case TR_TCP: return "tcp";
	case TR_UDP: return "udp";
	case TR_L2: return "l2";
	case TR_ICMP: return "icmp";
	default: return "other";
	}
}

json_object *rec_new(const char *type, uint64_t ts_us)
{
	char ts[40];
	fmt_ts(ts_us, ts);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "ts", json_object_new_string(ts));
	return o;
}

static void add_endpoints(json_object *o, int transport, uint16_t vlan, int family, const uint8_t *sip, uint16_t sport,
			  const uint8_t *dip, uint16_t dport, const uint8_t *smac, const uint8_t *dmac, bool has_mac)
{
	char ip[46], mac[18];
	if (family) {
		fmt_ip(family, sip, ip);
		json_object_object_add(o, "src", json_object_new_string(ip));
	} else {
		json_object_object_add(o, "src", NULL);
	}
	json_object_object_add(o, "sport", transport == TR_TCP || transport == TR_UDP ? json_object_new_int(sport) : NULL);
	if (family) {
		fmt_ip(family, dip, ip);
		json_object_object_add(o, "dst", json_object_new_string(ip));
	} else {
		json_object_object_add(o, "dst", NULL);
	}
	json_object_object_add(o, "dport", transport == TR_TCP || transport == TR_UDP ? json_object_new_int(dport) : NULL);
	json_object_object_add(o, "transport", json_object_new_string(transport_name(transport)));
	json_object_object_add(o, "vlan", vlan ? json_object_new_int(vlan) : NULL);
	if (has_mac) {
		fmt_mac(smac, mac);
		json_object_object_add(o, "src_mac", json_object_new_string(mac));
		fmt_mac(dmac, mac);
		json_object_object_add(o, "dst_mac", json_object_new_string(mac));
	} else {
		json_object_object_add(o, "src_mac", NULL);
		json_object_object_add(o, "dst_mac", NULL);
	}
}

void rec_add_packet(json_object *o, const struct packet *pkt)
{
	add_endpoints(o, pkt->transport, pkt->vlan, pkt->ip_version, pkt->src_ip, pkt->sport, pkt->dst_ip, pkt->dport,
		      pkt->src_mac, pkt->dst_mac, pkt->has_mac);
}

void rec_add_fact_endpoints(json_object *o, const struct fact *f)
{
	static const uint8_t zero[6];
	bool has_mac = memcmp(f->src.mac, zero, 6) || memcmp(f->dst.mac, zero, 6);
	add_endpoints(o, f->transport, f->vlan, f->src.family, f->src.ip, f->src.port, f->dst.ip, f->dst.port,
		      f->src.mac, f->dst.mac, has_mac);
}

json_object *fact_to_json(const struct fact *f)
{
	json_object *o = rec_new("fact", f->ts_us);
	json_object_object_add(o, "kind", json_object_new_string(fact_type_name(f->type)));
	json_object_object_add(o, "proto", json_object_new_string(f->proto ? f->proto : ""));
	rec_add_fact_endpoints(o, f);
	json_object_object_add(o, "src_is_client", json_object_new_boolean(f->src_is_client));
	switch (f->type) {
	case FACT_IDENTITY:
		json_object_object_add(o, "subject", json_object_new_string(f->u.id.subject == SUBJ_SRC ? "src" : "dst"));
		json_object_object_add(o, "key", json_object_new_string(f->u.id.key));
		json_object_object_add(o, "value", json_object_new_string(f->u.id.value));
		break;
	case FACT_OPERATION:
		json_object_object_add(o, "func", json_object_new_int64(f->u.op.func));
		if (f->u.op.name[0])
			json_object_object_add(o, "func_name", json_object_new_string(f->u.op.name));
		json_object_object_add(o, "write", json_object_new_boolean(f->u.op.is_write));
		json_object_object_add(o, "response", json_object_new_boolean(f->u.op.is_response));
		json_object_object_add(o, "exception", f->u.op.exception ? json_object_new_int(f->u.op.exc_code) : NULL);
		json_object_object_add(o, "object", json_object_new_int64(f->u.op.object));
		if (f->u.op.has_range) {
			json_object_object_add(o, "addr_lo", json_object_new_int64(f->u.op.addr_lo));
			json_object_object_add(o, "addr_hi", json_object_new_int64(f->u.op.addr_hi));
		}
		break;
	case FACT_VIOLATION:
		json_object_object_add(o, "reason", json_object_new_string(f->u.viol.reason));
		break;
	case FACT_EVENT:
		json_object_object_add(o, "event", json_object_new_string(event_name(f->u.event.ev)));
		json_object_object_add(o, "subject", json_object_new_string(f->u.event.subject == SUBJ_SRC ? "src" : "dst"));
		json_object_object_add(o, "detail", json_object_new_string(f->u.event.detail));
		break;
	case FACT_CONTACT:
		json_object_object_add(o, "tcp_flags", json_object_new_int(f->u.contact.tcp_flags));
		break;
	default:
		break;
	}
	return o;
}
