/*
 * test_reader.c - the bounds-checked reader: every getter at, before and past the end,
 * sub-readers, text copies, zero-length and maximum-length fields.
 *
 * Must never: read real memory past a buffer (run under ASan in the test command).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "reader.h"

static void test_getters(void)
{
	const uint8_t b[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	struct rd r = rd_init(b, sizeof b);
	CHECK_EQ(rd_u8(&r), 0x01);
	CHECK_EQ(rd_be16(&r), 0x0203);
	CHECK_EQ(rd_le16(&r), 0x0504);
	CHECK_EQ(rd_be24(&r), 0x060708);
	CHECK(rd_ok(&r));
	CHECK(rd_empty(&r));
	CHECK_EQ(rd_u8(&r), 0); /* past the end: 0 and error */
	CHECK(!rd_ok(&r));
	CHECK_EQ(rd_be32(&r), 0); /* stays failed */

	r = rd_init(b, sizeof b);
	CHECK_EQ(rd_le32(&r), 0x04030201);
	CHECK_EQ(rd_be32(&r), 0x05060708);
	r = rd_init(b, sizeof b);
	CHECK(rd_be64(&r) == 0x0102030405060708ULL);
	r = rd_init(b, sizeof b);
	CHECK(rd_le64(&r) == 0x0807060504030201ULL);
	r = rd_init(b, 7);
	CHECK(rd_be64(&r) == 0 || !rd_ok(&r));
	CHECK(!rd_ok(&r));
}

static void test_short_reads_fail_closed(void)
{
	const uint8_t b[] = { 0xaa, 0xbb, 0xcc };
	struct rd r = rd_init(b, sizeof b);
	CHECK_EQ(rd_be32(&r), 0);
	CHECK(!rd_ok(&r));
	CHECK_EQ(rd_left(&r), 0); /* cursor moved to the end */
	r = rd_init(b, sizeof b);
	CHECK(!rd_skip(&r, 4));
	CHECK(!rd_ok(&r));
	r = rd_init(b, sizeof b);
	CHECK(rd_skip(&r, 3));
	CHECK(rd_ok(&r));
	CHECK(rd_skip(&r, 0)); /* zero-length skip at the end is fine */
	CHECK(rd_ok(&r));
	uint8_t out[4] = { 9, 9, 9, 9 };
	r = rd_init(b, sizeof b);
	CHECK(!rd_copy(&r, out, 4));
	CHECK(out[0] == 0 && out[3] == 0); /* zeroed, not half-filled */
	r = rd_init(NULL, 0);
	CHECK(rd_empty(&r));
	CHECK_EQ(rd_u8(&r), 0);
	CHECK(!rd_ok(&r));
}

static void test_sub(void)
{
	const uint8_t b[] = { 3, 'a', 'b', 'c', 0x11, 0x22 };
	struct rd r = rd_init(b, sizeof b);
	uint8_t n = rd_u8(&r);
	struct rd s = rd_sub(&r, n);
	CHECK(rd_ok(&s));
	CHECK_EQ(rd_left(&s), 3);
	CHECK_EQ(rd_be16(&r), 0x1122); /* the parent moved past the child */
	CHECK_EQ(rd_u8(&s), 'a');
	CHECK_EQ(rd_be16(&s), ('b' << 8) | 'c');
	CHECK_EQ(rd_u8(&s), 0); /* the child cannot read into the parent's bytes */
	CHECK(!rd_ok(&s));
	CHECK(rd_ok(&r));
	/* a length field that lies */
	r = rd_init(b, sizeof b);
	s = rd_sub(&r, 200);
	CHECK(!rd_ok(&s));
	CHECK(!rd_ok(&r));
	CHECK_EQ(rd_left(&s), 0);
}

static void test_text_and_peek(void)
{
	const uint8_t b[] = { 'P', 'L', 'C', 0x01, ' ', 0, 0 };
	struct rd r = rd_init(b, sizeof b);
	char out[16];
	CHECK(rd_text(&r, sizeof b, out, sizeof out));
	CHECK(!strcmp(out, "PLC.")); /* non-printable replaced, trailing pad removed */
	r = rd_init(b, sizeof b);
	char tiny[3];
	CHECK(rd_text(&r, 5, tiny, sizeof tiny));
	CHECK(!strcmp(tiny, "PL"));
	CHECK_EQ(rd_left(&r), 2); /* moved past all 5 bytes */
	CHECK_EQ(rd_peek(&r, 0), 0);
	CHECK_EQ(rd_peek(&r, 2), -1);
	r = rd_init(b, 2);
	CHECK(!rd_text(&r, 3, out, sizeof out));
	CHECK(out[0] == '\0');
}

static void test_max_length(void)
{
	/* a 65535-byte field read exactly, and one byte more fails */
	uint8_t *big = calloc(1, 65535);
	CHECK(big != NULL);
	if (!big)
		return;
	struct rd r = rd_init(big, 65535);
	struct rd s = rd_sub(&r, 65535);
	CHECK(rd_ok(&s) && rd_left(&s) == 65535);
	CHECK(rd_empty(&r));
	r = rd_init(big, 65535);
	CHECK(!rd_skip(&r, 65536));
	free(big);
}

int main(void)
{
	test_getters();
	test_short_reads_fail_closed();
	test_sub();
	test_text_and_peek();
	test_max_length();
	return check_done();
}
