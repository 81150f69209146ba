/*
 * fins.c - OMRON FINS over UDP and TCP (port 9600): the FINS/TCP envelope ("FINS"
 * magic, length, command, error code: node address exchange and frame send), and the
 * FINS frame (ICF, addresses, SID, MRC/SRC command code, end code in responses).
 *
 * Emits: a pdu record per FINS message (command = MRC<<8|SRC as tshark's
 * omron.command; null for FINS/TCP envelopes carrying no FINS frame, as tshark shows
 * none), plus tcp_command, icf, sid, dna/da1/sna/sa1, end_code; an operation fact
 * per command (write or not) and per error response; identity facts (model, firmware)
 * from the Controller Data Read (0x0501) response; events: RUN -> plc_start, STOP ->
 * plc_stop, program area write -> program_download, program area read ->
 * program_upload, clock write -> time_set, access right acquire/release ->
 * lock/unlock, forced set/reset -> control, file write/transfer -> file_transfer,
 * parameter area write/clear -> config_change; violations for malformed envelopes and
 * frames.
 *
 * Must never: read a byte except through struct rd, or trust the FINS/TCP length
 * before checking it.
 */
#include <stdio.h>
#include <string.h>

#include "dissector.h"

#define FINS_TCP_MAX 8192

struct fins_cmd {
	uint16_t code;
	const char *name;
	bool write;
};

static const struct fins_cmd fins_cmds[] = {
	{ 0x0101, "memory_area_read", false },    { 0x0102, "memory_area_write", true },
	{ 0x0103, "memory_area_fill", true },     { 0x0104, "multiple_memory_area_read", false },
	{ 0x0105, "memory_area_transfer", true }, { 0x0201, "parameter_area_read", false },
	{ 0x0202, "parameter_area_write", true }, { 0x0203, "parameter_area_clear", true },
	{ 0x0304, "program_area_protect", true }, { 0x0305, "program_area_protect_clear", true },
	{ 0x0306, "program_area_read", false },   { 0x0307, "program_area_write", true },
	{ 0x0308, "program_area_clear", true },   { 0x0401, "run", true },
	{ 0x0402, "stop", true },                 { 0x0501, "controller_data_read", false },
	{ 0x0502, "connection_data_read", false }, { 0x0601, "controller_status_read", false },
	{ 0x0620, "cycle_time_read", false },     { 0x0701, "clock_read", false },
	{ 0x0702, "clock_write", true },          { 0x0920, "message_read", false },
	{ 0x0c01, "access_right_acquire", true }, { 0x0c02, "access_right_forced_acquire", true },
	{ 0x0c03, "access_right_release", true }, { 0x2101, "error_clear", true },
	{ 0x2102, "error_log_read", false },      { 0x2103, "error_log_clear", true },
	{ 0x2201, "file_name_read", false },      { 0x2202, "single_file_read", false },
	{ 0x2203, "single_file_write", true },    { 0x2204, "memory_card_format", true },
	{ 0x2205, "file_delete", true },          { 0x2206, "volume_label_create_delete", true },
	{ 0x2207, "file_copy", true },            { 0x2208, "file_name_change", true },
	{ 0x2209, "file_data_check", false },     { 0x220a, "memory_area_file_transfer", true },
	{ 0x220b, "parameter_area_file_transfer", true }, { 0x220c, "program_area_file_transfer", true },
	{ 0x2215, "file_memory_index_read", false }, { 0x2301, "forced_set_reset", true },
	{ 0x2302, "forced_set_reset_cancel", true }, { 0x0801, "loopback_test", false },
	{ 0x0802, "broadcast_test_results_read", false }, { 0x0803, "broadcast_test_data_send", false },
};

static const struct fins_cmd *fins_lookup(uint16_t code)
{
	for (size_t i = 0; i < sizeof fins_cmds / sizeof fins_cmds[0]; i++)
		if (fins_cmds[i].code == code)
			return &fins_cmds[i];
	return NULL;
}

static ssize_t fins_pdu_len(const uint8_t *data, size_t len)
{
	if (len < 8)
		return 0;
	struct rd r = rd_init(data, len);
	uint32_t magic = rd_be32(&r);
	uint32_t l = rd_be32(&r);
	if (magic != 0x46494e53 || l < 8 || l > FINS_TCP_MAX)
		return -1;
	return 8 + (ssize_t)l;
}

/* a plausible FINS frame header: ICF with bit 7 set and reserved bits clear, RSV 0,
 * GCT at most 7, and a known command code */
static bool fins_frame_ok(struct rd *r)
{
	uint8_t icf = rd_u8(r), rsv = rd_u8(r), gct = rd_u8(r);
	rd_skip(r, 7);
	uint16_t cmd = rd_be16(r);
	return rd_ok(r) && (icf & 0x80) && (icf & 0x3e) == 0 && rsv == 0 && gct <= 7 && fins_lookup(cmd);
}

