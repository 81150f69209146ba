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

#include "decode.h"
#include "evidence.h"
#include "ntstore.h"
#include "otstate.h"
#ifdef OTS_HAVE_UPLINK
#include "outbox.h"
#endif
#include "packet.h"
#include "worker.h"

int evring_init(struct evring *r)
{
	memset(r, 0, sizeof *r);
	r->small = malloc((size_t)EVR_SLOTS * EVR_SMALL);
	r->big = malloc((size_t)EVR_SLOTS * EVR_SNAP); /* pages touched only when used */
	r->free_big = malloc(EVR_SLOTS * sizeof *r->free_big);
	r->slot_big = malloc(EVR_SLOTS * sizeof *r->slot_big);
	if (!r->small || !r->big || !r->free_big || !r->slot_big ||
	    spsc_init(&r->req, sizeof(struct evr_req), EVR_REQS) || spsc_init(&r->done, sizeof(struct evr_done), EVR_REQS)) {
		evring_free(r);
		return -1;
	}
	for (uint32_t i = 0; i < EVR_SLOTS; i++) {
		r->free_big[i] = (uint16_t)(EVR_SLOTS - 1 - i); /* slot 0 taken first */
		r->slot_big[i] = EVR_NONE;
	}
	r->nfree = EVR_SLOTS;
	return 0;
}

void evring_free(struct evring *r)
{
	free(r->small);
	free(r->big);
	free(r->free_big);
	free(r->slot_big);
	r->small = r->big = NULL;
	r->free_big = r->slot_big = NULL;
	spsc_free(&r->req);
	spsc_free(&r->done);
}

void evring_add(struct evring *r, int linktype, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
		uint64_t ts_us, uint32_t flow_id)
{
	if (!r->small)
		return;
	uint32_t slot = (uint32_t)(r->n % EVR_SLOTS);
	uint8_t *at = r->small + (size_t)slot * EVR_SMALL;
	/* the slot's old frame is out of reach now: its big slot (known without reading
	 * the slot itself, long out of the cache) goes back to the pool */
	if (r->slot_big[slot] != EVR_NONE)
		r->free_big[r->nfree++] = r->slot_big[slot];
	uint32_t snap = caplen > EVR_SNAP ? EVR_SNAP : caplen;
	uint16_t big = EVR_NONE;
	uint8_t *data = at + sizeof(struct evr_hdr);
	if (sizeof(struct evr_hdr) + snap > EVR_SMALL) {
		/* the pool cannot run dry: a big slot is held only by one of the EVR_SLOTS
		 * small slots */
		big = r->free_big[--r->nfree];
		data = r->big + (size_t)big * EVR_SNAP;
	}
	r->slot_big[slot] = big;
	/* the header's words made in registers: a struct built on the stack and read back
	 * a word at a time would stall on store forwarding */
	nt_word(at, ts_us);
	nt_word(at + 8, (uint64_t)flow_id | (uint64_t)wirelen << 32);
	nt_word(at + 16, (uint64_t)snap | (uint64_t)(uint16_t)linktype << 16 | (uint64_t)big << 32);
	nt_copy(data, frame, snap);
	r->n++;
}

void evring_sync(struct evring *r)
{
	(void)r;
	nt_fence(); /* the ring's stores, seen by whichever thread reads it next */
}

static const struct evr_hdr *hdr_of(const struct evring *r, uint64_t i)
{
	return (const struct evr_hdr *)(r->small + (size_t)(i % EVR_SLOTS) * EVR_SMALL);
}

static const uint8_t *data_of(const struct evring *r, const struct evr_hdr *h)
{
	return h->big == EVR_NONE ? (const uint8_t *)(h + 1) : r->big + (size_t)h->big * EVR_SNAP;
}

static bool frame_matches(const struct evring *r, const struct evr_hdr *h, const struct evr_req *q)
{
	if (q->flow_id && h->flow_id == q->flow_id)
		return true;
	if (!q->host)
		return false;
	/* a host's frames: their addresses, decoded again (requests are rare; frames many) */
	struct packet p;
	struct decode_stats ds;
	memset(&ds, 0, sizeof ds);
	if (decode_frame(h->linktype, data_of(r, h), h->caplen, h->wirelen, h->ts_us, &p, &ds) < 0)
		return false;
	size_t alen = q->family == 4 ? 4 : 16;
	if (q->family && p.ip_version == q->family &&
	    (!memcmp(p.src_ip, q->ip, alen) || !memcmp(p.dst_ip, q->ip, alen)))
		return true;
	static const uint8_t zero[6];
	return p.has_mac && memcmp(q->mac, zero, 6) && (!memcmp(p.src_mac, q->mac, 6) || !memcmp(p.dst_mac, q->mac, 6));
}

static void write_one(struct evring *r, const struct evr_req *q)
{
	uint64_t first = r->n > EVR_SLOTS ? r->n - EVR_SLOTS : 0;
	/* the newest max_packets matching frames, written oldest first */
	uint64_t start = r->n, cnt = 0;
	for (uint64_t i = r->n; i > first && cnt < q->max_packets; i--) {
		if (frame_matches(r, hdr_of(r, i - 1), q)) {
			start = i - 1;
			cnt++;
		}
	}
	int lt = cnt ? hdr_of(r, start)->linktype : 1;
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
		const struct evr_hdr *h = hdr_of(r, i);
		if (h->linktype != lt || !frame_matches(r, h, q))
			continue;
		struct pcap_pkthdr ph;
		ph.ts.tv_sec = (time_t)(h->ts_us / 1000000);
		ph.ts.tv_usec = (suseconds_t)(h->ts_us % 1000000);
		ph.caplen = h->caplen;
		ph.len = h->wirelen;
		pcap_dump((u_char *)d, &ph, data_of(r, h));
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
	if (!w->ev.small)
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
		if (!r->small)
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
