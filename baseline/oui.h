/*
 * oui.h - MAC vendor lookup from Debian's ieee-data (MA-L, MA-M and MA-S registries).
 *
 * Loaded once, in the background at start, into one hash table; lookups try the
 * longest prefix first (MA-S 36 bits, MA-M 28 bits, MA-L 24 bits).
 *
 * Must never: be loaded on a per-packet or per-fact path.
 */
#ifndef OTS_OUI_H
#define OTS_OUI_H

#include <stdint.h>

#define OUI_DIR "/usr/share/ieee-data"

/* Loads dir/oui.csv, mam.csv, oui36.csv (missing files are skipped); NULL is OUI_DIR.
 * Returns the number of prefixes loaded. Safe to call more than once (loads only
 * once, from the first directory given). */
int oui_load(const char *dir);
/* The same in a thread of its own: returns at once, and the first lookup waits until
 * the registries are in. */
void oui_load_async(const char *dir);
/* Vendor of a MAC, or NULL; the text stays until the calling thread's next lookup.
 * Locally administered MACs have none. */
const char *oui_vendor(const uint8_t mac[6]);

#endif
