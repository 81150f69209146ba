/*
 * veth-blast.c - the AF_XDP benchmark's traffic sender (tests/bench/xdp_rate.py): replays
 * a capture's frames into one end of a veth pair, looped, as fast as it can or paced.
 *
 *   veth-blast [--via xdp|packet] [--mbps M] [--seconds S] [--packets N] [--batch B]
 *              [--cpu C] IFACE FILE
 *
 * FILE (any capture libpcap reads, Ethernet frames; frames of fewer than 14 captured bytes
 * are left out) is read into memory once; its frames are then sent in file order, from the
 * first again after the last, until S seconds (default 10) or N frames, whichever comes
 * first, or SIGINT/SIGTERM. --mbps paces to M Mbit/s of frame bytes (what tcpreplay's
 * --mbps counts: no preamble, inter-frame gap or FCS) from the start on; without it frames
 * go as fast as the kernel takes them. --cpu pins the sender to one CPU.
 *
 * --via xdp (default): an XDP program run by BPF_PROG_TEST_RUN in live-frames mode (Linux
 * 5.18) writes each frame and transmits it with XDP_TX through IFACE's ndo_xdp_xmit: a
 * veth hands it to its peer's native XDP program as an xdp_frame, with no socket buffer on
 * the way (see blast_xdp). The peer must have a native XDP program attached (the sensor in
 * zero-copy or copy mode); else the veth drops every frame without counting it. The pace
 * is kept frame by frame in the kernel. B (default 64, at most 256: the veth's ring) frames
 * go per kernel batch.
 *
 * --via packet: sendmmsg() of B frames per call (default 64) on an AF_PACKET socket bound
 * to IFACE with PACKET_QDISC_BYPASS, each frame's bytes straight from the loaded copy: the
 * path an ordinary sender (tcpreplay: one system call per frame) takes, batched; each
 * frame becomes a socket buffer, which costs the sending CPU about 1.7 us on a veth whose
 * peer runs XDP (the sender reaches ~600k frames/s on the 2-core development VM, --via
 * xdp 1.6-2.5 M). A frame the kernel refuses for a moment (ENOBUFS: the veth dropped it, its
 * queue is stopped or the send buffer full) is sent again and counted in "retries" (the
 * veth counts the refused copy in its drops); a frame counts as sent once the kernel took it.
 *
 * Prints one line on stdout:
 *
 *   sent P packets B bytes in T s: R Mbit/s, Q pps, retries X, loops L, target M Mbit/s, via V
 *
 * (T: from the start to the last frame sent; target 0: unpaced). Exit status 0; 1 for an
 * error, 3 when the kernel refuses --via xdp (BPF maps, program or live-frames test run;
 * nothing was sent), both named on stderr; 2 for bad usage.
 *
 * Must never: send anything but the file's frames, in the file's order, or count a frame
 * as sent that the kernel did not take.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, sendmmsg (meson defines it for the project) */
#endif
#include <errno.h>
#include <inttypes.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
/* the kernel's struct bpf_insn (linux/bpf.h), not libpcap's classic one */
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/dlt.h>
#include <pcap/pcap.h>

#define MAX_BATCH 1024

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct frames {
	uint8_t *data;     /* every frame's bytes, one after the other */
	size_t *off;       /* frame i starts at data + off[i] */
	uint32_t *len;     /* and has len[i] bytes */
	size_t n, cap, used, room;
};