static bool fins_probe(const uint8_t *data, size_t len, bool to_server)
{
	(void)to_server;
	struct rd r = rd_init(data, len);
	if (len >= 16 && rd_be32(&r) == 0x46494e53) {
		uint32_t l = rd_be32(&r);
		uint32_t cmd = rd_be32(&r);
		uint32_t err = rd_be32(&r);
		return rd_ok(&r) && l >= 8 && l <= FINS_TCP_MAX && cmd <= 6 &&
		       err == 0 && (cmd != 2 || fins_frame_ok(&r));
	}
	r = rd_init(data, len);
	return len >= 12 && fins_frame_ok(&r);
}

static void fins_events(struct dctx *ctx, uint16_t cmd, enum fact_subject srv)
{
	switch (cmd) {
	case 0x0401: dctx_event(ctx, EV_PLC_START, srv, "FINS RUN"); break;
	case 0x0402: dctx_event(ctx, EV_PLC_STOP, srv, "FINS STOP"); break;
	case 0x0307: dctx_event(ctx, EV_PROGRAM_DOWNLOAD, srv, "FINS program area write"); break;
	case 0x0308: dctx_event(ctx, EV_PROGRAM_DOWNLOAD, srv, "FINS program area clear"); break;
	case 0x220c: dctx_event(ctx, EV_PROGRAM_DOWNLOAD, srv, "FINS program area file transfer"); break;
	case 0x0306: dctx_event(ctx, EV_PROGRAM_UPLOAD, srv, "FINS program area read"); break;
	case 0x0702: dctx_event(ctx, EV_TIME_SET, srv, "FINS clock write"); break;
	case 0x0c01: dctx_event(ctx, EV_LOCK, srv, "FINS access right acquire"); break;
	case 0x0c02: dctx_event(ctx, EV_LOCK, srv, "FINS access right forced acquire"); break;
	case 0x0c03: dctx_event(ctx, EV_UNLOCK, srv, "FINS access right release"); break;
	case 0x2301: dctx_event(ctx, EV_CONTROL, srv, "FINS forced set/reset"); break;
	case 0x2302: dctx_event(ctx, EV_CONTROL, srv, "FINS forced set/reset cancel"); break;
	case 0x2203: dctx_event(ctx, EV_FILE_TRANSFER, srv, "FINS single file write"); break;
	case 0x220a: dctx_event(ctx, EV_FILE_TRANSFER, srv, "FINS memory area file transfer"); break;
	case 0x0202: dctx_event(ctx, EV_CONFIG_CHANGE, srv, "FINS parameter area write"); break;
	case 0x0203: dctx_event(ctx, EV_CONFIG_CHANGE, srv, "FINS parameter area clear"); break;
	case 0x220b: dctx_event(ctx, EV_CONFIG_CHANGE, srv, "FINS parameter area file transfer"); break;
	default: break;
	}
}

/* a 20-byte NUL-padded ASCII field, cut at its first NUL */
static bool fixed_text(struct rd *r, char dst[24])
{
	uint8_t raw[20];
	if (!rd_copy(r, raw, sizeof raw)) {
		dst[0] = '\0';
		return false;
	}
	size_t k = 0;
	while (k < sizeof raw && raw[k] != 0) {
		dst[k] = (raw[k] >= 0x20 && raw[k] < 0x7f) ? (char)raw[k] : '.';
		k++;
	}
	while (k > 0 && dst[k - 1] == ' ')
		k--;
	dst[k] = '\0';
	return true;
}

