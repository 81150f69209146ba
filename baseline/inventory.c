/*
 * inventory.c - devices: who is who on the wire, merged from every fact.
 *
 * Keying: a device is its MAC ("m-001122334455"). A MAC that carries at least
 * [network] router_min_ips addresses it never announced itself by ARP (or any
 * address outside the configured subnets, or a public one) is a router: each address
 * behind it becomes a device of its own, keyed by IP ("i-10.20.0.5"). Captures
 * without MACs key every device by IP. Public addresses (outside RFC 1918 and the
 * configured subnets) are not plant devices: they make no inventory entry (the
 * policy engine raises public_ip_contact instead).
 *
 * The type comes from behaviour (inv_type): an ICS server is a PLC/RTU/IED, a client
 * that polls ICS servers an HMI, one that transfers programs or firmware an
 * engineering station; the rest from IT protocols.
 *
 * Must never: create a device for a broadcast, multicast or unspecified address, or
 * grow past INV_MAX_DEVICES (counted in devices_dropped).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "oui.h"
#include "otstate.h"
#ifdef OTS_HAVE_UPLINK
#include "outbox.h"
#endif

/* ---------------------------------------------------------------- map */

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static int imap_grow(struct imap *m)
{
	size_t nc = m->cap ? m->cap * 2 : 1024;
	uint64_t *k = calloc(nc, sizeof *k);
	int32_t *v = calloc(nc, sizeof *v);
	if (!k || !v) {
		free(k);
		free(v);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = mix(m->keys[i]) & (nc - 1);
		while (k[j])
			j = (j + 1) & (nc - 1);
		k[j] = m->keys[i];
		v[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = k;
	m->vals = v;
	m->cap = nc;
	return 0;
}

static int imap_get(const struct imap *m, uint64_t key)
{
	if (!m->cap)
		return -1;
	for (size_t j = mix(key) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
		if (!m->keys[j])
			return -1;
		if (m->keys[j] == key)
			return m->vals[j];
	}
}

static int imap_put(struct imap *m, uint64_t key, int val)
{
	if ((m->n + 1) * 2 > m->cap && imap_grow(m))
		return -1;
	size_t j = mix(key) & (m->cap - 1);
	while (m->keys[j] && m->keys[j] != key)
		j = (j + 1) & (m->cap - 1);
	if (!m->keys[j])
		m->n++;
	m->keys[j] = key;
	m->vals[j] = val;
	return 0;
}

static uint64_t mac_key(const uint8_t mac[6])
{
	uint64_t k = 1ull << 63;
	for (int i = 0; i < 6; i++)
		k |= (uint64_t)mac[i] << (8 * (5 - i));
	return k;
}

static uint64_t ip_key(int family, const uint8_t *ip)
{
	if (family == 4)
		return (1ull << 62) | ((uint64_t)ip[0] << 24) | ((uint64_t)ip[1] << 16) | ((uint64_t)ip[2] << 8) | ip[3];
	uint64_t a, b;
	memcpy(&a, ip, 8);
	memcpy(&b, ip + 8, 8);
	return mix(a ^ mix(b)) | 1;
}

/* ---------------------------------------------------------------- addresses */

static bool ip_usable(int family, const uint8_t *ip)
{
	if (family == 4) {
		if (!ip[0] || ip[0] >= 224 || ip[0] == 127)
			return false; /* unspecified, multicast, broadcast, loopback */
		return true;
	}
	if (family == 6) {
		static const uint8_t zero[16];
		if (ip[0] == 0xff || !memcmp(ip, zero, 16))
			return false;
		return true;
	}
	return false;
}

bool addr_is_public(const struct state_config *sc, int family, const uint8_t *ip)
{
	if (!ip_usable(family, ip))
		return false;
	if (state_config_subnet(sc, family, ip, NULL))
		return false;
	if (family == 4) {
		if (ip[0] == 10 || (ip[0] == 172 && (ip[1] & 0xf0) == 16) || (ip[0] == 192 && ip[1] == 168) ||
		    (ip[0] == 169 && ip[1] == 254) || (ip[0] == 100 && (ip[1] & 0xc0) == 64))
			return false;
		return true;
	}
	/* IPv6: link-local fe80::/10 and unique local fc00::/7 are private */
	if ((ip[0] == 0xfe && (ip[1] & 0xc0) == 0x80) || (ip[0] & 0xfe) == 0xfc)
		return false;
	return true;
}

static bool mac_unicast(const uint8_t mac[6])
{
	static const uint8_t zero[6];
	return !(mac[0] & 1) && memcmp(mac, zero, 6);
}

bool proto_is_ics(const char *p)
{
	static const char *const ics[] = { "modbus", "s7comm", "s7comm_plus", "cotp", "enip", "cip", "dnp3", "iec104",
					   "bacnet", "fins", "melsec", "goose", "mms", "opcua", "hart_ip",
					   "profinet_dcp", "umas", NULL };
	for (const char *const *q = ics; *q; q++)
		if (!strcmp(p, *q))
			return true;
	return false;
}

/* ---------------------------------------------------------------- devices */

void bl_dev_key(char *buf, size_t n, const char *id)
{
	snprintf(buf, n, "D|%s", id);
}

static int dev_new(struct ots_state *s, const char *id, uint64_t ts)
{
	if (s->ndevs >= INV_MAX_DEVICES) {
		s->devices_dropped++;
		return -1;
	}
	if (!(s->ndevs & 255)) {
		struct device *nd = realloc(s->devs, (size_t)(s->ndevs + 256) * sizeof *nd);
		if (!nd)
			return -1;
		s->devs = nd;
	}
	struct device *d = &s->devs[s->ndevs];
	memset(d, 0, sizeof *d);
	snprintf(d->id, sizeof d->id, "%s", id);
	d->first_seen = d->last_seen = ts;
	d->dirty = true;
	return s->ndevs++;
}

static int dev_for_mac(struct ots_state *s, const uint8_t mac[6], uint64_t ts, bool *is_new)
{
	int i = imap_get(&s->by_mac, mac_key(mac));
	if (i >= 0)
		return i;
	char id[DEV_ID_LEN];
	snprintf(id, sizeof id, "m-%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	i = dev_new(s, id, ts);
	if (i < 0)
		return -1;
	struct device *d = &s->devs[i];
	memcpy(d->macs[0], mac, 6);
	d->nmacs = 1;
	const char *v = oui_vendor(mac);
	if (v)
		snprintf(d->vendor, sizeof d->vendor, "%s", v);
	imap_put(&s->by_mac, mac_key(mac), i);
	*is_new = true;
	return i;
}

static int dev_for_ip(struct ots_state *s, int family, const uint8_t *ip, uint64_t ts, bool behind, bool *is_new)
{
	int i = imap_get(&s->by_ip, ip_key(family, ip));
	if (i >= 0)
		return i;
	char id[DEV_ID_LEN], a[46];
	fmt_ip(family, ip, a);
	snprintf(id, sizeof id, "i-%s", a);
	i = dev_new(s, id, ts);
	if (i < 0)
		return -1;
	struct device *d = &s->devs[i];
	d->ips[0].family = (uint8_t)family;
	memcpy(d->ips[0].ip, ip, 16);
	d->nips = 1;
	d->behind_router = behind;
	imap_put(&s->by_ip, ip_key(family, ip), i);
	*is_new = true;
	return i;
}

/* The baseline items learned for a MAC before it turned out to be a router describe
 * the traffic of the addresses behind it: each of them inherits them (the items name
 * the device by id, not by address, so each gets all of them), or the addresses seen
 * while learning would raise new_device, new_channel... once learning ended. In the
 * state thread's transaction (s->txn); identity items (I|) stay with the router. */
static void rehome_baseline(struct ots_state *s, const char *from, const char *to)
{
	if (!s->txn || s->txn_err)
		return;
	MDB_cursor *c;
	int rc = mdb_cursor_open(s->txn, s->st.baseline, &c);
	if (rc) {
		s->txn_err = rc;
		return;
	}
	size_t fl = strlen(from);
	char **keys = NULL;
	MDB_val *vals = NULL;
	size_t n = 0, cap = 0;
	MDB_val k, v;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		const char *p = k.mv_data;
		if (k.mv_size < 2 || p[1] != '|' || p[0] == 'I' || k.mv_size > 400)
			continue;
		/* fields equal to from, replaced by to */
		char out[512];
		size_t o = 0, i = 0;
		bool hit = false;
		while (i <= k.mv_size && o < sizeof out - 64) {
			size_t j = i;
			while (j < k.mv_size && p[j] != '|')
				j++;
			if (j - i == fl && !memcmp(p + i, from, fl)) {
				o += (size_t)snprintf(out + o, sizeof out - o, "%s", to);
				hit = true;
			} else {
				memcpy(out + o, p + i, j - i);
				o += j - i;
			}
			if (j < k.mv_size)
				out[o++] = '|';
			i = j + 1;
		}
		out[o] = 0;
		if (!hit || o >= sizeof out - 64)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **nk = realloc(keys, nc * sizeof *nk);
			MDB_val *nv = nk ? realloc(vals, nc * sizeof *nv) : NULL;
			if (nk)
				keys = nk;
			if (!nv)
				break;
			vals = nv;
			cap = nc;
		}
		keys[n] = strdup(out);
		vals[n] = v;
		if (keys[n])
			n++;
	}
	mdb_cursor_close(c);
	/* the values point into the map: copied out before writing */
	for (size_t i = 0; i < n; i++) {
		void *copy = malloc(vals[i].mv_size ? vals[i].mv_size : 1);
		if (copy)
			memcpy(copy, vals[i].mv_data, vals[i].mv_size);
		vals[i].mv_data = copy;
	}
	for (size_t i = 0; i < n; i++) {
		if (!s->txn_err && vals[i].mv_data && !db_has(s->txn, s->st.baseline, keys[i])) {
			rc = db_put_str(s->txn, s->st.baseline, keys[i], vals[i].mv_data, vals[i].mv_size);
			if (rc)
				s->txn_err = rc;
		}
		free(keys[i]);
		free(vals[i].mv_data);
	}
	free(keys);
	free(vals);
}

static void make_router(struct ots_state *s, int r, uint64_t ts)
{
	struct device *d = &s->devs[r];
	d->router = true;
	d->dirty = true;
	int keep = 0;
	for (int k = 0; k < d->nips; k++) {
		struct dev_ip ip = s->devs[r].ips[k];
		if (ip.arp) {
			s->devs[r].ips[keep++] = ip;
			continue;
		}
		/* an address routed through it: a device of its own */
		bool nw = false;
		imap_put(&s->by_ip, ip_key(ip.family, ip.ip), -1);
		int i = dev_for_ip(s, ip.family, ip.ip, ts, true, &nw);
		if (i >= 0) {
			s->devs[i].dirty = true;
			char from[DEV_ID_LEN];
			snprintf(from, sizeof from, "%s", s->devs[r].id); /* devs may move */
			rehome_baseline(s, from, s->devs[i].id);
		}
	}
	s->devs[r].nips = keep;
}

int inv_endpoint(struct ots_state *s, const struct fact *f, const struct fact_endpoint *e, bool *is_new)
{
	*is_new = false;
	bool has_ip = ip_usable(e->family, e->ip);
	bool uni = mac_unicast(e->mac);
	bool arp = !strcmp(f->proto, "arp") && e == &f->src;
	int i = -1;
	if (has_ip && addr_is_public(s->sc, e->family, e->ip)) {
		/* the MAC that carries Internet traffic is a gateway */
		if (uni) {
			int r = imap_get(&s->by_mac, mac_key(e->mac));
			if (r >= 0 && !s->devs[r].router)
				make_router(s, r, f->ts_us);
		}
		return -1;
	}
	if (has_ip) {
		i = imap_get(&s->by_ip, ip_key(e->family, e->ip));
		if (i >= 0) {
			struct device *d = &s->devs[i];
			if (arp) {
				for (int k = 0; k < d->nips; k++)
					if (d->ips[k].family == e->family && !memcmp(d->ips[k].ip, e->ip, 16) &&
					    !d->ips[k].arp) {
						d->ips[k].arp = true;
						d->dirty = true;
					}
			}
			if (uni && !d->behind_router && !d->router) {
				bool have = false;
				for (int k = 0; k < d->nmacs; k++)
					have |= !memcmp(d->macs[k], e->mac, 6);
				int owner = imap_get(&s->by_mac, mac_key(e->mac));
				if (!have && owner < 0 && d->nmacs < DEV_MAX_MACS) {
					memcpy(d->macs[d->nmacs++], e->mac, 6);
					imap_put(&s->by_mac, mac_key(e->mac), i);
					d->dirty = true;
				}
			}
			goto seen;
		}
	}
	if (!uni) {
		static const uint8_t zero[6];
		if (!has_ip || memcmp(e->mac, zero, 6) || f->type == FACT_IDENTITY)
			return -1; /* broadcast/multicast frame, or an address a dissector learned of (DNS answer) */
		/* a capture without MACs: key by IP */
		i = dev_for_ip(s, e->family, e->ip, f->ts_us, false, is_new);
		goto seen;
	}
	i = dev_for_mac(s, e->mac, f->ts_us, is_new);
	if (i < 0)
		return -1;
	if (has_ip) {
		struct device *d = &s->devs[i];
		if (d->router && !arp) {
			bool nw = false;
			int j = dev_for_ip(s, e->family, e->ip, f->ts_us, true, &nw);
			if (j >= 0) {
				*is_new = nw;
				i = j;
			}
			goto seen;
		}
		if (d->nips < DEV_MAX_IPS) {
			d->ips[d->nips].family = e->family;
			memcpy(d->ips[d->nips].ip, e->ip, 16);
			d->ips[d->nips].arp = arp;
			d->nips++;
			d->dirty = true;
			imap_put(&s->by_ip, ip_key(e->family, e->ip), i);
		}
		int routed = 0;
		for (int k = 0; k < d->nips; k++)
			routed += !d->ips[k].arp;
		if (!arp && (uint32_t)routed >= s->sc->router_min_ips) {
			make_router(s, i, f->ts_us);
			i = imap_get(&s->by_ip, ip_key(e->family, e->ip));
			if (i < 0)
				return -1;
		}
	}
seen:
	if (i < 0)
		return -1;
	struct device *d = &s->devs[i];
	if (f->ts_us > d->last_seen) {
		d->last_seen = f->ts_us;
		d->dirty = true; /* written back at most once per batch */
	}
	if (f->ts_us && f->ts_us < d->first_seen)
		d->first_seen = f->ts_us;
	if (f->vlan) {
		bool have = false;
		for (int k = 0; k < d->nvlans; k++)
			have |= d->vlans[k] == f->vlan;
		if (!have && d->nvlans < DEV_MAX_VLANS) {
			d->vlans[d->nvlans++] = f->vlan;
			d->dirty = true;
		}
	}
	d->silent_alerted = false;
	return i;
}

static void set_str(struct device *d, char *dst, size_t n, const char *v)
{
	if (strncmp(dst, v, n - 1)) {
		snprintf(dst, n, "%s", v);
		d->dirty = true;
	}
}

void inv_identity(struct ots_state *s, int i, const char *key, const char *value)
{
	struct device *d = &s->devs[i];
	if (!strcmp(key, "hostname") || !strcmp(key, "name") || !strcmp(key, "sysname")) {
		/* a qualified name (DNS) is kept over a bare one (NetBIOS, LLMNR, sysName)
		 * whichever came last: more useful, and the same for any fact order */
		if (!strchr(value, '.') && strchr(d->hostname, '.'))
			return;
		set_str(d, d->hostname, sizeof d->hostname, value);
	}
	else if (!strcmp(key, "model") || !strcmp(key, "product") || !strcmp(key, "product_name"))
		set_str(d, d->model, sizeof d->model, value);
	else if (!strcmp(key, "firmware") || !strcmp(key, "version") || !strcmp(key, "revision"))
		set_str(d, d->firmware, sizeof d->firmware, value);
	else if (!strcmp(key, "serial"))
		set_str(d, d->serial, sizeof d->serial, value);
	else if (!strcmp(key, "role"))
		set_str(d, d->role, sizeof d->role, value);
	else if (!strcmp(key, "os"))
		set_str(d, d->os, sizeof d->os, value);
	else if (!strcmp(key, "vendor") && !d->vendor[0])
		set_str(d, d->vendor, sizeof d->vendor, value);
}

void inv_proto(struct ots_state *s, int i, const char *proto, bool server)
{
	struct device *d = &s->devs[i];
	uint8_t role = server ? 2 : 1;
	for (int k = 0; k < d->nprotos; k++) {
		if (!strcmp(d->protos[k].name, proto)) {
			if (!(d->protos[k].roles & role)) {
				d->protos[k].roles |= role;
				d->dirty = true;
			}
			return;
		}
	}
	if (d->nprotos >= DEV_MAX_PROTOS)
		return;
	snprintf(d->protos[d->nprotos].name, sizeof d->protos[0].name, "%s", proto);
	d->protos[d->nprotos].roles = role;
	d->nprotos++;
	d->dirty = true;
}

void inv_ics_peer(struct ots_state *s, int client, int server)
{
	struct device *d = &s->devs[client];
	for (int k = 0; k < d->npeers; k++)
		if (d->ics_peers[k] == (uint32_t)server + 1)
			return;
	if (d->npeers < DEV_MAX_PEERS) {
		d->ics_peers[d->npeers++] = (uint32_t)server + 1;
		d->dirty = true;
	}
}

static bool serves(const struct device *d, const char *p)
{
	for (int k = 0; k < d->nprotos; k++)
		if (!strcmp(d->protos[k].name, p) && (d->protos[k].roles & 2))
			return true;
	return false;
}

static bool uses(const struct device *d, const char *p, uint8_t role)
{
	for (int k = 0; k < d->nprotos; k++)
		if (!strcmp(d->protos[k].name, p) && (d->protos[k].roles & role))
			return true;
	return false;
}

const char *inv_type(const struct ots_state *s, int i)
{
	(void)s;
	const struct device *d = &s->devs[i];
	if (d->router)
		return "router";
	if (d->eng_actions)
		return "engineering_station";
	if (serves(d, "dnp3") || serves(d, "iec104"))
		return "rtu";
	if (serves(d, "goose") || serves(d, "mms") || uses(d, "goose", 1))
		return "ied";
	static const char *const plc[] = { "modbus", "s7comm", "s7comm_plus", "cotp", "enip", "cip", "fins",
					   "melsec", "bacnet", "hart_ip", "umas", NULL };
	for (const char *const *p = plc; *p; p++)
		if (serves(d, *p))
			return "plc";
	if (d->npeers >= 1)
		return "hmi";
	if (serves(d, "opcua"))
		return "historian";
	if (uses(d, "lldp", 3) || uses(d, "cdp", 3))
		return "switch";
	static const char *const srv[] = { "http", "tls", "dns", "dhcp", "smb", "ntp", "ssh", "snmp", NULL };
	for (const char *const *p = srv; *p; p++)
		if (serves(d, *p))
			return "server";
	for (int k = 0; k < d->nprotos; k++)
		if (d->protos[k].roles & 1)
			return "workstation";
	return "unknown";
}

/* ---------------------------------------------------------------- JSON */

/* drops the restore-only "_" fields: what leaves the sensor is the record contract */
void strip_private_keys(json_object *o)
{
	struct json_object_iterator it = json_object_iter_begin(o), end = json_object_iter_end(o);
	const char *drop[16];
	int nd = 0;
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		if (k[0] == '_' && nd < 16)
			drop[nd++] = k;
	}
	for (int i = 0; i < nd; i++)
		json_object_object_del(o, drop[i]);
}