static int load(const char *path, struct frames *f)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(path, err);
	if (!pc) {
		fprintf(stderr, "veth-blast: %s: %s\n", path, err);
		return -1;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		fprintf(stderr, "veth-blast: %s: not an Ethernet capture (link type %d)\n", path, pcap_datalink(pc));
		pcap_close(pc);
		return -1;
	}
	struct pcap_pkthdr *h;
	const u_char *pkt;
	int rc;
	while ((rc = pcap_next_ex(pc, &h, &pkt)) == 1) {
		if (h->caplen < ETH_HLEN)
			continue;
		if (f->n == f->cap) {
			size_t nc = f->cap ? 2 * f->cap : 65536;
			size_t *no = realloc(f->off, nc * sizeof *no);
			if (no)
				f->off = no;
			uint32_t *nl = realloc(f->len, nc * sizeof *nl);
			if (nl)
				f->len = nl;
			if (!no || !nl)
				goto oom;
			f->cap = nc;
		}
		if (f->used + h->caplen > f->room) {
			size_t nr = f->room ? 2 * f->room : (size_t)8 << 20;
			while (nr < f->used + h->caplen)
				nr *= 2;
			uint8_t *nd = realloc(f->data, nr);
			if (!nd)
				goto oom;
			f->data = nd;
			f->room = nr;
		}
		memcpy(f->data + f->used, pkt, h->caplen);
		f->off[f->n] = f->used;
		f->len[f->n] = h->caplen;
		f->used += h->caplen;
		f->n++;
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "veth-blast: %s: %s\n", path, pcap_geterr(pc));
		pcap_close(pc);
		return -1;
	}
	pcap_close(pc);
	if (!f->n) {
		fprintf(stderr, "veth-blast: %s: no frames\n", path);
		return -1;
	}
	return 0;
oom:
	fprintf(stderr, "veth-blast: %s: out of memory after %zu frames\n", path, f->n);
	pcap_close(pc);
	return -1;
}


/* ---- --via xdp: frames made by an XDP program run with BPF_F_TEST_XDP_LIVE_FRAMES ----
 *
 * The file's frames are packed into an array map of CHUNK-byte values (a frame starts at
 * most MAX_START bytes into one, so start + length stays inside it), with an index map of
 * (chunk, offset, length) per frame. Each run of the program below takes the next frame
 * number from a one-entry state map, sets the frame's length (bpf_xdp_adjust_tail),
 * copies its bytes in (bpf_xdp_store_bytes) and returns XDP_TX: the kernel's test-run loop
 * hands the frame to IFACE's ndo_xdp_xmit, which for a veth puts it on the peer's receive
 * ring as an xdp_frame; no socket buffer is built on the way (what costs a sending veth
 * most), and the peer's native XDP program gets it as from a driver. The peer must run a
 * native XDP program (else the veth drops the frames; they then count in neither end's
 * packets). A run returns XDP_DROP, sending nothing and moving nothing, when it is ahead
 * of the pace (bytes sent * ns per byte since the start), at the deadline or the frame
 * limit: the pace is kept frame by frame inside one system call, and a call costs a
 * kernel page pool set up and torn down (tens of milliseconds), so calls are long. */
#define CHUNK 8192
#define MAX_FRAME 2048
#define MAX_START (CHUNK - MAX_FRAME)

struct frame_ref {
	uint32_t chunk;
	uint16_t off, len;
};

/* the state map's one value: the program's inputs and counters */
struct xdp_state {
	uint32_t next;        /* the frame the next run sends */
	uint32_t pad;
	uint64_t sent, bytes; /* frames sent, their bytes */
	uint64_t start_ns;    /* CLOCK_MONOTONIC (bpf_ktime_get_ns) at the start */
	uint64_t end_ns;      /* no frame from then on */
	uint64_t ns_per_kib;  /* the pace: ns per 1024 frame bytes; 0 unpaced */
	uint64_t limit;       /* frames at most; 0 none */
	uint64_t last_ns;     /* when the last frame was sent */
};
#define ST(field) ((int16_t)offsetof(struct xdp_state, field))

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn i = { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
	return i;
}

