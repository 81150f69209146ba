/*
 * oui.c - the IEEE registries in memory: an open-addressing hash table of (prefix,
 * bits) -> name, looked up once per prefix length (36, 28, 24 bits). A table rather
 * than a sorted array: building it is the sensor's start-up time (46k entries; sorting
 * them took longer than reading the files).
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

#define OUI_SLOTS (1u << 17) /* power of two, about three times the registries' size */

static struct oui_ent *tab; /* OUI_SLOTS slots; name NULL = empty */
static size_t ntab;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *load_dir;

static uint32_t slot_of(uint64_t prefix, uint8_t bits)
{
	uint64_t x = (prefix ^ bits) * 0x9e3779b97f4a7c15ULL;
	return (uint32_t)(x >> 40) & (OUI_SLOTS - 1);
}

/* the first entry of a (prefix, bits) wins, as in the registries' own order */
static void put(uint64_t prefix, uint8_t bits, char *name)
{
	for (uint32_t i = slot_of(prefix, bits);; i = (i + 1) & (OUI_SLOTS - 1)) {
		struct oui_ent *e = &tab[i];
		if (!e->name) {
			*e = (struct oui_ent){ prefix, bits, name };
			ntab++;
			return;
		}
		if (e->prefix == prefix && e->bits == bits) {
			free(name);
			return;
		}
	}
}

static const struct oui_ent *get(uint64_t prefix, uint8_t bits)
{
	for (uint32_t i = slot_of(prefix, bits);; i = (i + 1) & (OUI_SLOTS - 1)) {
		const struct oui_ent *e = &tab[i];
		if (!e->name)
			return NULL;
		if (e->prefix == prefix && e->bits == bits)
			return e;
	}
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
		if (ntab >= OUI_SLOTS / 2)
			break; /* a registry four times today's: the rest goes without a vendor */
		char *nm = strdup(name);
		if (!nm)
			break;
		put(v << (48 - bits), bits, nm);
	}
	fclose(fp);
}

static void do_load(void)
{
	tab = calloc(OUI_SLOTS, sizeof *tab);
	if (!tab)
		return;
	const char *files[] = { "oui.csv", "mam.csv", "oui36.csv" };
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", load_dir, files[i]);
		load_file(path);
	}
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
		const struct oui_ent *e = get(m & ~((1ull << (48 - lens[i])) - 1), lens[i]);
		if (e)
			return e->name;
	}
	return NULL;
}
