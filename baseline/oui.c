/*
 * oui.c - the IEEE registries in memory: an open-addressing hash table of (prefix,
 * bits) -> name, looked up once per prefix length (36, 28, 24 bits). A table rather
 * than a sorted array, and each file read whole and parsed in place with its names
 * left where they stand: building it is the sensor's start-up time (46k entries;
 * sorting them, or a strdup and a strtoull per line, took longer than the reading).
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
	const char *name; /* in its file's buffer */
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
static void put(uint64_t prefix, uint8_t bits, const char *name)
{
	for (uint32_t i = slot_of(prefix, bits);; i = (i + 1) & (OUI_SLOTS - 1)) {
		struct oui_ent *e = &tab[i];
		if (!e->name) {
			*e = (struct oui_ent){ prefix, bits, name };
			ntab++;
			return;
		}
		if (e->prefix == prefix && e->bits == bits)
			return;
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

/* One CSV field at *p, unquoted in place ("" becomes "): returns its start, NUL-
 * terminated, and leaves *p after its comma (or at the line's end). The line's end is
 * a NUL the caller put there. */
static char *csv_field(char **p)
{
	char *in = *p, *field = in;
	if (*in != '"') { /* most fields: no copying */
		char *comma = strchr(in, ',');
		if (!comma) {
			*p = in + strlen(in);
			return field;
		}
		*comma = 0;
		*p = comma + 1;
		return field;
	}
	/* quoted: runs up to each quote move down over the quotes taken out */
	char *out = in;
	in++;
	for (;;) {
		char *q = strchr(in, '"');
		size_t n = q ? (size_t)(q - in) : strlen(in);
		memmove(out, in, n);
		out += n;
		in += n;
		if (!q)
			break;
		if (q[1] == '"') { /* "" is one quote */
			*out++ = '"';
			in = q + 2;
			continue;
		}
		in = q + 1; /* the closing quote: the field goes on to the next comma */
		char *comma = strchr(in, ',');
		size_t rest = comma ? (size_t)(comma - in) : strlen(in);
		memmove(out, in, rest);
		out += rest;
		in += rest;
		break;
	}
	bool comma = *in == ',';
	*out = 0;
	*p = comma ? in + 1 : in;
	return field;
}

static bool hex_prefix(const char *s, uint64_t *v, uint8_t *bits)
{
	size_t n = strlen(s);
	if (n != 6 && n != 7 && n != 9)
		return false; /* the header line, or junk */
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0')
			     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
			     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16u;
		if (d > 15)
			return false;
		x = x << 4 | d;
	}
	*bits = (uint8_t)(n * 4);
	*v = x << (48 - *bits);
	return true;
}

/* The whole file in one read, its names NUL-terminated where they stand: the buffer is
 * kept for the life of the process, as the table points into it. */
static void load_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return;
	char *buf = NULL;
	long size = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1;
	if (size > 0 && size < (64l << 20) && fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) &&
	    fread(buf, 1, (size_t)size, fp) == (size_t)size) {
		buf[size] = 0;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	if (!buf)
		return;
	size_t used = 0;
	for (char *line = buf; *line;) {
		char *nl = memchr(line, '\n', (size_t)(buf + size - line));
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *next = line[len] ? line + len + 1 : line + len;
		line[len] = 0;
		if (len && line[len - 1] == '\r')
			line[len - 1] = 0;
		char *p = line;
		csv_field(&p); /* the registry */
		const char *hex = csv_field(&p);
		char *name = csv_field(&p);
		uint64_t v;
		uint8_t bits;
		line = next;
		if (!hex_prefix(hex, &v, &bits))
			continue;
		if (ntab >= OUI_SLOTS / 2)
			break; /* a registry four times today's: the rest goes without a vendor */
		put(v, bits, name);
		used++;
	}
	if (!used)
		free(buf);
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
