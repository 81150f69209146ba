/* util.c - deterministic PRNG and the byte builder used for every payload.
 *
 * What it is for: xoshiro256** seeded through splitmix64 (the only randomness in
 * gen-plant) and struct gp_buf, a fixed-size byte buffer with big/little-endian
 * put helpers.
 *
 * What it must never do: read time, environment or rand(); write past a gp_buf
 * (a put that does not fit sets b->overflow and writes nothing; senders refuse an
 * overflowed buffer).
 */
#include "gen.h"

#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rng_seed(struct gp_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct gp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t rng_below(struct gp_rng *r, uint32_t n)
{
    if (n == 0)
        return 0;
    /* Lemire's multiply-shift; bias is negligible for our ranges. */
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

uint32_t rng_range(struct gp_rng *r, uint32_t lo, uint32_t hi)
{
    if (hi <= lo)
        return lo;
    return lo + rng_below(r, hi - lo + 1);
}

bool rng_chance(struct gp_rng *r, uint32_t per_mille)
{
    return rng_below(r, 1000) < per_mille;
}

uint64_t gp_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

void buf_reset(struct gp_buf *b)
{
    b->n = 0;
    b->overflow = false;
}

static bool room(struct gp_buf *b, size_t n)
{
    if (b->overflow || n > GP_BUF_MAX - b->n) {
        b->overflow = true;
        return false;
    }
    return true;
}

void put_u8(struct gp_buf *b, uint8_t v)
{
    if (room(b, 1))
        b->d[b->n++] = v;
}

void put_be16(struct gp_buf *b, uint16_t v)
{
    if (room(b, 2)) {
        b->d[b->n++] = (uint8_t)(v >> 8);
        b->d[b->n++] = (uint8_t)v;
    }
}

void put_le16(struct gp_buf *b, uint16_t v)
{
    if (room(b, 2)) {
        b->d[b->n++] = (uint8_t)v;
        b->d[b->n++] = (uint8_t)(v >> 8);
    }
}

void put_be24(struct gp_buf *b, uint32_t v)
{
    if (room(b, 3)) {
        b->d[b->n++] = (uint8_t)(v >> 16);
        b->d[b->n++] = (uint8_t)(v >> 8);
        b->d[b->n++] = (uint8_t)v;
    }
}

void put_le24(struct gp_buf *b, uint32_t v)
{
    if (room(b, 3)) {
        b->d[b->n++] = (uint8_t)v;
        b->d[b->n++] = (uint8_t)(v >> 8);
        b->d[b->n++] = (uint8_t)(v >> 16);
    }
}

void put_be32(struct gp_buf *b, uint32_t v)
{
    put_be16(b, (uint16_t)(v >> 16));
    put_be16(b, (uint16_t)v);
}

void put_le32(struct gp_buf *b, uint32_t v)
{
    put_le16(b, (uint16_t)v);
    put_le16(b, (uint16_t)(v >> 16));
}

void put_le64(struct gp_buf *b, uint64_t v)
{
    put_le32(b, (uint32_t)v);
    put_le32(b, (uint32_t)(v >> 32));
}

void put_bytes(struct gp_buf *b, const void *p, size_t n)
{
    if (room(b, n)) {
        memcpy(b->d + b->n, p, n);
        b->n += n;
    }
}

void put_zero(struct gp_buf *b, size_t n)
{
    if (room(b, n)) {
        memset(b->d + b->n, 0, n);
        b->n += n;
    }
}

void put_str(struct gp_buf *b, const char *s)
{
    put_bytes(b, s, strlen(s));
}

void put_padstr(struct gp_buf *b, const char *s, size_t width, char pad)
{
    size_t n = strlen(s);
    if (n > width)
        n = width;
    if (!room(b, width))
        return;
    memcpy(b->d + b->n, s, n);
    memset(b->d + b->n + n, pad, width - n);
    b->n += width;
}

void set_be16(struct gp_buf *b, size_t off, uint16_t v)
{
    if (off + 2 <= b->n) {
        b->d[off] = (uint8_t)(v >> 8);
        b->d[off + 1] = (uint8_t)v;
    }
}

void set_le16(struct gp_buf *b, size_t off, uint16_t v)
{
    if (off + 2 <= b->n) {
        b->d[off] = (uint8_t)v;
        b->d[off + 1] = (uint8_t)(v >> 8);
    }
}

void set_le32(struct gp_buf *b, size_t off, uint32_t v)
{
    set_le16(b, off, (uint16_t)v);
    set_le16(b, off + 2, (uint16_t)(v >> 16));
}

/* BER/DER: open a constructed or primitive element; its length is fixed by ber_end
 * with the minimal encoding (short form below 128, else 0x81/0x82), moving the
 * contents if the long form needs room. */
size_t ber_begin(struct gp_buf *b, uint8_t tag)
{
    put_u8(b, tag);
    put_u8(b, 0);
    return b->n;
}

void ber_end(struct gp_buf *b, size_t start)
{
    if (b->overflow)
        return;
    size_t len = b->n - start;
    size_t extra = len < 128 ? 0 : len < 256 ? 1 : 2;
    if (b->n + extra > GP_BUF_MAX) {
        b->overflow = true;
        return;
    }
    if (extra)
        memmove(b->d + start + extra, b->d + start, len);
    if (extra == 0) {
        b->d[start - 1] = (uint8_t)len;
    } else if (extra == 1) {
        b->d[start - 1] = 0x81;
        b->d[start] = (uint8_t)len;
    } else {
        b->d[start - 1] = 0x82;
        b->d[start] = (uint8_t)(len >> 8);
        b->d[start + 1] = (uint8_t)len;
    }
    b->n += extra;
}

void ber_uint(struct gp_buf *b, uint8_t tag, uint64_t v)
{
    uint8_t tmp[9];
    int n = 0;
    do {
        tmp[n++] = (uint8_t)v;
        v >>= 8;
    } while (v);
    if (tmp[n - 1] & 0x80)
        tmp[n++] = 0;
    put_u8(b, tag);
    put_u8(b, (uint8_t)n);
    while (n--)
        put_u8(b, tmp[n]);
}

void ber_str(struct gp_buf *b, uint8_t tag, const char *s)
{
    size_t o = ber_begin(b, tag);
    put_str(b, s);
    ber_end(b, o);
}
