/*
 * pcap-loop.c - the bare libpcap read loop the benchmark measures otsensor against.
 *
 * Opens a capture with pcap_open_offline and reads every packet with pcap_next_ex,
 * touching each packet's bytes minimally (sums caplen and the first byte), then prints
 * "packets bytes checksum" on stdout. It is the floor every capture reader pays.
 *
 * Must never: do more per packet than that, or the ratios it anchors mean nothing.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pcap-loop FILE\n");
		return 2;
	}
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(argv[1], err);
	if (!pc) {
		fprintf(stderr, "pcap-loop: %s: %s\n", argv[1], err);
		return 1;
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t packets = 0, bytes = 0, sum = 0;
	int rc;
	while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
		packets++;
		bytes += h->len;
		sum += h->caplen + (h->caplen ? data[0] : 0);
	}
	if (rc == PCAP_ERROR) {
		fprintf(stderr, "pcap-loop: %s: %s\n", argv[1], pcap_geterr(pc));
		pcap_close(pc);
		return 1;
	}
	pcap_close(pc);
	printf("%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", packets, bytes, sum);
	return 0;
}
