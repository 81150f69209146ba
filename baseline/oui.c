/*
 * oui.c - the IEEE registries in memory: one array of (prefix, bits, name) sorted by
 * prefix, searched with bsearch for each prefix length.
 *
 * Must never: fail the sensor when ieee-data is missing (vendors are then empty).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oui.h"

struct oui_ent {
	uint64_t prefix; /* the MAC's top `bits` bits, left in a 48-bit value */
	uint8_t bits;
	char *name;
};

static struct oui_ent *tab;
static size_t ntab, cap;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *load_dir;

static int cmp_ent(const void *a, const void *b)
{
	const struct oui_ent *x = a, *y = b;
	if (x->bits != y->bits)
		return x->bits < y->bits ? -1 : 1;
	return x->prefix < y->prefix ? -1 : x->prefix > y->prefix ? 1 : 0;
}

/* one CSV field, honouring quotes; returns the position after it */
static const char *csv_field(const char *p, char *out, size_t n)
{
	size_t k = 0;
	bool q = false;
	if (*p == '"') {
		q = true;
		p++;
	}
	while (*p && *p != '\n' && *p != '\r') {
		if (q && *p == '"') {
			if (p[1] == '"') {
				p++;
			} else {
				q = false;
				p++;
				continue;
			}
		} else if (!q && *p == ',') {
			break;
		}
		if (k + 1 < n)
			out[k++] = *p;
		p++;
	}
	out[k] = 0;
	return *p == ',' ? p + 1 : p;
}

static void load_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	if (!fp)
		return;
	char line[1024], reg[16], hex[16], name[256];
	while (fgets(line, sizeof line, fp)) {
		const char *p = csv_field(line, reg, sizeof reg);
		p = csv_field(p, hex, sizeof hex);
		csv_field(p, name, sizeof name);
		size_t hl = strlen(hex);
		if (hl != 6 && hl != 7 && hl != 9)
			continue; /* the header line, or junk */
		char *end;
		uint64_t v = strtoull(hex, &end, 16);
		if (*end)
			continue;
		uint8_t bits = (uint8_t)(hl * 4);
		if (ntab == cap) {
			size_t nc = cap ? cap * 2 : 65536;
			struct oui_ent *nt = realloc(tab, nc * sizeof *nt);
			if (!nt)
				break;
			tab = nt;
			cap = nc;
		}
		char *nm = strdup(name);
		if (!nm)
			break;
		tab[ntab++] = (struct oui_ent){ v << (48 - bits), bits, nm };
	}
	fclose(fp);
}

static void do_load(void)
{
	const char *files[] = { "oui.csv", "mam.csv", "oui36.csv" };
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", load_dir, files[i]);
		load_file(path);
	}
	if (ntab)
		qsort(tab, ntab, sizeof *tab, cmp_ent);
}

int oui_load(const char *dir)
{
	load_dir = dir ? dir : OUI_DIR;
	pthread_once(&once, do_load);
	return (int)ntab;
}

const char *oui_vendor(const uint8_t mac[6])
{
	if (!ntab || (mac[0] & 0x02))
		return NULL;
	uint64_t m = 0;
	for (int i = 0; i < 6; i++)
		m = (m << 8) | mac[i];
	static const uint8_t lens[] = { 36, 28, 24 };
	for (size_t i = 0; i < sizeof lens; i++) {
		struct oui_ent key = { m & ~((1ull << (48 - lens[i])) - 1), lens[i], NULL };
		struct oui_ent *e = bsearch(&key, tab, ntab, sizeof *tab, cmp_ent);
		if (e)
			return e->name;
	}
	return NULL;
}
