/*
 * registry.c - the list of dissectors, and how a flow or frame finds its dissector.
 *
 * Adding a protocol: write dissectors/<proto>.c exporting `const struct dissector
 * <proto>_dissector`, add one line to the list below and one to meson.build.
 * The port maps are built once by registry_init() before any worker starts.
 *
 * Must never: change after registry_init (workers read it without locks).
 */
#include <string.h>

#include "dissector.h"

#define DISSECTOR(name) extern const struct dissector name##_dissector;
#include "registry.def"
#undef DISSECTOR

const struct dissector *const dissectors[] = {
#define DISSECTOR(name) &name##_dissector,
#include "registry.def"
#undef DISSECTOR
};
const size_t n_dissectors = sizeof dissectors / sizeof dissectors[0];

static int16_t tcp_ports[65536], udp_ports[65536];
static bool ready;

void registry_init(void)
{
	if (ready)
		return;
	memset(tcp_ports, 0xff, sizeof tcp_ports);
	memset(udp_ports, 0xff, sizeof udp_ports);
	for (size_t i = 0; i < n_dissectors; i++) {
		const struct dissector *d = dissectors[i];
		for (const uint16_t *p = d->ports; p && *p; p++) {
			if ((d->transports & DT_TCP) && tcp_ports[*p] < 0)
				tcp_ports[*p] = (int16_t)i;
			if ((d->transports & DT_UDP) && udp_ports[*p] < 0)
				udp_ports[*p] = (int16_t)i;
		}
	}
	ready = true;
}

int dissector_index(const struct dissector *d)
{
	for (size_t i = 0; i < n_dissectors; i++)
		if (dissectors[i] == d)
			return (int)i;
	return -1;
}

const struct dissector *dissector_by_name(const char *name)
{
	for (size_t i = 0; i < n_dissectors; i++)
		if (!strcmp(dissectors[i]->name, name))
			return dissectors[i];
	return NULL;
}

const struct dissector *dissector_for_port(uint8_t dt, uint16_t port)
{
	int16_t i = dt == DT_TCP ? tcp_ports[port] : dt == DT_UDP ? udp_ports[port] : -1;
	return i >= 0 ? dissectors[i] : NULL;
}

const struct dissector *dissector_for_ethertype(uint16_t ethertype)
{
	if (!ethertype)
		return NULL;
	for (size_t i = 0; i < n_dissectors; i++)
		if ((dissectors[i]->transports & DT_L2) && dissectors[i]->ethertype == ethertype)
			return dissectors[i];
	return NULL;
}

const struct dissector *dissector_probe(uint8_t dt, const uint8_t *data, size_t len, bool to_server)
{
	for (size_t i = 0; i < n_dissectors; i++) {
		const struct dissector *d = dissectors[i];
		if ((d->transports & dt) && d->probe && d->probe(data, len, to_server))
			return d;
	}
	return NULL;
}