#define MOV_IMM(d, v) insn(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, v)
#define MOV_REG(d, s) insn(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define ADD_IMM(d, v) insn(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, v)
#define ADD_REG(d, s) insn(BPF_ALU64 | BPF_ADD | BPF_X, d, s, 0, 0)
#define SUB_REG(d, s) insn(BPF_ALU64 | BPF_SUB | BPF_X, d, s, 0, 0)
#define MUL_REG(d, s) insn(BPF_ALU64 | BPF_MUL | BPF_X, d, s, 0, 0)
#define RSH_IMM(d, v) insn(BPF_ALU64 | BPF_RSH | BPF_K, d, 0, 0, v)
#define LDX(sz, d, s, o) insn(BPF_LDX | (sz) | BPF_MEM, d, s, o, 0)
#define STX(sz, d, s, o) insn(BPF_STX | (sz) | BPF_MEM, d, s, o, 0)
#define ST_IMM(sz, d, o, v) insn(BPF_ST | (sz) | BPF_MEM, d, 0, o, v)
#define JMP_IMM(op, d, v, o) insn(BPF_JMP | (op) | BPF_K, d, 0, o, v)
#define JMP_REG(op, d, s, o) insn(BPF_JMP | (op) | BPF_X, d, s, o, 0)
#define CALL(f) insn(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
#define LD_MAP(d, fd) insn(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd), insn(0, 0, 0, 0, 0)
#define TO_DROP INT16_MIN /* a jump to the last two instructions (set in xdp_program) */

