/*
 * evidence.c - the per-worker frame ring, evidence pcap files, and their size cap.
 *
 * Must never: allocate or make a system call in evring_add (the per-packet path).
 */
#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "evidence.h"
#include "otstate.h"
#ifdef OTS_HAVE_UPLINK
#include "outbox.h"
#endif
#include "packet.h"
#include "worker.h"

int evring_init(struct evring *r)
{
	memset(r, 0, sizeof *r);
	r->slots = malloc((size_t)EVR_SLOTS * sizeof *r->slots);
	if (!r->slots || spsc_init(&r->req, sizeof(struct evr_req), EVR_REQS)) {
		free(r->slots);
		r->slots = NULL;
		return -1;
	}
	if (spsc_init(&r->done, sizeof(struct evr_done), EVR_REQS)) {
		spsc_free(&r->req);
		free(r->slots);
		r->slots = NULL;
		return -1;
	}
	return 0;
}

void evring_free(struct evring *r)
{
	free(r->slots);
	r->slots = NULL;
	spsc_free(&r->req);
	spsc_free(&r->done);
}

void evring_add(struct evring *r, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		uint64_t ts_us, uint32_t flow_id, const struct packet *p)
{
	if (!r->slots)
		return;
	struct evr_slot *s = &r->slots[r->n % EVR_SLOTS];
	s->ts_us = ts_us;
	s->flow_id = flow_id;
	s->caplen = caplen > EVR_SNAP ? EVR_SNAP : caplen;
	s->wirelen = wirelen;
	s->linktype = linktype;
	if (p) {
		s->family = p->ip_version;
		memcpy(s->src_ip, p->src_ip, 16);
		memcpy(s->dst_ip, p->dst_ip, 16);
		if (p->has_mac) {
			memcpy(s->src_mac, p->src_mac, 6);
			memcpy(s->dst_mac, p->dst_mac, 6);
		} else {
			memset(s->src_mac, 0, 12);
		}
	} else {
		s->family = 0;
		memset(s->src_mac, 0, 12);
	}
	memcpy(s->data, frame, s->caplen);
	r->n++;
}

static bool slot_matches(const struct evr_slot *s, const struct evr_req *q)
{
	if (!q->host)
		return q->flow_id && s->flow_id == q->flow_id;
	if (q->family && s->family == q->family &&
	    (!memcmp(s->src_ip, q->ip, q->family == 4 ? 4 : 16) || !memcmp(s->dst_ip, q->ip, q->family == 4 ? 4 : 16)))
		return true;
	static const uint8_t zero[6];
	if (memcmp(q->mac, zero, 6) && (!memcmp(s->src_mac, q->mac, 6) || !memcmp(s->dst_mac, q->mac, 6)))
		return true;
	return q->flow_id && s->flow_id == q->flow_id;
}

static void write_one(struct evring *r, const struct evr_req *q)
{
	uint64_t first = r->n > EVR_SLOTS ? r->n - EVR_SLOTS : 0;
	/* the newest max_packets matching frames, written oldest first */
	uint64_t start = r->n, cnt = 0;
	for (uint64_t i = r->n; i > first && cnt < q->max_packets; i--) {
		if (slot_matches(&r->slots[(i - 1) % EVR_SLOTS], q)) {
			start = i - 1;
			cnt++;
		}
	}
	int lt = cnt ? r->slots[start % EVR_SLOTS].linktype : 1;
	pcap_t *pd = pcap_open_dead(lt, 65535);
	if (!pd) {
		r->failed++;
		return;
	}
	char tmp[520];
	snprintf(tmp, sizeof tmp, "%s.tmp", q->path);
	pcap_dumper_t *d = pcap_dump_open(pd, tmp);
	if (!d) {
		r->failed++;
		pcap_close(pd);
		return;
	}
	for (uint64_t i = start; cnt && i < r->n; i++) {
		const struct evr_slot *s = &r->slots[i % EVR_SLOTS];
		if (s->linktype != lt || !slot_matches(s, q))
			continue;
		struct pcap_pkthdr h;
		h.ts.tv_sec = (time_t)(s->ts_us / 1000000);
		h.ts.tv_usec = (suseconds_t)(s->ts_us % 1000000);
		h.caplen = s->caplen;
		h.len = s->wirelen;
		pcap_dump((u_char *)d, &h, s->data);
	}
	bool bad = pcap_dump_flush(d) != 0;
	pcap_dump_close(d);
	pcap_close(pd);
	if (bad || rename(tmp, q->path)) {
		remove(tmp);
		r->failed++;
		return;
	}
	r->written++;
	struct evr_done dn;
	memset(&dn, 0, sizeof dn);
	dn.alert_id = q->alert_id;
	snprintf(dn.path, sizeof dn.path, "%s", q->path);
	if (!spsc_try_push(&r->done, &dn))
		r->done_lost++;
}

