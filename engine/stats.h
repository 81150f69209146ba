/*
 * stats.h - the `stats` record (--emit stats) that `replay` and `run` both write: the
 * totals and the per-worker counters are built here, once, so the two commands give
 * the same fields the same names; each command then adds what only it knows (replay:
 * files, packets_per_s; run: backend, drops, interfaces).
 *
 * Must never: be called while the workers run (their counters are read without
 * synchronisation), or rename a field (README.md documents them, tests read them).
 */
#ifndef OTS_STATS_H
#define OTS_STATS_H

#include <json-c/json.h>
#include <stdint.h>

struct worker;

struct stats_in {
	uint64_t ts_us;                 /* the record's time: the latest packet time */
	const struct worker *workers;
	int nworkers;
	const uint64_t *ring_drops;     /* per worker (run: input ring full); NULL: no such field */
	uint64_t facts;                 /* facts the state thread took */
};

/* Sets *out to a new `stats` record with type, ts, packets, bytes, flows, pdus (per
 * protocol), facts and workers (one object per worker). Returns 0, or -1 without
 * memory (*out NULL). The caller adds its own fields, then calls stats_write. */
int stats_record_new(const struct stats_in *in, json_object **out);
/* Writes o as one line on stdout (the per-worker array last) and releases it. Returns
 * 0, or -1 if there was no memory to format it (o is released anyway). */
int stats_write(json_object *o);

#endif
