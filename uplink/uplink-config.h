/*
 * uplink-config.h - the [uplink] section: how (and whether) the sensor reaches Azure.
 *
 * Every key, its default and its meaning is listed in README.md ("Uplink to Azure").
 * Must never: hold secrets anywhere but this struct (no logging of sas_key).
 */
#ifndef OTS_UPLINK_CONFIG_H
#define OTS_UPLINK_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define UPLINK_MAX_RESOLVE 8

struct uplink_config {
	char mode[16];          /* off | direct | proxy */
	char proxy[512];        /* http[s]://[user:pass@]host:port of the first hop */
	char proxy_ca_file[512];/* CA bundle for an https:// proxy (default: system store) */
	char iothub_host[256];  /* myhub.azure-devices.net: alerts, devices, health go here */
	char device_id[128];
	char sas_key[256];      /* IoT Hub device key (base64), also the Event Hubs key by default */
	char sas_key_file[512];
	char eventhub_namespace[256]; /* myns (or myns.servicebus.windows.net) */
	char eventhub_name[128];
	char eventhub_key_name[128];  /* shared access policy name (skn), default "send" */
	char eventhub_key[256];       /* policy key; default: sas_key */
	char blob_url[1024];    /* https://acct.blob.core.windows.net/container?<SAS> */
	char ca_file[512];
	char tls_min[8];
	unsigned drain_timeout; /* replay: seconds to drain the outbox before exit */
	unsigned sas_ttl;       /* lifetime of a generated SAS token, seconds */
	unsigned batch_max;     /* messages per batch */
	unsigned timeout;       /* per request, seconds */
	unsigned retry_min;     /* first backoff, seconds */
	unsigned retry_max;     /* backoff ceiling, seconds */
	unsigned health_interval;   /* seconds between health messages, 0 = none */
	unsigned snapshot_interval; /* seconds between inventory snapshots (state thread), 0 = none */
	uint64_t outbox_max_entries;
	uint64_t outbox_max_bytes;
	/* test-only: curl --resolve style "host:443:addr" entries, so tests can point
	 * Azure names at loopback servers. Never set it on a real sensor. */
	char resolve[UPLINK_MAX_RESOLVE][300];
	int n_resolve;
};

void uplink_config_defaults(struct uplink_config *u);
/* CONF_OK, CONF_BAD_VALUE (err says why) or CONF_UNKNOWN_KEY */
int uplink_config_set(struct uplink_config *u, const char *key, const char *val, char *err, size_t errlen);
/* Cross-key checks once the whole file is read (mode != off needs a destination, the
 * key file is readable, ports are 443). 0 or -1 with err naming the key. */
int uplink_config_check(struct uplink_config *u, char *err, size_t errlen);

#endif