static int xdp_program(int state_fd, int index_fd, int data_fd, uint32_t nframes)
{
	/* r6 ctx, r7 &state; stack: -4 key 0, -8 frame number, -12 chunk number, -16 the
	 * next frame number, -24 the chunk's address, -32 the time */
	struct bpf_insn p[] = {
		MOV_REG(BPF_REG_6, BPF_REG_1),
		ST_IMM(BPF_W, BPF_REG_10, -4, 0),
		MOV_REG(BPF_REG_2, BPF_REG_10),
		ADD_IMM(BPF_REG_2, -4),
		LD_MAP(BPF_REG_1, state_fd),
		CALL(BPF_FUNC_map_lookup_elem),
		JMP_IMM(BPF_JEQ, BPF_REG_0, 0, TO_DROP),
		MOV_REG(BPF_REG_7, BPF_REG_0),
		/* past the deadline or the limit, or ahead of the pace: send nothing */
		CALL(BPF_FUNC_ktime_get_ns),
		STX(BPF_DW, BPF_REG_10, BPF_REG_0, -32),
		LDX(BPF_DW, BPF_REG_1, BPF_REG_7, ST(end_ns)),
		JMP_REG(BPF_JGE, BPF_REG_0, BPF_REG_1, TO_DROP),
		LDX(BPF_DW, BPF_REG_1, BPF_REG_7, ST(limit)),
		JMP_IMM(BPF_JEQ, BPF_REG_1, 0, 2),
		LDX(BPF_DW, BPF_REG_2, BPF_REG_7, ST(sent)),
		JMP_REG(BPF_JGE, BPF_REG_2, BPF_REG_1, TO_DROP),
		LDX(BPF_DW, BPF_REG_1, BPF_REG_7, ST(ns_per_kib)),
		JMP_IMM(BPF_JEQ, BPF_REG_1, 0, 6),
		LDX(BPF_DW, BPF_REG_2, BPF_REG_7, ST(bytes)),
		MUL_REG(BPF_REG_2, BPF_REG_1),
		RSH_IMM(BPF_REG_2, 10),
		LDX(BPF_DW, BPF_REG_1, BPF_REG_7, ST(start_ns)),
		ADD_REG(BPF_REG_2, BPF_REG_1),
		JMP_REG(BPF_JLT, BPF_REG_0, BPF_REG_2, TO_DROP),
		/* the frame number, and the one after it */
		LDX(BPF_W, BPF_REG_8, BPF_REG_7, ST(next)),
		STX(BPF_W, BPF_REG_10, BPF_REG_8, -8),
		ADD_IMM(BPF_REG_8, 1),
		JMP_IMM(BPF_JLT, BPF_REG_8, (int32_t)nframes, 1),
		MOV_IMM(BPF_REG_8, 0),
		STX(BPF_W, BPF_REG_10, BPF_REG_8, -16),
		/* its (chunk, off, len): chunk to the stack, r8 off, r9 len */
		MOV_REG(BPF_REG_2, BPF_REG_10),
		ADD_IMM(BPF_REG_2, -8),
		LD_MAP(BPF_REG_1, index_fd),
		CALL(BPF_FUNC_map_lookup_elem),
		JMP_IMM(BPF_JEQ, BPF_REG_0, 0, TO_DROP),
		LDX(BPF_W, BPF_REG_1, BPF_REG_0, 0),
		STX(BPF_W, BPF_REG_10, BPF_REG_1, -12),
		LDX(BPF_H, BPF_REG_8, BPF_REG_0, 4),
		LDX(BPF_H, BPF_REG_9, BPF_REG_0, 6),
		MOV_REG(BPF_REG_2, BPF_REG_10),
		ADD_IMM(BPF_REG_2, -12),
		LD_MAP(BPF_REG_1, data_fd),
		CALL(BPF_FUNC_map_lookup_elem),
		JMP_IMM(BPF_JEQ, BPF_REG_0, 0, TO_DROP),
		STX(BPF_DW, BPF_REG_10, BPF_REG_0, -24),
		/* the frame gets len bytes: grow or shrink it by len - its length now */
		MOV_REG(BPF_REG_1, BPF_REG_6),
		CALL(BPF_FUNC_xdp_get_buff_len),
		MOV_REG(BPF_REG_2, BPF_REG_9),
		SUB_REG(BPF_REG_2, BPF_REG_0),
		MOV_REG(BPF_REG_1, BPF_REG_6),
		CALL(BPF_FUNC_xdp_adjust_tail),
		JMP_IMM(BPF_JNE, BPF_REG_0, 0, TO_DROP),
		/* the bounds the verifier needs: off <= MAX_START, ETH_HLEN <= len <= MAX_FRAME */
		JMP_IMM(BPF_JGT, BPF_REG_8, MAX_START, TO_DROP),
		JMP_IMM(BPF_JGT, BPF_REG_9, MAX_FRAME, TO_DROP),
		JMP_IMM(BPF_JLT, BPF_REG_9, ETH_HLEN, TO_DROP),
		MOV_REG(BPF_REG_1, BPF_REG_6),
		MOV_IMM(BPF_REG_2, 0),
		LDX(BPF_DW, BPF_REG_3, BPF_REG_10, -24),
		ADD_REG(BPF_REG_3, BPF_REG_8),
		MOV_REG(BPF_REG_4, BPF_REG_9),
		CALL(BPF_FUNC_xdp_store_bytes),
		JMP_IMM(BPF_JNE, BPF_REG_0, 0, TO_DROP),
		/* sent: count it, move on */
		LDX(BPF_W, BPF_REG_1, BPF_REG_10, -16),
		STX(BPF_W, BPF_REG_7, BPF_REG_1, ST(next)),
		LDX(BPF_DW, BPF_REG_1, BPF_REG_7, ST(sent)),
		ADD_IMM(BPF_REG_1, 1),
		STX(BPF_DW, BPF_REG_7, BPF_REG_1, ST(sent)),
		LDX(BPF_DW, BPF_REG_1, BPF_REG_7, ST(bytes)),
		ADD_REG(BPF_REG_1, BPF_REG_9),
		STX(BPF_DW, BPF_REG_7, BPF_REG_1, ST(bytes)),
		LDX(BPF_DW, BPF_REG_1, BPF_REG_10, -32),
		STX(BPF_DW, BPF_REG_7, BPF_REG_1, ST(last_ns)),
		MOV_IMM(BPF_REG_0, XDP_TX),
		EXIT(),
		/* drop: */
		MOV_IMM(BPF_REG_0, XDP_DROP),
		EXIT(),
	};
	const int n = (int)(sizeof p / sizeof p[0]);
	for (int i = 0; i < n; i++)
		if (BPF_CLASS(p[i].code) == BPF_JMP && p[i].off == TO_DROP)
			p[i].off = (int16_t)(n - 2 - i - 1);
	static char log[1 << 16];
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = sizeof log, .log_level = 0);
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "veth_blast", "GPL", p, (size_t)n, &o);
	if (fd < 0) {
		/* again with the verifier's log, to say why */
		int e = errno;
		o.log_level = 1;
		fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "veth_blast", "GPL", p, (size_t)n, &o);
		if (fd < 0) {
			size_t l = strlen(log);
			fprintf(stderr, "veth-blast: the XDP program does not load: %s\n%s", strerror(e),
				log + (l > 3000 ? l - 3000 : 0));
		}
	}
	return fd;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct run {
	const struct frames *f;
	const char *ifname;
	unsigned ifindex, batch;
	double bytes_per_s, seconds; /* 0: unpaced */
	uint64_t limit;              /* 0: none */
	double t0, t;
	uint64_t sent, bytes, retries, loops;
	size_t next; /* the next frame of the file */
};

