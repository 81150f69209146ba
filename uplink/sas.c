/*
 * sas.c - SAS token generation with OpenSSL (HMAC-SHA256, base64) and libcurl's
 * percent-encoding. See sas.h for the format.
 *
 * Must never: keep the key beyond the call or write it anywhere.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "curl-lazy.h"
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sas.h"

int sas_url_encode(const char *in, char *out, size_t outlen)
{
	/* curl_easy_escape encodes all but ALPHA / DIGIT / "-" / "." / "_" / "~" */
	char *e = curl_easy_escape(NULL, in, 0);
	int rc = -1;

	if (e && strlen(e) < outlen) {
		memcpy(out, e, strlen(e) + 1);
		rc = 0;
	}
	curl_free(e);
	return rc;
}

int sas_token(enum sas_flavour f, const char *resource, const char *key, const char *key_name,
	      int64_t expiry, char *out, size_t outlen, char *err, size_t errlen)
{
	char res[1024], enc_res[2048], to_sign[2100], b64[64], enc_sig[128];
	unsigned char keybuf[256], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int keylen;
	size_t i;

	if (strlen(resource) >= sizeof res) {
		snprintf(err, errlen, "SAS resource too long");
		return -1;
	}
	/* Azure signs the lower-case resource URI (host part is case-insensitive anyway) */
	for (i = 0; resource[i]; i++)
		res[i] = f == SAS_IOTHUB ? (char)tolower((unsigned char)resource[i]) : resource[i];
	res[i] = 0;
	if (f == SAS_IOTHUB) {
		/* keep the device id's case: only the host is lower-cased */
		const char *slash = strchr(resource, '/');
		if (slash)
			memcpy(res + (slash - resource), slash, strlen(slash) + 1);
	}
	if (sas_url_encode(res, enc_res, sizeof enc_res)) {
		snprintf(err, errlen, "SAS resource too long");
		return -1;
	}
	if (f == SAS_IOTHUB) {
		size_t kl = strlen(key);
		if (kl == 0 || kl % 4 || kl / 4 * 3 > sizeof keybuf) {
			snprintf(err, errlen, "sas_key is not valid base64");
			return -1;
		}
		keylen = EVP_DecodeBlock(keybuf, (const unsigned char *)key, (int)kl);
		if (keylen < 0) {
			snprintf(err, errlen, "sas_key is not valid base64");
			return -1;
		}
		/* EVP_DecodeBlock counts the '=' padding as zero bytes */
		if (kl >= 1 && key[kl - 1] == '=')
			keylen--;
		if (kl >= 2 && key[kl - 2] == '=')
			keylen--;
	} else {
		size_t kl = strlen(key);
		if (kl == 0 || kl > sizeof keybuf) {
			snprintf(err, errlen, "Event Hubs key is empty or too long");
			return -1;
		}
		memcpy(keybuf, key, kl);
		keylen = (int)kl;
	}
	snprintf(to_sign, sizeof to_sign, "%s\n%lld", enc_res, (long long)expiry);
	if (!HMAC(EVP_sha256(), keybuf, keylen, (const unsigned char *)to_sign, strlen(to_sign), mac, &maclen)) {
		snprintf(err, errlen, "HMAC-SHA256 failed");
		return -1;
	}
	OPENSSL_cleanse(keybuf, sizeof keybuf);
	EVP_EncodeBlock((unsigned char *)b64, mac, (int)maclen);
	if (sas_url_encode(b64, enc_sig, sizeof enc_sig)) {
		snprintf(err, errlen, "signature encoding failed");
		return -1;
	}
	int n;
	if (key_name && key_name[0]) {
		char enc_kn[400];
		if (sas_url_encode(key_name, enc_kn, sizeof enc_kn)) {
			snprintf(err, errlen, "key name too long");
			return -1;
		}
		n = snprintf(out, outlen, "SharedAccessSignature sr=%s&sig=%s&se=%lld&skn=%s",
			     enc_res, enc_sig, (long long)expiry, enc_kn);
	} else {
		n = snprintf(out, outlen, "SharedAccessSignature sr=%s&sig=%s&se=%lld",
			     enc_res, enc_sig, (long long)expiry);
	}
	if (n < 0 || (size_t)n >= outlen) {
		snprintf(err, errlen, "SAS token too long");
		return -1;
	}
	return 0;
}
