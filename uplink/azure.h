/*
 * azure.h - the three Azure REST calls the uplink makes:
 *   IoT Hub "Send Device Event"  POST https://{hub}/devices/{id}/messages/events?api-version=2020-03-13
 *   Event Hubs "Send batch"      POST https://{ns}.servicebus.windows.net/{hub}/messages
 *                                 (Content-Type: application/vnd.microsoft.servicebus.json)
 *   Blob Storage "Put Blob"      PUT  https://{account}.blob.core.windows.net/{container}/{blob}?{SAS}
 * with their SAS tokens renewed before they expire.
 *
 * Must never: retry on its own (the uplink thread decides), or change a message id.
 */
#ifndef OTS_UPLINK_AZURE_H
#define OTS_UPLINK_AZURE_H

#include <stdint.h>

#include "http.h"
#include "outbox.h"

#define AZURE_IOTHUB_API_VERSION "2020-03-13"
#define AZURE_EVENTHUB_API_VERSION "2014-01"
#define AZURE_BLOB_API_VERSION "2021-08-06"

struct sas_cache {
	char token[1200];
	int64_t expiry;   /* 0 = none */
	int64_t made;
};

struct azure {
	const struct uplink_config *cfg;
	const char *sensor;
	struct uplink_http *http;
	struct sas_cache iothub, eventhub;
	char eventhub_host[300];
	uint64_t tokens_made;
};

void azure_init(struct azure *az, const struct uplink_config *cfg, const char *sensor, struct uplink_http *http);
/* Forget cached tokens (after a 401/403). */
void azure_drop_tokens(struct azure *az);

/* One message to IoT Hub. Returns true on 2xx. */
bool azure_iothub_send(struct azure *az, const struct outbox_msg *m, struct http_result *res);
/* n messages in one Event Hubs batch. Returns true on 2xx. */
bool azure_eventhub_send(struct azure *az, const struct outbox_msg *m, int n, struct http_result *res);
/* Evidence pcap or inventory snapshot to Blob Storage. Returns true on 2xx. A message
 * that can never be sent (evidence file gone) sets res->status = 0 and *permanent. */
bool azure_blob_put(struct azure *az, const struct outbox_msg *m, struct http_result *res, bool *permanent);

#endif