static bool more(const struct run *r)
{
	return !stop && r->t - r->t0 < r->seconds && (!r->limit || r->sent < r->limit);
}

/* frames a batch may hold: the batch, less what the limit leaves */
static unsigned batch_room(const struct run *r, unsigned want)
{
	if (r->limit && r->limit - r->sent < want)
		return (unsigned)(r->limit - r->sent);
	return want;
}

/* n more frames went, from r->next on */
static void account(struct run *r, uint64_t n)
{
	for (uint64_t k = 0; k < n; k++) {
		r->bytes += r->f->len[r->next];
		if (++r->next == r->f->n) {
			r->next = 0;
			r->loops++;
		}
	}
	r->sent += n;
}

/* paced: ahead of the rate, wait until the bytes sent are due */
static void pace(struct run *r)
{
	r->t = now_s();
	if (r->bytes_per_s <= 0)
		return;
	double due = r->t0 + (double)r->bytes / r->bytes_per_s;
	if (due > r->t0 + r->seconds)
		due = r->t0 + r->seconds;
	while (!stop && r->t < due) {
		double ahead = due - r->t;
		if (ahead > 20e-6) {
			/* the timer slack is 1 us (prctl in main): a sleep ends close to due */
			struct timespec ts = { (time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9) };
			nanosleep(&ts, NULL);
		}
		r->t = now_s();
	}
}

/* --via packet: sendmmsg() on an AF_PACKET socket bound to the interface */
static int blast_packet(struct run *r)
{
	/* protocol 0: the socket receives nothing */
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		fprintf(stderr, "veth-blast: AF_PACKET socket: %s\n", strerror(errno));
		return 1;
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = (int)r->ifindex };
	if (bind(fd, (struct sockaddr *)&sll, sizeof sll)) {
		fprintf(stderr, "veth-blast: bind to %s: %s\n", r->ifname, strerror(errno));
		close(fd);
		return 1;
	}
	int one = 1;
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one))
		fprintf(stderr, "veth-blast: PACKET_QDISC_BYPASS: %s (sending through the qdisc)\n", strerror(errno));
	int sndbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	for (int k = 0; k < MAX_BATCH; k++) {
		msgs[k].msg_hdr.msg_iov = &iov[k];
		msgs[k].msg_hdr.msg_iovlen = 1;
	}
	int status = 0;
	r->t0 = r->t = now_s();
	while (more(r)) {
		unsigned n = batch_room(r, r->batch);
		size_t at = r->next;
		for (unsigned k = 0; k < n; k++) {
			iov[k].iov_base = r->f->data + r->f->off[at];
			iov[k].iov_len = r->f->len[at];
			if (++at == r->f->n)
				at = 0;
		}
		int got = sendmmsg(fd, msgs, n, 0);
		if (got < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
				r->retries++;
				sched_yield();
				r->t = now_s();
				continue;
			}
			fprintf(stderr, "veth-blast: sendmmsg on %s: %s\n", r->ifname, strerror(errno));
			status = 1;
			break;
		}
		account(r, (uint64_t)got);
		if ((unsigned)got < n)
			r->retries++; /* the rest go again with the next call */
		pace(r);
	}
	close(fd);
	return status;
}

/* --via xdp: the program above, BPF_PROG_TEST_RUN in live-frames mode, `batch` runs per
 * kernel batch (the veth's ring holds 256 frames), calls of about half a second */
