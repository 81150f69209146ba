/*
 * reload.c - SIGHUP on the state thread: swaps the configuration the inventory and the
 * alert engines read (thresholds, windows, subnets, evidence size...) and restarts the
 * uplink thread when [uplink] changed.
 *
 * The engines read their settings through ots_state->cfg/sc on the state thread only,
 * so swapping the pointer between two batches is all it takes; anomaly counters keep
 * counting and are compared with the new thresholds from the next fact on.
 *
 * Must never: run on a thread other than the state thread, hold a write transaction
 * while the uplink restarts (the uplink writes its status in one of its own), free the
 * configuration it replaces, or leave the sensor without an uplink it had when the new
 * settings cannot start one (it goes back to the running ones).
 */
#include <stdio.h>
#include <string.h>

#include "otstate.h"
#include "reload.h"
#include "worker.h"
#ifdef OTS_HAVE_UPLINK
#include "outbox.h"
#include "uplink.h"
#endif

#ifdef OTS_HAVE_UPLINK
/* the state thread's outbox handle follows [uplink] (mode, destinations, caps) */
static int reopen_outbox(struct ots_state *s, const struct uplink_config *uc)
{
	if (!s->ob)
		return 0;
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->st.env, NULL, 0, &txn);
	if (rc)
		return rc;
	struct outbox ob;
	rc = outbox_open(txn, uc, &ob);
	if (rc) {
		mdb_txn_abort(txn);
		return rc;
	}
	rc = mdb_txn_commit(txn);
	if (!rc)
		*s->ob = ob;
	return rc;
}

/* Stops the uplink and starts it with cfg's [uplink]; if that fails, with the running
 * settings (written back into cfg->uplink so the configuration says what runs). */
static int restart_uplink(struct ots_state *s, struct config *cfg, const struct config *old, char *err, size_t errlen)
{
	uplink_stop(s->up, 0);
	s->up = NULL;
	char why[400]; /* r->err (600) holds it with the words around it */
	int status = 0;
	if (uplink_start(&s->up, s->st.env, cfg, why, sizeof why)) {
		snprintf(err, errlen, "the uplink did not start with the new [uplink] settings (%s); it keeps the "
			 "running ones", why);
		cfg->uplink = old->uplink;
		status = -1;
		if (uplink_start(&s->up, s->st.env, cfg, why, sizeof why)) {
			snprintf(err, errlen, "the uplink did not start with the new [uplink] settings nor the running "
				 "ones (%s): no uplink until the next restart", why);
			s->up = NULL;
		}
	}
	int rc = reopen_outbox(s, &cfg->uplink);
	if (rc && !status) {
		snprintf(err, errlen, "state store %.200s: cannot reopen the outbox: %s", s->st.dir, mdb_strerror(rc));
		status = -1;
	}
	if (s->up) {
		uplink_set_health_source(s->up, ots_state_health, s);
		uplink_kick(s->up);
	}
	return status;
}
#endif

int ots_state_reload(void *ctx, void *arg)
{
	struct ots_state *s = ctx;
	struct ots_reload *r = arg;
	r->status = 0;
	r->err[0] = 0;
	/* what the last batches did under the old settings is committed with them (a
	 * failed commit was reported by ots_state_commit; its facts stay lost either way) */
	if (s->txn)
		ots_state_commit(s);
	const struct config *old = s->cfg;
	s->cfg = r->cfg;
	s->sc = &r->cfg->state;
#ifdef OTS_HAVE_UPLINK
	if (r->restart_uplink && restart_uplink(s, r->cfg, old, r->err, sizeof r->err))
		r->status = -1;
#else
	(void)old;
#endif
	return r->status;
}