void evring_service(struct evring *r)
{
	struct evr_req q;
	while (spsc_pop_many(&r->req, &q, 1) == 1)
		write_one(r, &q);
}

void evidence_request(struct ots_state *s, const struct fact *f, uint64_t alert_id, bool host, char *path, size_t n)
{
	path[0] = 0;
	if (!s->workers || !s->sc->evidence_max_mb || !s->evidence_dir[0] || f->worker >= s->nworkers)
		return;
	struct worker *w = &s->workers[f->worker];
	if (!w->ev.slots)
		return;
	struct evr_req q;
	memset(&q, 0, sizeof q);
	q.alert_id = alert_id;
	q.flow_id = f->flow_id;
	q.max_packets = s->sc->evidence_packets;
	q.host = host || !f->flow_id;
	const struct fact_endpoint *e = f->src_is_client || !f->flow_id ? &f->src : &f->dst;
	q.family = e->family;
	memcpy(q.ip, e->ip, 16);
	memcpy(q.mac, e->mac, 6);
	int k = snprintf(q.path, sizeof q.path, "%s/alert-%010llu.pcap", s->evidence_dir, (unsigned long long)alert_id);
	if (k <= 0 || (size_t)k >= sizeof q.path)
		return;
	if (!spsc_try_push(&w->ev.req, &q))
		return; /* the worker is far behind: no evidence for this one */
	snprintf(path, n, "%s", q.path);
	s->evidence_pending = true;
}

struct ev_file {
	char name[64];
	off_t size;
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct ev_file *)a)->name, ((const struct ev_file *)b)->name);
}

void evidence_enforce_cap(struct ots_state *s)
{
	if (!s->evidence_dir[0])
		return;
	DIR *d = opendir(s->evidence_dir);
	if (!d)
		return;
	struct ev_file *fs = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "alert-", 6) || strlen(de->d_name) >= 64)
			continue;
		char p[800];
		struct stat sb;
		snprintf(p, sizeof p, "%s/%s", s->evidence_dir, de->d_name);
		if (stat(p, &sb))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct ev_file *nf = realloc(fs, nc * sizeof *nf);
			if (!nf)
				break;
			fs = nf;
			cap = nc;
		}
		snprintf(fs[n].name, sizeof fs[n].name, "%s", de->d_name);
		fs[n].size = sb.st_size;
		total += (uint64_t)sb.st_size;
		n++;
	}
	closedir(d);
	uint64_t max = (uint64_t)s->sc->evidence_max_mb << 20;
	if (total > max && n) {
		qsort(fs, n, sizeof *fs, cmp_name); /* alert ids are zero-padded: oldest first */
		for (size_t i = 0; i < n && total > max; i++) {
			char p[800];
			snprintf(p, sizeof p, "%s/%s", s->evidence_dir, fs[i].name);
			if (!remove(p))
				total -= (uint64_t)fs[i].size;
		}
	}
	free(fs);
}

int evidence_queue_written(struct ots_state *s)
{
	int queued = 0;
	for (int i = 0; i < s->nworkers; i++) {
		struct evring *r = &s->workers[i].ev;
		if (!r->slots)
			continue;
		struct evr_done dn;
		while (spsc_pop_many(&r->done, &dn, 1) == 1) {
#ifdef OTS_HAVE_UPLINK
			if (!s->ob || !s->txn)
				continue;
			json_object *o = json_object_new_object();
			json_object_object_add(o, "path", json_object_new_string(dn.path));
			size_t len;
			const char *js = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
			char key[24];
			snprintf(key, sizeof key, "%llu", (unsigned long long)dn.alert_id);
			int rc = outbox_put(s->ob, s->txn, OUTBOX_EVIDENCE, key, js, len);
			json_object_put(o);
			if (rc < 0)
				return rc;
			if (rc == OUTBOX_QUEUED)
				queued++;
#endif
		}
	}
	return queued;
}