static int blast_xdp(struct run *r)
{
	const struct frames *f = r->f;
	for (size_t k = 0; k < f->n; k++)
		if (f->len[k] > MAX_FRAME) {
			fprintf(stderr, "veth-blast: --via xdp: frame %zu has %u bytes (at most %d)\n", k + 1, f->len[k],
				MAX_FRAME);
			return 1;
		}
	uint32_t nchunks = 1, used = 0;
	struct frame_ref *refs = calloc(f->n, sizeof *refs);
	if (!refs) {
		fprintf(stderr, "veth-blast: out of memory\n");
		return 1;
	}
	for (size_t k = 0; k < f->n; k++) {
		if (used > MAX_START) {
			nchunks++;
			used = 0;
		}
		refs[k] = (struct frame_ref){ nchunks - 1, (uint16_t)used, (uint16_t)f->len[k] };
		used += f->len[k];
	}
	int status = 1, prog = -1;
	const uint32_t zero = 0;
	uint8_t *chunk = calloc(1, CHUNK);
	int state = bpf_map_create(BPF_MAP_TYPE_ARRAY, "vb_state", 4, sizeof(struct xdp_state), 1, NULL);
	int index = bpf_map_create(BPF_MAP_TYPE_ARRAY, "vb_index", 4, sizeof(struct frame_ref), (uint32_t)f->n, NULL);
	int data = bpf_map_create(BPF_MAP_TYPE_ARRAY, "vb_data", 4, CHUNK, nchunks, NULL);
	if (!chunk || state < 0 || index < 0 || data < 0) {
		fprintf(stderr, "veth-blast: BPF maps (%zu frames, %u chunks): %s\n", f->n, nchunks, strerror(errno));
		status = chunk ? 3 : 1;
		goto out;
	}
	for (uint32_t c = 0, k = 0; c < nchunks; c++) {
		memset(chunk, 0, CHUNK);
		for (; k < f->n && refs[k].chunk == c; k++)
			memcpy(chunk + refs[k].off, f->data + f->off[k], f->len[k]);
		if (bpf_map_update_elem(data, &c, chunk, BPF_ANY))
			goto map_err;
	}
	for (uint32_t k = 0; k < f->n; k++)
		if (bpf_map_update_elem(index, &k, &refs[k], BPF_ANY))
			goto map_err;
	prog = xdp_program(state, index, data, (uint32_t)f->n);
	if (prog < 0) {
		status = 3;
		goto out;
	}

	/* the frames start as the file's first; the program rewrites each one */
	struct xdp_md ctx = { .data_end = f->len[0], .ingress_ifindex = r->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->data + f->off[0], .data_size_in = f->len[0],
		    .ctx_in = &ctx, .ctx_size_in = sizeof ctx, .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		    .batch_size = r->batch);
	r->t0 = r->t = now_s();
	struct xdp_state st = {
		.start_ns = (uint64_t)(r->t0 * 1e9),
		.end_ns = (uint64_t)((r->t0 + r->seconds) * 1e9),
		.ns_per_kib = r->bytes_per_s > 0 ? (uint64_t)(1024e9 / r->bytes_per_s + 0.5) : 0,
		.limit = r->limit,
	};
	if (bpf_map_update_elem(state, &zero, &st, BPF_ANY))
		goto map_err;
	status = 0;
	uint64_t runs = 0;
	unsigned repeat = 65536;
	while (!stop) {
		o.repeat = (int)repeat;
		int rc = bpf_prog_test_run_opts(prog, &o);
		if (rc && errno != EINTR) {
			fprintf(stderr, "veth-blast: BPF_PROG_TEST_RUN (live frames) on %s: %s\n", r->ifname, strerror(errno));
			/* refused before anything went: the kernel cannot (older than 5.18) */
			status = runs ? 1 : 3;
			break;
		}
		runs += repeat;
		r->t = now_s();
		if (bpf_map_lookup_elem(state, &zero, &st))
			goto map_err;
		if (r->t >= r->t0 + r->seconds || (r->limit && st.sent >= r->limit))
			break;
		/* the next call: half a second of runs at the rate so far, or what is left */
		double left = r->t0 + r->seconds - r->t, per_s = (double)runs / (r->t - r->t0);
		double want = per_s * (left < 0.5 ? left : 0.5) + 4096;
		repeat = want > (1u << 24) ? 1u << 24 : (unsigned)want;
	}
	bpf_map_lookup_elem(state, &zero, &st);
	r->sent = st.sent;
	r->bytes = st.bytes;
	r->loops = st.sent / f->n;
	if (st.last_ns)
		r->t = (double)st.last_ns / 1e9;
	goto out;
map_err:
	fprintf(stderr, "veth-blast: BPF map: %s\n", strerror(errno));
	status = 1;
out:
	if (prog >= 0)
		close(prog);
	if (state >= 0)
		close(state);
	if (index >= 0)
		close(index);
	if (data >= 0)
		close(data);
	free(chunk);
	free(refs);
	return status;
}

