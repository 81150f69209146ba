/*
 * test_oui.c - the IEEE registries loader: quoting, the header line, junk lines, the
 * longest prefix first, the first entry of a prefix winning, locally administered MACs,
 * and a missing directory (no vendors, no failure).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "oui.h"

#define CHECK_STR(got, want) do { \
	const char *_g = (got); \
	CHECK(_g != NULL && !strcmp(_g, (want))); \
	if (!_g || strcmp(_g, (want))) \
		fprintf(stderr, "  got \"%s\", expected \"%s\"\n", _g ? _g : "(null)", (want)); \
} while (0)

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	CHECK(fp != NULL);
	fputs(text, fp);
	fclose(fp);
}

int main(void)
{
	char dir[] = "/tmp/ots-oui-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	write_file(dir, "oui.csv",
		   "Registry,Assignment,Organization Name,Organization Address\n"
		   "MA-L,00D0EF,IGT,9295 PROTOTYPE DRIVE RENO NV US 89511 \n"
		   "MA-L,A047D7,\"Best IT World (India) Pvt Ltd\",\"87, Mistry Complex,, Road \"\"A\"\"\"\r\n"
		   "MA-L,001B1B,\"Siemens AG, \"\"Automation\"\"\",Nuremberg DE\n"
		   "MA-L,00D0EF,Second Owner,ignored: the first entry wins\n"
		   "junk line without fields\n"
		   "MA-L,XYZ123,Bad Hex,\n"
		   "\n"
		   "MA-L,70B3D5,IEEE Registration Authority,no newline at the end");
	write_file(dir, "mam.csv",
		   "Registry,Assignment,Organization Name,Organization Address\n"
		   "MA-M,70B3D51,Medium Block Owner,addr\n");
	write_file(dir, "oui36.csv",
		   "Registry,Assignment,Organization Name,Organization Address\n"
		   "MA-S,70B3D5123,Small Block Owner,addr\n");
	CHECK_EQ(oui_load(dir), 6);
	CHECK_EQ(oui_load("/nonexistent"), 6); /* loads once */

	/* each MAC and the vendor it should have (NULL: none) */
	static const struct {
		uint8_t mac[6];
		const char *vendor;
	} cases[] = {
		{ { 0x00, 0xd0, 0xef, 1, 2, 3 }, "IGT" },
		{ { 0xa0, 0x47, 0xd7, 0, 0, 0 }, "Best IT World (India) Pvt Ltd" },
		{ { 0x00, 0x1b, 0x1b, 9, 9, 9 }, "Siemens AG, \"Automation\"" },
		{ { 0x70, 0xb3, 0xd5, 0x12, 0x34, 0x56 }, "Small Block Owner" },     /* MA-S before MA-M */
		{ { 0x70, 0xb3, 0xd5, 0x1f, 0xff, 0xff }, "Medium Block Owner" },    /* MA-M before MA-L */
		{ { 0x70, 0xb3, 0xd5, 0xf0, 0, 0 }, "IEEE Registration Authority" },
		{ { 0x00, 0x11, 0x22, 0, 0, 0 }, NULL },                           /* not registered */
		{ { 0x02, 0xd0, 0xef, 1, 2, 3 }, NULL },                           /* locally administered */
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		if (cases[i].vendor)
			CHECK_STR(oui_vendor(cases[i].mac), cases[i].vendor);
		else
			CHECK(oui_vendor(cases[i].mac) == NULL);
	}

	const char *files[] = { "oui.csv", "mam.csv", "oui36.csv" };
	for (int i = 0; i < 3; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
	return check_done();
}
