/*
 * main.c - the `otsensor` command: argument parsing and dispatch to replay, run, ctl.
 *
 * Exit status: 0 success, 1 runtime failure, 2 usage or configuration error. Every
 * usage error names the flag or value at fault.
 *
 * Must never: exit from anywhere but here.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "emit.h"
#include "oui.h"
#include "replay.h"
#include "run.h"

static const char usage_text[] =
	"usage: otsensor replay [--state DIR] [--config FILE] [--emit LIST] [--learning on|off]\n"
	"                       [--workers N] [--realtime] FILE...\n"
	"       otsensor run    [--config FILE] [--emit LIST]\n"
	"       otsensor ctl    [--state DIR] [--json] status | learning [on|off] | devices | alerts\n"
	"                       | alert (ack|learn|mute|close) ID | baseline (export|import) FILE | uplink status\n"
	"       otsensor --version\n"
	"LIST is any of pdus,facts,devices,alerts,stats (JSON Lines on stdout).\n";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "otsensor: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_text);
	return 2;
}

static int load_config(struct config *cfg, const char *path)
{
	config_defaults(cfg);
	if (!path)
		return 0;
	char err[1024];
	if (config_load(cfg, path, err, sizeof err)) {
		fprintf(stderr, "otsensor: %s\n", err);
		return 2;
	}
	return 0;
}

static int cmd_replay(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "emit", required_argument, NULL, 'e' },
		{ "learning", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ "realtime", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct replay_opts o = { .learning = -1 };
	const char *config_path = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		char err[256];
		switch (c) {
		case 's': o.state_dir = optarg; break;
		case 'c': config_path = optarg; break;
		case 'e':
			if (emit_parse_list(optarg, &o.emit, err, sizeof err))
				return usage_error("%s", err);
			break;
		case 'l':
			if (!strcmp(optarg, "on")) o.learning = 1;
			else if (!strcmp(optarg, "off")) o.learning = 0;
			else return usage_error("--learning: '%s' is not on or off", optarg);
			break;
		case 'w': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 64)
				return usage_error("--workers: '%s' is not a number from 1 to 64", optarg);
			o.workers = (int)v;
			break;
		}
		case 'r': o.realtime = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case ':': return usage_error("%s needs a value", argv[optind - 1]);
		default: return usage_error("replay: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("%s", "replay: no capture file given");
	struct config *cfg = malloc(sizeof *cfg);
	if (!cfg)
		return 1;
	int rc = load_config(cfg, config_path);
	if (!rc) {
		o.files = argv + optind;
		o.nfiles = argc - optind;
		rc = replay_main(&o, cfg);
	}
	free(cfg);
	return rc;
}

static int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "emit", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts o = { 0 };
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		char err[256];
		switch (c) {
		case 'c': o.config_path = optarg; break;
		case 'e':
			if (emit_parse_list(optarg, &o.emit, err, sizeof err))
				return usage_error("%s", err);
			break;
		case 'h': fputs(usage_text, stdout); return 0;
		case ':': return usage_error("%s needs a value", argv[optind - 1]);
		default: return usage_error("run: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("run: unexpected argument '%s' (interfaces come from [capture] interface)",
				   argv[optind]);
	struct config *cfg = malloc(sizeof *cfg);
	if (!cfg)
		return 1;
	int rc = load_config(cfg, o.config_path);
	if (!rc)
		rc = run_main(&o, cfg);
	free(cfg);
	return rc;
}

static int cmd_ctl(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = CTL_DEFAULT_STATE;
	bool json = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 's': state_dir = optarg; break;
		case 'j': json = true; break;
		case 'h': fputs(usage_text, stdout); return 0;
		case ':': return usage_error("%s needs a value", argv[optind - 1]);
		default: return usage_error("ctl: unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("%s", "ctl: no command given");
	int rc = ctl_run(state_dir, json, argc - optind, argv + optind);
	if (rc == 2)
		fputs(usage_text, stderr);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("%s", "no command given");
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("otsensor %s\n", OTSENSOR_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	/* the vendor registries load while the rest starts (the first device waits for them) */
	if (!strcmp(cmd, "replay") || !strcmp(cmd, "run"))
		oui_load_async(NULL);
	if (!strcmp(cmd, "replay"))
		return cmd_replay(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "ctl"))
		return cmd_ctl(argc - 1, argv + 1);
	return usage_error("unknown command '%s'", cmd);
}