/* FNV-1a of the public record without its times (ts, first_seen, last_seen move on
 * every packet; they are not a reason to tell the uplink) */
static uint64_t dev_hash(json_object *pub)
{
	static const char *const tk[] = { "ts", "first_seen", "last_seen" };
	json_object *saved[3] = { NULL, NULL, NULL };
	for (int i = 0; i < 3; i++) {
		json_object *v;
		if (json_object_object_get_ex(pub, tk[i], &v) && v) {
			saved[i] = json_object_get(v);
			json_object_object_del(pub, tk[i]);
		}
	}
	size_t len;
	const char *str = json_object_to_json_string_length(pub, JSON_C_TO_STRING_PLAIN, &len);
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)str[i];
		h *= 1099511628211ull;
	}
	for (int i = 0; i < 3; i++)
		if (saved[i])
			json_object_object_add(pub, tk[i], saved[i]);
	return h | 1; /* 0 = never queued */
}

static const char *type_names[] = { "plc", "rtu", "hmi", "engineering_station", "historian", "ied", "switch",
				    "server", "workstation", "router", "unknown", NULL };

json_object *device_to_json(const struct device *d, const struct ots_state *s, MDB_txn *txn)
{
	json_object *o = rec_new("device", d->last_seen);
	json_object_object_add(o, "id", json_object_new_string(d->id));
	json_object *macs = json_object_new_array();
	for (int k = 0; k < d->nmacs; k++) {
		char m[18];
		fmt_mac(d->macs[k], m);
		json_object_array_add(macs, json_object_new_string(m));
	}
	json_object_object_add(o, "macs", macs);
	json_object *ips = json_object_new_array();
	const char *zone = NULL;
	for (int k = 0; k < d->nips; k++) {
		char a[46];
		fmt_ip(d->ips[k].family, d->ips[k].ip, a);
		json_object_array_add(ips, json_object_new_string(a));
		if (!zone && s)
			state_config_subnet(s->sc, d->ips[k].family, d->ips[k].ip, &zone);
	}
	json_object_object_add(o, "ips", ips);
#define STR_OR_NULL(x) ((x)[0] ? json_object_new_string(x) : NULL)
	json_object_object_add(o, "vendor", STR_OR_NULL(d->vendor));
	json_object_object_add(o, "hostname", STR_OR_NULL(d->hostname));
	int idx = s ? (int)(d - s->devs) : -1;
	/* "type" is the record's type, as in every record; the device's kind is device_type */
	json_object_object_add(o, "device_type", json_object_new_string(idx >= 0 ? inv_type(s, idx) : "unknown"));
	json_object_object_add(o, "model", STR_OR_NULL(d->model));
	json_object_object_add(o, "firmware", STR_OR_NULL(d->firmware));
	json_object_object_add(o, "serial", STR_OR_NULL(d->serial));
	json_object *protos = json_object_new_array();
	for (int k = 0; k < d->nprotos; k++) {
		for (int r = 1; r <= 2; r++) {
			if (!(d->protos[k].roles & r))
				continue;
			json_object *p = json_object_new_object();
			json_object_object_add(p, "proto", json_object_new_string(d->protos[k].name));
			json_object_object_add(p, "role", json_object_new_string(r == 1 ? "client" : "server"));
			json_object_array_add(protos, p);
		}
	}
	json_object_object_add(o, "protocols", protos);
	json_object *vl = json_object_new_array();
	json_object *vn = json_object_new_array();
	for (int k = 0; k < d->nvlans; k++) {
		json_object_array_add(vl, json_object_new_int(d->vlans[k]));
		const char *n = s ? state_config_vlan_name(s->sc, d->vlans[k]) : NULL;
		if (n)
			json_object_array_add(vn, json_object_new_string(n));
	}
	json_object_object_add(o, "vlans", vl);
	json_object_object_add(o, "vlan_names", vn);
	json_object_object_add(o, "zone", zone && zone[0] ? json_object_new_string(zone) : NULL);
	char ts[40];
	fmt_ts(d->first_seen, ts);
	json_object_object_add(o, "first_seen", json_object_new_string(ts));
	fmt_ts(d->last_seen, ts);
	json_object_object_add(o, "last_seen", json_object_new_string(ts));
	bool learned = false;
	if (txn && s) {
		char k[64];
		bl_dev_key(k, sizeof k, d->id);
		learned = db_has(txn, s->st.baseline, k);
	}
	json_object_object_add(o, "learned", json_object_new_boolean(learned));
	json_object_object_add(o, "router", json_object_new_boolean(d->router));
	json_object_object_add(o, "behind_router", json_object_new_boolean(d->behind_router));
	/* restore-only fields (not part of the record contract) */
	json_object_object_add(o, "_first_us", json_object_new_uint64(d->first_seen));
	json_object_object_add(o, "_last_us", json_object_new_uint64(d->last_seen));
	json_object_object_add(o, "_eng", json_object_new_int((int)d->eng_actions));
	json_object_object_add(o, "_peers", json_object_new_int(d->npeers));
	json_object *ipf = json_object_new_array();
	for (int k = 0; k < d->nips; k++)
		json_object_array_add(ipf, json_object_new_boolean(d->ips[k].arp));
	json_object_object_add(o, "_ip_arp", ipf);
	(void)type_names;
	return o;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;
	if (json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "";
}

static int parse_mac(const char *s, uint8_t m[6])
{
	unsigned b[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		m[i] = (uint8_t)b[i];
	return 0;
}

static void device_from_json(struct ots_state *s, json_object *o)
{
	const char *id = jstr(o, "id");
	if (!id[0])
		return;
	int i = dev_new(s, id, 0);
	if (i < 0)
		return;
	struct device *d = &s->devs[i];
	d->dirty = false;
	json_object *a, *v;
	if (json_object_object_get_ex(o, "macs", &a))
		for (size_t k = 0; k < json_object_array_length(a) && d->nmacs < DEV_MAX_MACS; k++)
			if (!parse_mac(json_object_get_string(json_object_array_get_idx(a, k)), d->macs[d->nmacs]))
				imap_put(&s->by_mac, mac_key(d->macs[d->nmacs++]), i);
	json_object *arpf = NULL;
	json_object_object_get_ex(o, "_ip_arp", &arpf);
	if (json_object_object_get_ex(o, "ips", &a))
		for (size_t k = 0; k < json_object_array_length(a) && d->nips < DEV_MAX_IPS; k++) {
			const char *txt = json_object_get_string(json_object_array_get_idx(a, k));
			struct dev_ip *ip = &d->ips[d->nips];
			memset(ip, 0, sizeof *ip);
			if (inet_pton(AF_INET, txt, ip->ip) == 1)
				ip->family = 4;
			else if (inet_pton(AF_INET6, txt, ip->ip) == 1)
				ip->family = 6;
			else
				continue;
			ip->arp = arpf && json_object_get_boolean(json_object_array_get_idx(arpf, k));
			imap_put(&s->by_ip, ip_key(ip->family, ip->ip), i);
			d->nips++;
		}
	snprintf(d->vendor, sizeof d->vendor, "%s", jstr(o, "vendor"));
	snprintf(d->hostname, sizeof d->hostname, "%s", jstr(o, "hostname"));
	snprintf(d->model, sizeof d->model, "%s", jstr(o, "model"));
	snprintf(d->firmware, sizeof d->firmware, "%s", jstr(o, "firmware"));
	snprintf(d->serial, sizeof d->serial, "%s", jstr(o, "serial"));
	if (json_object_object_get_ex(o, "protocols", &a))
		for (size_t k = 0; k < json_object_array_length(a); k++) {
			json_object *p = json_object_array_get_idx(a, k);
			inv_proto(s, i, jstr(p, "proto"), !strcmp(jstr(p, "role"), "server"));
		}
	if (json_object_object_get_ex(o, "vlans", &a))
		for (size_t k = 0; k < json_object_array_length(a) && d->nvlans < DEV_MAX_VLANS; k++)
			d->vlans[d->nvlans++] = (uint16_t)json_object_get_int(json_object_array_get_idx(a, k));
	if (json_object_object_get_ex(o, "_first_us", &v))
		d->first_seen = json_object_get_uint64(v);
	if (json_object_object_get_ex(o, "_last_us", &v))
		d->last_seen = json_object_get_uint64(v);
	if (json_object_object_get_ex(o, "_eng", &v))
		d->eng_actions = (uint32_t)json_object_get_int(v);
	if (json_object_object_get_ex(o, "_peers", &v)) {
		int n = json_object_get_int(v);
		for (int k = 0; k < n && k < DEV_MAX_PEERS; k++)
			d->ics_peers[d->npeers++] = 0xffffffffu - (uint32_t)k; /* placeholders: count only */
	}
	if (json_object_object_get_ex(o, "router", &v))
		d->router = json_object_get_boolean(v);
	if (json_object_object_get_ex(o, "behind_router", &v))
		d->behind_router = json_object_get_boolean(v);
	d->dirty = false;
}

int inv_load(struct ots_state *s, MDB_txn *txn)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(txn, s->st.devices, &c);
	if (rc)
		return rc;
	MDB_val k, v;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		json_object *o = json_tokener_parse((const char *)v.mv_data);
		if (o) {
			device_from_json(s, o);
			json_object_put(o);
		}
	}
	mdb_cursor_close(c);
	if (rc != MDB_NOTFOUND)
		return rc;
	/* what the uplink already heard of: only later changes are queued again */
	if (strcmp(s->cfg->uplink.mode, "off"))
		for (int i = 0; i < s->ndevs; i++) {
			json_object *o = device_to_json(&s->devs[i], s, txn);
			strip_private_keys(o);
			s->devs[i].up_hash = dev_hash(o);
			json_object_put(o);
		}
	return 0;
}

