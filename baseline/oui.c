/*
 * oui.c - the IEEE registries in memory: an open-addressing hash table of (prefix,
 * bits) -> name, looked up once per prefix length (36, 28, 24 bits).
 *
 * Building it is part of the sensor's start-up time (42k entries in 4 MB of CSV), so
 * the files are mapped rather than read and parsed with bounded scans; a slot (16
 * bytes, 1 MiB in all) points at its name where it lies in the mapping, which stays,
 * and a lookup unquotes it into a buffer of the calling thread's. oui_load_async
 * builds it in a thread of its own while the sensor opens its store and starts its
 * threads; the first lookup waits for it (pthread_once).
 *
 * Must never: fail the sensor when ieee-data is missing (vendors are then empty).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oui.h"

struct oui_ent {
	uint64_t key;  /* the prefix (top `bits` bits of the MAC, in a 48-bit value) << 8 | bits; 0 = empty */
	uint32_t name; /* where the name field starts in its file's mapping */
	uint16_t len;  /* its length, quotes excluded */
	uint8_t file;  /* which mapping */
	uint8_t quoted;
};

#define OUI_SLOTS (1u << 16)            /* power of two, about half again the registries' size */
#define OUI_MAX (OUI_SLOTS * 3 / 4)     /* entries kept at most (the rest go without a vendor) */
#define OUI_FILE_MAX (64l << 20)
#define OUI_FILES 3
#define OUI_NAME_MAX 256                /* a longer name is cut */

static struct oui_ent *tab; /* OUI_SLOTS slots */
static size_t ntab;
static const char *map[OUI_FILES]; /* the registries, mapped for good once loaded */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *load_dir;

static uint32_t slot_of(uint64_t key)
{
	return (uint32_t)((key * 0x9e3779b97f4a7c15ULL) >> 40) & (OUI_SLOTS - 1);
}

/* The slot holding key, or the empty slot where it would go. */
static struct oui_ent *find(uint64_t key)
{
	for (uint32_t i = slot_of(key);; i = (i + 1) & (OUI_SLOTS - 1))
		if (!tab[i].key || tab[i].key == key)
			return &tab[i];
}

/* The CSV field starting at p (before end): sets its text (without the quotes of a
 * quoted field) and whether it was quoted, and returns where the next field starts
 * (after the comma), or the line's end. */
static const char *csv_field(const char *p, const char *end, const char **text, size_t *n, bool *quoted)
{
	if (p < end && *p == '"') {
		const char *s = ++p;
		for (;;) {
			const char *q = memchr(p, '"', (size_t)(end - p));
			if (!q) {
				p = end;
				break;
			}
			if (q + 1 < end && q[1] == '"') { /* "" is one quote */
				p = q + 2;
				continue;
			}
			p = q;
			break;
		}
		*text = s;
		*n = (size_t)(p - s);
		*quoted = true;
		const char *comma = memchr(p, ',', (size_t)(end - p));
		return comma ? comma + 1 : end;
	}
	const char *comma = memchr(p, ',', (size_t)(end - p));
	*text = p;
	*n = (size_t)((comma ? comma : end) - p);
	*quoted = false;
	return comma ? comma + 1 : end;
}

static bool hex_key(const char *s, size_t n, uint64_t *key)
{
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
	unsigned bits = (unsigned)n * 4;
	*key = (x << (48 - bits)) << 8 | bits;
	return true;
}

/* One registry file: Registry,Assignment,Organization Name,Organization Address. The
 * first entry of a prefix wins, as in the registries' own order. */
static void load_file(const char *path, uint8_t file)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat sb;
	if (fstat(fd, &sb) || sb.st_size <= 0 || sb.st_size > OUI_FILE_MAX) {
		close(fd);
		return;
	}
	size_t size = (size_t)sb.st_size;
	const char *buf = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (buf == MAP_FAILED)
		return;
	map[file] = buf;
	const char *end = buf + size;
	for (const char *line = buf; line < end && ntab < OUI_MAX;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *eol = nl ? nl : end;
		const char *next = nl ? nl + 1 : end;
		if (eol > line && eol[-1] == '\r')
			eol--;
		const char *hex, *name, *reg;
		size_t hexn, namen, regn;
		bool quoted;
		const char *p = csv_field(line, eol, &reg, &regn, &quoted);
		p = csv_field(p, eol, &hex, &hexn, &quoted);
		csv_field(p, eol, &name, &namen, &quoted);
		line = next;
		uint64_t key;
		if (!hex_key(hex, hexn, &key))
			continue;
		struct oui_ent *e = find(key);
		if (e->key)
			continue;
		*e = (struct oui_ent){ key, (uint32_t)(name - buf), (uint16_t)(namen < UINT16_MAX ? namen : UINT16_MAX),
				       file, quoted };
		ntab++;
	}
}

static void do_load(void)
{
	tab = calloc(OUI_SLOTS, sizeof *tab);
	if (!tab)
		return;
	const char *files[OUI_FILES] = { "oui.csv", "mam.csv", "oui36.csv" };
	for (uint8_t i = 0; i < OUI_FILES; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", load_dir, files[i]);
		load_file(path, i);
	}
}

int oui_load(const char *dir)
{
	if (!load_dir)
		load_dir = dir ? dir : OUI_DIR;
	pthread_once(&once, do_load);
	return (int)ntab;
}

static void *load_thread(void *arg)
{
	(void)arg;
	pthread_once(&once, do_load);
	return NULL;
}

void oui_load_async(const char *dir)
{
	if (load_dir)
		return; /* loading or loaded already */
	load_dir = dir ? dir : OUI_DIR;
	pthread_t t;
	pthread_attr_t attr;
	if (pthread_attr_init(&attr) || pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) ||
	    pthread_create(&t, &attr, load_thread, NULL))
		pthread_once(&once, do_load); /* no thread: here and now */
	pthread_attr_destroy(&attr);
}

/* An entry's name, unquoted ("" is one quote) into out. */
static const char *name_of(const struct oui_ent *e, char out[OUI_NAME_MAX])
{
	const char *s = map[e->file] + e->name;
	size_t n = 0;
	for (size_t i = 0; i < e->len && n < OUI_NAME_MAX - 1; i++) {
		out[n++] = s[i];
		if (e->quoted && s[i] == '"' && i + 1 < e->len && s[i + 1] == '"')
			i++;
	}
	out[n] = 0;
	return out;
}

const char *oui_vendor(const uint8_t mac[6])
{
	static _Thread_local char name[OUI_NAME_MAX];
	oui_load(NULL);
	if (!ntab || (mac[0] & 0x02))
		return NULL;
	uint64_t m = 0;
	for (int i = 0; i < 6; i++)
		m = (m << 8) | mac[i];
	static const uint8_t lens[] = { 36, 28, 24 };
	for (size_t i = 0; i < sizeof lens; i++) {
		uint64_t key = (m & ~((1ull << (48 - lens[i])) - 1)) << 8 | lens[i];
		const struct oui_ent *e = find(key);
		if (e->key)
			return name_of(e, name);
	}
	return NULL;
}
