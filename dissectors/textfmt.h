/*
 * textfmt.h - building short texts (names, addresses, OIDs) into fixed buffers on the
 * per-packet path, without snprintf (whose format parser costs a thousand
 * instructions a call: more than dissecting a Modbus PDU).
 *
 * A struct tbuf appends into dst[n]; the text is always terminated, and what does not
 * fit is cut and remembered in `cut`.
 *
 * Must never: write past dst[n - 1], or be used for texts whose format comes from
 * the packet (there is no format string here at all).
 */
#ifndef OTS_TEXTFMT_H
#define OTS_TEXTFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tbuf {
	char *dst;
	size_t n, len;
	bool cut;
};

static inline struct tbuf tb_init(char *dst, size_t n)
{
	struct tbuf b = { dst, n, 0, n == 0 };
	if (n)
		dst[0] = 0;
	return b;
}

static inline void tb_ch(struct tbuf *b, char c)
{
	if (b->len + 1 < b->n) {
		b->dst[b->len++] = c;
		b->dst[b->len] = 0;
	} else {
		b->cut = true;
	}
}

static inline void tb_str(struct tbuf *b, const char *s)
{
	while (*s)
		tb_ch(b, *s++);
}

static inline void tb_u64(struct tbuf *b, uint64_t v)
{
	char tmp[20];
	int k = 0;
	do {
		tmp[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (k)
		tb_ch(b, tmp[--k]);
}

static inline void tb_i64(struct tbuf *b, int64_t v)
{
	if (v < 0) {
		tb_ch(b, '-');
		tb_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		tb_u64(b, (uint64_t)v);
	}
}

/* two lower-case hex digits */
static inline void tb_hex8(struct tbuf *b, uint8_t v)
{
	static const char hex[] = "0123456789abcdef";
	tb_ch(b, hex[v >> 4]);
	tb_ch(b, hex[v & 15]);
}

/* dotted quad */
static inline void tb_ipv4(struct tbuf *b, const uint8_t a[4])
{
	for (int i = 0; i < 4; i++) {
		if (i)
			tb_ch(b, '.');
		tb_u64(b, a[i]);
	}
}

#endif