int inv_save_dirty(struct ots_state *s, MDB_txn *txn)
{
	for (int i = 0; i < s->ndevs; i++) {
		struct device *d = &s->devs[i];
		if (!d->dirty)
			continue;
		json_object *o = device_to_json(d, s, txn);
		size_t len;
		const char *js = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
		int rc = db_put_str(txn, s->st.devices, d->id, js, len + 1);
#ifdef OTS_HAVE_UPLINK
		/* the uplink hears of a device when it is new or its record changed other than
		 * in its times (identity, type, addresses, protocols, learned): in this same
		 * transaction, coalesced per device id by the outbox */
		if (!rc && s->ob && s->ob->enabled) {
			strip_private_keys(o);
			uint64_t h = dev_hash(o);
			if (h != d->up_hash) {
				const char *pub = json_object_to_json_string_length(
					o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
				int orc = outbox_put(s->ob, txn, OUTBOX_DEVICE, d->id, pub, len);
				if (orc < 0)
					rc = orc;
				else {
					d->up_hash = h;
					if (orc == OUTBOX_QUEUED)
						s->devices_queued++;
				}
			}
		}
#endif
		json_object_put(o);
		if (rc)
			return rc;
		d->dirty = false;
	}
	return 0;
}

int inv_queue_snapshot(struct ots_state *s, MDB_txn *txn)
{
#ifdef OTS_HAVE_UPLINK
	if (!s->ob || !s->ob->enabled || !s->ob->has_blob)
		return 0;
	json_object *snap = rec_new("inventory", s->now);
	const char *name = s->cfg->sensor.name[0] ? s->cfg->sensor.name : "otsensor";
	json_object_object_add(snap, "sensor", json_object_new_string(name));
	json_object_object_add(snap, "device_count", json_object_new_int(s->ndevs));
	json_object *arr = json_object_new_array();
	for (int i = 0; i < s->ndevs; i++) {
		json_object *o = device_to_json(&s->devs[i], s, txn);
		strip_private_keys(o);
		json_object_array_add(arr, o);
	}
	json_object_object_add(snap, "devices", arr);
	size_t len;
	const char *js = json_object_to_json_string_length(snap, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	int rc = outbox_put(s->ob, txn, OUTBOX_SNAPSHOT, "inventory", js, len);
	json_object_put(snap);
	if (rc == OUTBOX_QUEUED)
		s->snapshots_queued++;
	return rc < 0 ? rc : 0;
#else
	(void)s;
	(void)txn;
	return 0;
#endif
}
