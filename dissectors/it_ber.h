/*
 * it_ber.h - a small, bounded BER/DER reader on top of struct rd, shared by the SNMP
 * and TLS (X.509) dissectors, plus UTF-16LE-to-ASCII for the SMB/NetBIOS ones.
 *
 * A TLV is read as a tag byte (low-tag-number form only), a definite length (short
 * form or long form up to 4 bytes) and a child reader over exactly its value. Nothing
 * recurses: callers walk a fixed structure one level at a time.
 *
 * Must never: accept an indefinite length or a value longer than the bytes present,
 * or read a byte except through struct rd.
 */
#ifndef OTS_IT_BER_H
#define OTS_IT_BER_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "reader.h"
#include "textfmt.h"

/* Reads one TLV. Returns false (and sets *bad when the bytes are malformed rather
 * than simply absent) if no whole TLV is there. */
static inline bool ber_tlv(struct rd *r, uint8_t *tag, struct rd *val, bool *bad)
{
	if (rd_empty(r) || !rd_ok(r))
		return false;
	uint8_t t = rd_u8(r);
	uint8_t l = rd_u8(r);
	if (!rd_ok(r)) {
		*bad = true;
		return false;
	}
	if ((t & 0x1f) == 0x1f) { /* high-tag-number form: not used by SNMP or X.509 */
		*bad = true;
		return false;
	}
	size_t len = l;
	if (l & 0x80) {
		unsigned n = l & 0x7f;
		if (n == 0 || n > 4) { /* indefinite or absurd */
			*bad = true;
			return false;
		}
		len = 0;
		for (unsigned i = 0; i < n; i++)
			len = len << 8 | rd_u8(r);
		if (!rd_ok(r)) {
			*bad = true;
			return false;
		}
	}
	if (len > rd_left(r)) {
		*bad = true;
		return false;
	}
	*tag = t;
	*val = rd_sub(r, len);
	return true;
}

/* Reads one TLV and insists on its tag. */
static inline bool ber_expect(struct rd *r, uint8_t want, struct rd *val, bool *bad)
{
	uint8_t t = 0;
	if (!ber_tlv(r, &t, val, bad))
		return false;
	if (t != want) {
		*bad = true;
		return false;
	}
	return true;
}

/* An INTEGER value (up to 8 bytes, sign-extended). */
static inline bool ber_int(struct rd *v, int64_t *out)
{
	size_t n = rd_left(v);
	if (n == 0 || n > 8)
		return false;
	int64_t x = (int8_t)rd_u8(v);
	for (size_t i = 1; i < n; i++)
		x = (int64_t)((uint64_t)x << 8 | rd_u8(v));
	*out = x;
	return rd_ok(v);
}

/* An OBJECT IDENTIFIER value as dotted text; false if malformed. */
static inline bool ber_oid(struct rd *v, char *dst, size_t dstsz)
{
	struct tbuf ob = tb_init(dst, dstsz);
	bool first = true;
	if (rd_empty(v))
		return false;
	while (!rd_empty(v)) {
		uint64_t x = 0;
		unsigned k = 0;
		uint8_t b;
		do {
			b = rd_u8(v);
			if (!rd_ok(v) || ++k > 9)
				return false;
			x = x << 7 | (b & 0x7f);
		} while (b & 0x80);
		if (first) {
			unsigned a = x < 40 ? 0 : x < 80 ? 1 : 2;
			tb_u64(&ob, a);
			tb_ch(&ob, '.');
			tb_u64(&ob, x - 40u * a);
			first = false;
		} else {
			tb_ch(&ob, '.');
			tb_u64(&ob, x);
		}
		if (ob.cut)
			return true; /* cut to fit */
	}
	return true;
}

/* Copies n UTF-16LE code units as ASCII ('?' for anything else), stopping at a NUL. */
static inline bool rd_utf16_ascii(struct rd *r, size_t nbytes, char *dst, size_t dstsz)
{
	struct rd s = rd_sub(r, nbytes & ~(size_t)1);
	if (!rd_ok(&s)) {
		dst[0] = '\0';
		return false;
	}
	size_t k = 0;
	while (rd_left(&s) >= 2) {
		uint16_t c = rd_le16(&s);
		if (c == 0)
			break;
		if (k + 1 < dstsz)
			dst[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[k] = '\0';
	if (nbytes & 1)
		rd_skip(r, 1);
	return true;
}

#endif