/* one FINS frame (header, command, parameters); `tcp_cmd` < 0 for UDP */
static int fins_frame(struct dctx *ctx, struct rd *r, long tcp_cmd)
{
	uint8_t icf = rd_u8(r);
	rd_skip(r, 2); /* RSV, GCT */
	uint8_t dna = rd_u8(r), da1 = rd_u8(r);
	rd_skip(r, 1);
	uint8_t sna = rd_u8(r), sa1 = rd_u8(r);
	rd_skip(r, 1);
	uint8_t sid = rd_u8(r);
	uint16_t cmd = rd_be16(r);
	bool resp = (icf & 0x40) != 0;
	pdu_begin(ctx, resp ? "response" : "request");
	if (tcp_cmd >= 0)
		pdu_u(ctx, "tcp_command", (uint64_t)tcp_cmd);
	if (!rd_ok(r)) {
		pdu_null(ctx, "command");
		pdu_end(ctx);
		dctx_violation(ctx, "fins: frame shorter than the FINS header and command code");
		return -1;
	}
	pdu_u(ctx, "command", cmd);
	pdu_u(ctx, "icf", icf);
	pdu_u(ctx, "sid", sid);
	pdu_u(ctx, "dna", dna);
	pdu_u(ctx, "da1", da1);
	pdu_u(ctx, "sna", sna);
	pdu_u(ctx, "sa1", sa1);
	const struct fins_cmd *c = fins_lookup(cmd);
	if (c)
		pdu_s(ctx, "command_name", c->name);
	uint16_t end = 0;
	bool have_end = false;
	if (resp) {
		end = rd_be16(r);
		have_end = rd_ok(r);
		if (have_end)
			pdu_u(ctx, "end_code", end);
	}
	pdu_end(ctx);

	/* direction from the ICF: a response comes from the server */
	enum fact_subject srv = resp ? SUBJ_SRC : SUBJ_DST;
	struct fact f;
	dctx_fact_init(ctx, &f, FACT_OPERATION);
	f.u.op.func = cmd;
	fact_str(f.u.op.name, sizeof f.u.op.name, c ? c->name : "unknown");
	f.u.op.is_write = c && c->write;
	f.u.op.is_response = resp;
	f.u.op.object = resp ? sa1 : da1; /* the server's node */
	/* end code: bit 15 network relay error, bit 7 fatal/non-fatal flags, the rest the code;
	 * 0x0000 normal, 0x0040 (non-fatal CPU error flag only) is also normal completion */
	uint16_t main_sub = end & 0x7f7f;
	if (resp && have_end && main_sub != 0) {
		f.u.op.exception = true;
		f.u.op.exc_code = (uint8_t)(main_sub >> 8);
	}
	if (!resp && cmd == 0x0101) {
		/* memory area read: area code, start address (word, bit), count */
		rd_skip(r, 1);
		uint16_t addr = rd_be16(r);
		rd_skip(r, 1);
		uint16_t cnt = rd_be16(r);
		if (rd_ok(r) && cnt > 0) {
			f.u.op.has_range = true;
			f.u.op.addr_lo = addr;
			f.u.op.addr_hi = (uint32_t)addr + cnt - 1;
		}
	} else if (!resp && (cmd == 0x0102 || cmd == 0x0103)) {
		rd_skip(r, 1);
		uint16_t addr = rd_be16(r);
		rd_skip(r, 1);
		uint16_t cnt = rd_be16(r);
		if (rd_ok(r) && cnt > 0) {
			f.u.op.has_range = true;
			f.u.op.addr_lo = addr;
			f.u.op.addr_hi = (uint32_t)addr + cnt - 1;
		}
	}
	dctx_emit(ctx, &f);
	if (!c)
		dctx_violation(ctx, "fins: unknown command code 0x%04x", cmd);
	if (!resp)
		fins_events(ctx, cmd, srv);
	if (resp && cmd == 0x0501 && have_end && main_sub == 0) {
		char model[24], ver[24];
		if (fixed_text(r, model) && fixed_text(r, ver)) {
			if (model[0])
				dctx_identity(ctx, srv, "model", "%s", model);
			if (ver[0])
				dctx_identity(ctx, srv, "firmware", "%s", ver);
			dctx_identity(ctx, srv, "vendor", "OMRON");
		}
	}
	return 0;
}

static int fins_parse(struct dctx *ctx, struct rd *r)
{
	if (rd_peek(r, 0) == 'F' && rd_peek(r, 1) == 'I' && rd_peek(r, 2) == 'N' &&
	    rd_peek(r, 3) == 'S') {
		rd_skip(r, 4);
		uint32_t len = rd_be32(r);
		uint32_t cmd = rd_be32(r);
		uint32_t err = rd_be32(r);
		if (!rd_ok(r) || len < 8) {
			dctx_violation(ctx, "fins: FINS/TCP header truncated");
			return -1;
		}
		if (cmd == 2) {
			struct rd fr = rd_sub(r, rd_left(r) < len - 8 ? rd_left(r) : len - 8);
			return fins_frame(ctx, &fr, (long)cmd);
		}
		pdu_begin(ctx, cmd == 1 ? "response" : ctx->to_server ? "request" : "response");
		pdu_u(ctx, "tcp_command", cmd);
		pdu_u(ctx, "tcp_error", err);
		pdu_null(ctx, "command");
		uint32_t a = rd_be32(r);
		if (rd_ok(r))
			pdu_u(ctx, "client_node", a);
		uint32_t b = rd_be32(r);
		if (rd_ok(r) && cmd == 1)
			pdu_u(ctx, "server_node", b);
		pdu_end(ctx);
		if (cmd > 6)
			dctx_violation(ctx, "fins: unknown FINS/TCP command %u", cmd);
		if (err != 0)
			dctx_violation(ctx, "fins: FINS/TCP error code 0x%08x", err);
		return 0;
	}
	return fins_frame(ctx, r, -1);
}

static const uint16_t fins_ports[] = { 9600, 0 };

const struct dissector fins_dissector = {
	.name = "fins",
	.transports = DT_TCP | DT_UDP,
	.ports = fins_ports,
	.probe = fins_probe,
	.pdu_len = fins_pdu_len,
	.parse = fins_parse,
};
