/*
 * reader.h - the bounds-checked cursor every dissector reads bytes through.
 *
 * A reader is a window [p, end) over bytes it does not own. Every getter checks the
 * remaining length first; on a short read it returns 0, sets `err`, and leaves the
 * cursor at the end so that every later read fails too ("fails closed"). A dissector
 * therefore reads a whole header and checks `rd_ok()` once, instead of checking each
 * field. Nothing here allocates, and no pointer arithmetic on packet bytes happens
 * outside this file.
 *
 * Must never: read outside [p, end), or turn a short read into a value that looks valid.
 */
#ifndef OTS_READER_H
#define OTS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rd {
	const uint8_t *p;
	const uint8_t *end;
	bool err;
};

static inline struct rd rd_init(const uint8_t *p, size_t len)
{
	struct rd r = { p, p ? p + len : p, false };
	return r;
}

static inline size_t rd_left(const struct rd *r) { return (size_t)(r->end - r->p); }
static inline bool rd_ok(const struct rd *r) { return !r->err; }
static inline bool rd_empty(const struct rd *r) { return r->p >= r->end; }
static inline const uint8_t *rd_ptr(const struct rd *r) { return r->p; }

static inline bool rd_need(struct rd *r, size_t n)
{
	if (r->err || rd_left(r) < n) {
		r->err = true;
		r->p = r->end;
		return false;
	}
	return true;
}

static inline uint8_t rd_u8(struct rd *r)
{
	if (!rd_need(r, 1))
		return 0;
	return *r->p++;
}

static inline uint16_t rd_be16(struct rd *r)
{
	if (!rd_need(r, 2))
		return 0;
	uint16_t v = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	return v;
}

static inline uint16_t rd_le16(struct rd *r)
{
	if (!rd_need(r, 2))
		return 0;
	uint16_t v = (uint16_t)(r->p[1] << 8 | r->p[0]);
	r->p += 2;
	return v;
}

static inline uint32_t rd_be24(struct rd *r)
{
	if (!rd_need(r, 3))
		return 0;
	uint32_t v = (uint32_t)r->p[0] << 16 | (uint32_t)r->p[1] << 8 | r->p[2];
	r->p += 3;
	return v;
}

static inline uint32_t rd_le24(struct rd *r)
{
	if (!rd_need(r, 3))
		return 0;
	uint32_t v = (uint32_t)r->p[2] << 16 | (uint32_t)r->p[1] << 8 | r->p[0];
	r->p += 3;
	return v;
}

static inline uint32_t rd_be32(struct rd *r)
{
	if (!rd_need(r, 4))
		return 0;
	uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	return v;
}

static inline uint32_t rd_le32(struct rd *r)
{
	if (!rd_need(r, 4))
		return 0;
	uint32_t v = (uint32_t)r->p[3] << 24 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[1] << 8 | r->p[0];
	r->p += 4;
	return v;
}

static inline uint64_t rd_be64(struct rd *r)
{
	uint64_t hi = rd_be32(r);
	return hi << 32 | rd_be32(r);
}

static inline uint64_t rd_le64(struct rd *r)
{
	uint64_t lo = rd_le32(r);
	return lo | (uint64_t)rd_le32(r) << 32;
}

static inline bool rd_skip(struct rd *r, size_t n)
{
	if (!rd_need(r, n))
		return false;
	r->p += n;
	return true;
}

/* Copies n bytes out; on a short read the destination is zeroed. */
static inline bool rd_copy(struct rd *r, void *dst, size_t n)
{
	if (!rd_need(r, n)) {
		memset(dst, 0, n);
		return false;
	}
	memcpy(dst, r->p, n);
	r->p += n;
	return true;
}

/* Splits off the next n bytes as their own reader; the parent moves past them.
 * On a short read the child is an empty reader already in error. */
static inline struct rd rd_sub(struct rd *r, size_t n)
{
	struct rd c = { r->end, r->end, true };
	if (!rd_need(r, n))
		return c;
	c.p = r->p;
	c.end = r->p + n;
	c.err = false;
	r->p += n;
	return c;
}

/* Looks at the byte `off` ahead without moving; returns -1 past the end. */
static inline int rd_peek(const struct rd *r, size_t off)
{
	if (r->err || rd_left(r) <= off)
		return -1;
	return r->p[off];
}

/* Copies up to n bytes of text into dst (NUL-terminated, size dstsz), replacing bytes
 * that are not printable ASCII with '.', and moves past n bytes. */
static inline bool rd_text(struct rd *r, size_t n, char *dst, size_t dstsz)
{
	if (dstsz == 0)
		return rd_skip(r, n);
	dst[0] = '\0';
	if (!rd_need(r, n))
		return false;
	size_t k = n < dstsz - 1 ? n : dstsz - 1;
	for (size_t i = 0; i < k; i++) {
		uint8_t c = r->p[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
	}
	dst[k] = '\0';
	/* trailing NULs and spaces in fixed-width fields carry no meaning */
	while (k > 0 && (dst[k - 1] == ' ' || (r->p[k - 1] == 0 && dst[k - 1] == '.')))
		dst[--k] = '\0';
	r->p += n;
	return true;
}

#endif
