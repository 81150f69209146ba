/*
 * iso.h - the ISO-on-TCP stack (RFC 1006 TPKT + ISO 8073 COTP) and the application
 * protocols it carries: S7comm, S7comm-plus and MMS (through ISO session/presentation).
 *
 * cotp.c is the registered dissector; it frames TPKTs, parses COTP, reassembles the head
 * of a fragmented DT sequence into per-flow memory, and hands the user data to one of
 * the parsers declared here. Those parsers emit their own pdu records (proto "s7comm",
 * "s7comm_plus", "mms") and facts; they keep per-flow memory only in the structs below,
 * which live inside cotp's DISSECTOR_STATE_SIZE bytes.
 *
 * `partial` tells a parser that it sees only the head of a longer PDU (COTP fragments
 * beyond what cotp keeps): it must not complain about data missing at the end.
 *
 * Must never: read a byte except through struct rd, or keep pointers to packet bytes.
 */
#ifndef OTS_ISO_H
#define OTS_ISO_H

#include <stdbool.h>
#include <stdint.h>

#include "dissector.h"

/* S7comm per-flow memory: the block a download/upload is working on */
struct s7_state {
	uint8_t dl_active;          /* a "request download" was seen and no "download ended" yet */
	uint8_t ul_active;
	char dl_block[12];          /* "DB1", "OB35"... of the running download */
	char ul_block[12];
	uint8_t szl_cont;           /* the last SZL answer said more fragments follow */
	uint16_t szl_id, szl_reclen, szl_skip;
	/* the last read/write var job (its first item), so an item error in the answer has a range */
	uint8_t var_used, var_func;
	uint16_t var_ref;
	uint32_t var_obj, var_lo, var_hi;
};

int s7comm_parse(struct dctx *ctx, struct rd *r, struct s7_state *s, bool partial);
int s7plus_parse(struct dctx *ctx, struct rd *r, bool partial);

/* MMS carried in an ISO session SPDU (session -> presentation -> ACSE -> MMS) */
int mms_parse_session(struct dctx *ctx, struct rd *r, bool partial);
/* MMS PDU straight on COTP (no session/presentation), as some tools send it */
int mms_parse_pdu(struct dctx *ctx, struct rd *r, bool partial);

/* Does this COTP user data start like a bare MMS PDU / an ISO session SPDU? */
bool mms_looks_like_pdu(const struct rd *r);
bool mms_looks_like_session(const struct rd *r);

#endif
