/*
 * stats.c - builds the `stats` record shared by `replay` and `run` (stats.h): totals
 * over the workers and one object of counters per worker.
 *
 * Must never: touch a worker that is still running, or write anything but one whole
 * line on stdout.
 */
#include <string.h>

#include "emit.h"
#include "stats.h"
#include "worker.h"

static void add_u64(json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64((int64_t)v));
}

static json_object *worker_counters(const struct worker *w, const uint64_t *ring_drop)
{
	json_object *wo = json_object_new_object();
	if (!wo)
		return NULL;
	add_u64(wo, "packets", w->st.packets);
	add_u64(wo, "flows", w->ft.st.created);
	add_u64(wo, "flows_peak", w->ft.st.active_peak);
	add_u64(wo, "flows_evicted", w->ft.st.evicted);
	add_u64(wo, "flows_expired", w->ft.st.expired);
	add_u64(wo, "tcp_retrans", w->ft.st.tcp_retrans);
	add_u64(wo, "tcp_overlap", w->ft.st.tcp_overlap);
	add_u64(wo, "tcp_ooo", w->ft.st.tcp_ooo);
	add_u64(wo, "tcp_gaps", w->ft.st.tcp_gaps);
	add_u64(wo, "tcp_desync", w->ft.st.tcp_desync);
	add_u64(wo, "tcp_oversize", w->ft.st.tcp_oversize);
	add_u64(wo, "stream_pool_exhausted", w->ft.st.pool_exhausted);
	add_u64(wo, "ip_reassembled", w->frag.st.reassembled);
	add_u64(wo, "ip_frag_evicted", w->frag.st.evicted);
	add_u64(wo, "decode_errors", w->st.decode_errors);
	add_u64(wo, "violations", w->st.violations);
	add_u64(wo, "facts_sent", w->st.facts);
	add_u64(wo, "facts_repeated", w->st.facts_cached);
	if (ring_drop)
		add_u64(wo, "ring_drops", *ring_drop);
	return wo;
}

int stats_record_new(const struct stats_in *in, json_object **out)
{
	*out = NULL;
	json_object *o = rec_new("stats", in->ts_us);
	json_object *protos = json_object_new_object();
	json_object *workers = json_object_new_array();
	if (!o || !protos || !workers) {
		json_object_put(o);
		json_object_put(protos);
		json_object_put(workers);
		return -1;
	}
	uint64_t pkts = 0, bytes = 0, flows = 0;
	for (int i = 0; i < in->nworkers; i++) {
		const struct worker *w = &in->workers[i];
		pkts += w->st.packets;
		bytes += w->st.bytes;
		flows += w->ft.st.created;
		for (int k = 0; k < w->nprotos; k++) {
			json_object *cur = NULL;
			int64_t prev = 0;
			if (json_object_object_get_ex(protos, w->protos[k].name, &cur))
				prev = json_object_get_int64(cur);
			json_object_object_add(protos, w->protos[k].name,
					       json_object_new_int64(prev + (int64_t)w->protos[k].pdus));
		}
		json_object *wo = worker_counters(w, in->ring_drops ? &in->ring_drops[i] : NULL);
		if (!wo || json_object_array_add(workers, wo)) {
			json_object_put(wo);
			json_object_put(o);
			json_object_put(protos);
			json_object_put(workers);
			return -1;
		}
	}
	add_u64(o, "packets", pkts);
	add_u64(o, "bytes", bytes);
	add_u64(o, "flows", flows);
	json_object_object_add(o, "pdus", protos);
	add_u64(o, "facts", in->facts);
	json_object_object_add(o, "workers", workers);
	*out = o;
	return 0;
}

int stats_write(json_object *o)
{
	/* the per-worker array is the long part of the line: it goes after what the
	 * caller added */
	json_object *workers = NULL;
	if (json_object_object_get_ex(o, "workers", &workers)) {
		json_object_get(workers);
		json_object_object_del(o, "workers");
		json_object_object_add(o, "workers", workers);
	}
	struct outbuf out;
	if (outbuf_init(&out, 1u << 16)) {
		json_object_put(o);
		return -1;
	}
	outbuf_put(&out, o);
	outbuf_free(&out);
	return 0;
}
