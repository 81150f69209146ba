/* sched.c - discrete-event scheduler driving every generator.
 *
 * What it is for: a min-heap of tasks keyed on (next time, creation order). The run
 * loop takes the earliest task, first writes every queued frame stamped at or
 * before that time, then lets the task emit its exchange and reschedule itself.
 * Because a task only emits frames at or after its own start time, the capture is
 * written in non-decreasing timestamp order.
 *
 * What it must never do: run a task out of time order, or depend on anything but
 * the simulation's own PRNG and packet time. Memory handed out by gp_alloc lives
 * until sim_free.
 */
#include "gen.h"

#include <stdlib.h>
#include <string.h>

static bool task_less(const struct gp_task *a, const struct gp_task *b)
{
    if (a->next != b->next)
        return a->next < b->next;
    return a->order < b->order;
}

static void t_up(struct gp_task **h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!task_less(h[i], h[p]))
            break;
        struct gp_task *t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

static void t_down(struct gp_task **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && task_less(h[l], h[m]))
            m = l;
        if (r < n && task_less(h[r], h[m]))
            m = r;
        if (m == i)
            return;
        struct gp_task *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

void *gp_alloc(struct gp_sim *s, size_t n)
{
    if (s->nallocs == s->cap_allocs) {
        size_t nc = s->cap_allocs ? s->cap_allocs * 2 : 256;
        void **na = realloc(s->allocs, nc * sizeof *na);
        if (!na)
            return NULL;
        s->allocs = na;
        s->cap_allocs = nc;
    }
    void *p = calloc(1, n);
    if (p)
        s->allocs[s->nallocs++] = p;
    return p;
}

struct gp_task *task_add(struct gp_sim *s, gp_time first, gp_step_fn fn, void *state)
{
    struct gp_task *t = gp_alloc(s, sizeof *t);
    if (!t)
        return NULL;
    if (s->ntasks == s->cap_tasks) {
        size_t nc = s->cap_tasks ? s->cap_tasks * 2 : 256;
        struct gp_task **nt = realloc(s->tasks, nc * sizeof *nt);
        if (!nt)
            return NULL;
        s->tasks = nt;
        s->cap_tasks = nc;
    }
    t->next = first;
    t->order = s->task_seq++;
    t->step = fn;
    t->state = state;
    s->tasks[s->ntasks++] = t;
    t_up(s->tasks, s->ntasks - 1);
    return t;
}

gp_time jitter(struct gp_sim *s, gp_time base, uint32_t pct)
{
    if (pct == 0 || base == 0)
        return base;
    gp_time span = base * pct / 100;
    if (span == 0)
        return base;
    gp_time lo = base - span;
    return lo + (gp_time)(rng_next(&s->rng) % (2 * span + 1));
}

gp_time rtt_us(struct gp_sim *s, uint32_t lo_us, uint32_t hi_us)
{
    return rng_range(&s->rng, lo_us, hi_us);
}

int sim_run(struct gp_sim *s)
{
    while (s->ntasks > 0) {
        struct gp_task *t = s->tasks[0];
        if (t->next >= s->t_end)
            break;
        int rc = out_flush_until(s, t->next, false);
        if (rc != GP_OK)
            return rc == GP_STOP ? GP_OK : rc;
        gp_time before = t->next;
        rc = t->step(s, t);
        if (rc != GP_OK)
            return rc;
        if (t->done) {
            s->tasks[0] = s->tasks[--s->ntasks];
            t_down(s->tasks, s->ntasks, 0);
            continue;
        }
        if (t->next <= before) /* a task must move forward in time */
            t->next = before + 1;
        t_down(s->tasks, s->ntasks, 0);
    }
    int rc = out_flush_until(s, 0, true);
    return rc == GP_STOP ? GP_OK : rc;
}

void sim_free(struct gp_sim *s)
{
    for (size_t i = 0; i < s->nallocs; i++)
        free(s->allocs[i]);
    free(s->allocs);
    free(s->tasks);
    s->allocs = NULL;
    s->tasks = NULL;
    s->nallocs = s->ntasks = 0;
}
