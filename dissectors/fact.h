/*
 * fact.h - the typed facts dissectors emit, and what the state thread consumes.
 *
 * A fact is a fixed-size value: it is built on the worker's stack, copied into the
 * worker's fact ring, and never points into packet memory (strings are copied in,
 * truncated to their field size). Dissectors never touch inventory or storage; what
 * they learn about the world leaves them only as facts.
 *
 * Must never: hold a pointer to packet bytes or to anything the worker owns, since a
 * fact outlives the packet and crosses threads. `proto` points to a dissector's
 * static name, which lives for the whole process.
 */
#ifndef OTS_FACT_H
#define OTS_FACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fact_type {
	FACT_IDENTITY = 1,  /* something a device says about itself (vendor, model...) */
	FACT_OPERATION,     /* a client used a function/service of a server */
	FACT_VIOLATION,     /* a PDU broke its protocol's rules */
	FACT_EVENT,         /* an operational event: PLC stop, program download... */
	FACT_CONTACT,       /* a flow was seen (first packet of a flow); feeds channels and scans */
};

/* Operational events; names (event_name()) map 1:1 onto the operational alert kinds. */
enum ots_event {
	EV_NONE = 0,
	EV_PLC_STOP,
	EV_PLC_START,
	EV_PROGRAM_DOWNLOAD,
	EV_PROGRAM_UPLOAD,
	EV_FIRMWARE_UPDATE,
	EV_DEVICE_RESTART,
	EV_TIME_SET,
	EV_MODE_CHANGE,
	EV_LOCK,            /* controller locked / unlocked / password given */
	EV_UNLOCK,
	EV_CONTROL,         /* a command to the process: operate, set point, force */
	EV_CONFIG_CHANGE,   /* device configuration written (port config, comms control) */
	EV_FILE_TRANSFER,
	EV__COUNT
};

/* Which end of the packet a fact is about. */
enum fact_subject { SUBJ_SRC = 0, SUBJ_DST = 1 };

struct fact_endpoint {
	uint8_t mac[6];
	uint8_t family;     /* 0 (no IP: L2), 4 or 6 */
	uint8_t ip[16];     /* IPv4 in the first 4 bytes */
	uint16_t port;
};

#define FACT_STR 96

struct fact {
	uint8_t type;           /* enum fact_type */
	uint8_t transport;      /* enum ots_transport (packet.h) */
	bool src_is_client;     /* the packet's source is the flow's client */
	bool truncated;         /* a string below was cut to fit */
	uint16_t vlan;          /* 0 = untagged */
	uint64_t ts_us;         /* packet time, microseconds since the epoch */
	const char *proto;      /* dissector name ("modbus", "arp", ...) */
	uint32_t flow_id;       /* worker-local flow number, for evidence */
	uint8_t worker;
	uint64_t seq;           /* replay: the input record (packet) that produced it, across workers */
	struct fact_endpoint src, dst;
	union {
		struct {
			uint8_t subject;            /* enum fact_subject */
			char key[24];               /* vendor, model, firmware, serial, hostname, role, os, ip... */
			char value[FACT_STR];
		} id;
		struct {
			uint32_t func;              /* function/service code */
			char name[32];              /* readable function name, "" if none */
			bool is_write;              /* changes data or state in the server */
			bool is_response;
			bool exception;             /* the server refused it */
			uint8_t exc_code;
			uint32_t object;            /* unit id, DNP3 group, IEC 104 type id, CIP class... */
			bool has_range;
			uint32_t addr_lo, addr_hi;  /* register/object range touched, inclusive */
		} op;
		struct {
			char reason[FACT_STR];
		} viol;
		struct {
			uint8_t tcp_flags;          /* flags of the flow's first packet (SYN: a connection attempt) */
			uint8_t icmp_type;
		} contact;
		struct {
			uint16_t ev;                /* enum ots_event */
			uint8_t subject;            /* which end the event happened to (usually DST) */
			char detail[FACT_STR];
		} event;
	} u;
};

const char *event_name(enum ots_event ev);
const char *fact_type_name(enum fact_type t);

/* Copies the string src into dst of n bytes (n > 0), always terminated; true if it had
 * to cut (what snprintf(dst, n, "%s", src) does, without a format parser per PDU). */
static inline bool fact_str(char *dst, size_t n, const char *src)
{
	size_t i = 0;
	for (; i + 1 < n && src[i]; i++)
		dst[i] = src[i];
	dst[i] = 0;
	return src[i] != 0;
}

#endif
