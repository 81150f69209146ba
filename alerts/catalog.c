/*
 * catalog.c - every alert kind: engine, severity, title and what raises it.
 *
 * The README table ("Alert kinds" in README.md) is this table in words; keep them
 * together. Must never: rename a kind; add new ones freely.
 */
#include <string.h>

#include "alerts.h"

const struct alert_kind alert_catalog[] = {
	/* policy: only outside learning mode */
	{ "new_device", "policy", "major", "New device", "a device (MAC, or IP behind a router) not in the baseline" },
	{ "new_channel", "policy", "major", "New communication channel",
	  "a client talks to a server on a protocol/port pair not in the baseline" },
	{ "new_protocol", "policy", "major", "New protocol for a device",
	  "a learned device uses a protocol (as client or server) it never used while learning" },
	{ "new_function", "policy", "major", "New function on a channel",
	  "a function/service code, DNP3 object group or IEC 104 type id not learned on that channel" },
	{ "write_out_of_range", "policy", "major", "Write outside the learned range",
	  "a write to registers/coils/objects outside the learned write ranges of that channel" },
	{ "public_ip_contact", "policy", "major", "Contact with a public address",
	  "a plant device talks to an address outside RFC 1918 and the configured subnets" },
	/* protocol: always */
	{ "malformed_pdu", "protocol", "minor", "Malformed PDU", "a dissector reported a protocol violation" },
	{ "illegal_function", "protocol", "minor", "Illegal function",
	  "a server answered an exception 'illegal function' (Modbus exception 1)" },
	{ "exception_flood", "protocol", "major", "Exception flood",
	  "a server answered more than [alerts] exception_flood exceptions in one anomaly window" },
	/* operational: also during learning (never normal) */
	{ "plc_stop", "operational", "critical", "PLC stopped", "a stop command to a controller (S7, CIP, UMAS...)" },
	{ "plc_start", "operational", "major", "PLC started", "a start/run command to a controller" },
	{ "program_download", "operational", "critical", "Program download", "control logic written to a controller" },
	{ "program_upload", "operational", "major", "Program upload", "control logic read from a controller" },
	{ "firmware_update", "operational", "critical", "Firmware update", "firmware transferred to a device" },
	{ "firmware_changed", "operational", "critical", "Firmware changed",
	  "a device reports a firmware version different from the learned one" },
	{ "device_restart", "operational", "major", "Device restart", "a restart/reset command to a device" },
	{ "time_set", "operational", "minor", "Device time set", "a clock synchronisation/set-time command" },
	{ "mode_change", "operational", "major", "Operating mode change", "a device's operating mode was changed" },
	{ "plc_lock", "operational", "major", "Controller locked", "a controller was locked/reserved" },
	{ "plc_unlock", "operational", "major", "Controller unlocked",
	  "a controller was unlocked or a password was given" },
	{ "config_change", "operational", "major", "Device configuration changed",
	  "device configuration written (port settings, communication control)" },
	{ "file_transfer", "operational", "minor", "File transfer to/from a device",
	  "a file was read or written on a device through an ICS protocol" },
	{ "control_command", "operational", "warning", "Control command",
	  "a process command (operate, set point, force); only with [alerts] control_events = true" },
	{ "device_silent", "operational", "major", "Device silent",
	  "a learned device sent nothing for [alerts] device_silent seconds of packet time" },
	/* anomaly */
	{ "ip_sweep", "anomaly", "major", "IP sweep",
	  "one source opened flows to more than [alerts] ip_sweep_hosts addresses in one window" },
	{ "port_scan", "anomaly", "major", "Port scan",
	  "one source tried more than [alerts] port_scan_ports TCP (SYN) or UDP ports of one target in one window" },
	{ "arp_scan", "anomaly", "major", "ARP scan",
	  "one source asked ARP for more than [alerts] arp_scan_targets addresses in one window" },
	{ "new_flow_burst", "anomaly", "minor", "Burst of new flows",
	  "one source opened more than [alerts] new_flow_burst flows in one window" },
	/* malware */
	{ "signature_match", "malware", "critical", "Signature match", "a threat-intelligence signature matched" },
	{ NULL, NULL, NULL, NULL, NULL },
};

const struct alert_kind *alert_kind_find(const char *kind)
{
	for (const struct alert_kind *k = alert_catalog; k->kind; k++)
		if (!strcmp(k->kind, kind))
			return k;
	return NULL;
}
