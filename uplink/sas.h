/*
 * sas.h - Shared Access Signature tokens for IoT Hub and Event Hubs (Service Bus).
 *
 * Both are "SharedAccessSignature sr=<url-encoded resource>&sig=<url-encoded base64
 * HMAC-SHA256>&se=<expiry, unix seconds>[&skn=<policy>]", the HMAC being computed over
 * "<url-encoded resource>\n<expiry>". They differ in the key: IoT Hub decodes the key
 * from base64 first; Service Bus uses the key string's bytes as they are.
 *
 * Must never: log or return the key; a token is only built, never parsed here.
 */
#ifndef OTS_UPLINK_SAS_H
#define OTS_UPLINK_SAS_H

#include <stddef.h>
#include <stdint.h>

enum sas_flavour { SAS_IOTHUB, SAS_SERVICEBUS };

/* Writes the token (the whole Authorization header value) into out.
 * resource: e.g. "myhub.azure-devices.net/devices/dev1" or
 * "https://ns.servicebus.windows.net/hub". key_name may be NULL (IoT Hub device key).
 * Returns 0, or -1 with err set (bad base64 key, buffer too small). */
int sas_token(enum sas_flavour f, const char *resource, const char *key, const char *key_name,
	      int64_t expiry, char *out, size_t outlen, char *err, size_t errlen);

/* RFC 3986 percent-encoding of everything but unreserved characters. 0 or -1. */
int sas_url_encode(const char *in, char *out, size_t outlen);

#endif
