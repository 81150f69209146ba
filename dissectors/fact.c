/*
 * fact.c - names of fact types and operational events, as they appear in records.
 *
 * Must never: rename an event: the names are alert kinds users rely on.
 */
#include "fact.h"

const char *event_name(enum ots_event ev)
{
	switch (ev) {
	case EV_PLC_STOP: return "plc_stop";
	case EV_PLC_START: return "plc_start";
	case EV_PROGRAM_DOWNLOAD: return "program_download";
	case EV_PROGRAM_UPLOAD: return "program_upload";
	case EV_FIRMWARE_UPDATE: return "firmware_update";
	case EV_DEVICE_RESTART: return "device_restart";
	case EV_TIME_SET: return "time_set";
	case EV_MODE_CHANGE: return "mode_change";
	case EV_LOCK: return "lock";
	case EV_UNLOCK: return "unlock";
	case EV_CONTROL: return "control";
	case EV_CONFIG_CHANGE: return "config_change";
	case EV_FILE_TRANSFER: return "file_transfer";
	default: return "none";
	}
}

const char *fact_type_name(enum fact_type t)
{
	switch (t) {
	case FACT_IDENTITY: return "identity";
	case FACT_OPERATION: return "operation";
	case FACT_VIOLATION: return "violation";
	case FACT_EVENT: return "event";
	case FACT_CONTACT: return "contact";
	default: return "unknown";
	}
}