static int usage(void)
{
	fprintf(stderr, "usage: veth-blast [--via xdp|packet] [--mbps M] [--seconds S] [--packets N] [--batch B] "
			"[--cpu C] IFACE FILE\n");
	return 2;
}

static int num_arg(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	double mbps = 0, seconds = 10, packets = 0, batch = 64, cpu = -1;
	const char *via = "xdp";
	int i = 1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
		const char *k = argv[i];
		if (i + 1 >= argc)
			return usage();
		const char *v = argv[i + 1];
		int bad;
		if (!strcmp(k, "--via")) {
			via = v;
			bad = strcmp(v, "xdp") && strcmp(v, "packet");
		} else if (!strcmp(k, "--mbps"))
			bad = num_arg(v, 0, 1e6, &mbps);
		else if (!strcmp(k, "--seconds"))
			bad = num_arg(v, 0.001, 86400, &seconds);
		else if (!strcmp(k, "--packets"))
			bad = num_arg(v, 0, 1e15, &packets);
		else if (!strcmp(k, "--batch"))
			bad = num_arg(v, 1, MAX_BATCH, &batch);
		else if (!strcmp(k, "--cpu"))
			bad = num_arg(v, 0, CPU_SETSIZE - 1, &cpu);
		else
			return usage();
		if (bad) {
			fprintf(stderr, "veth-blast: %s: bad value %s\n", k, v);
			return 2;
		}
	}
	if (argc - i != 2)
		return usage();
	const bool xdp = !strcmp(via, "xdp");
	if (xdp && batch > 256) {
		fprintf(stderr, "veth-blast: --via xdp: --batch is at most 256 (the kernel's test-run batch)\n");
		return 2;
	}
	const char *ifname = argv[i], *path = argv[i + 1];
	unsigned ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "veth-blast: %s: no such interface\n", ifname);
		return 1;
	}
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET((int)cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set)) {
			fprintf(stderr, "veth-blast: --cpu %d: %s\n", (int)cpu, strerror(errno));
			return 1;
		}
	}
	struct frames f = { 0 };
	if (load(path, &f))
		return 1;

	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct run r = {
		.f = &f, .ifname = ifname, .ifindex = ifindex, .batch = (unsigned)batch,
		.bytes_per_s = mbps * 1e6 / 8, .seconds = seconds, .limit = (uint64_t)packets,
	};
	int status = xdp ? blast_xdp(&r) : blast_packet(&r);
	double el = r.t - r.t0;
	if (el <= 0)
		el = 1e-9;
	printf("sent %" PRIu64 " packets %" PRIu64 " bytes in %.3f s: %.1f Mbit/s, %.0f pps, retries %" PRIu64
	       ", loops %" PRIu64 ", target %.0f Mbit/s, via %s\n",
	       r.sent, r.bytes, el, (double)r.bytes * 8 / el / 1e6, (double)r.sent / el, r.retries, r.loops, mbps, via);
	free(f.data);
	free(f.off);
	free(f.len);
	return status;
}
