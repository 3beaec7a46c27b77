/* What the send-time attribution program costs a sender: per-call latency of the socket operations its hooks run
 * on, measured from user space around each system call, on loopback only. scripts/bench-sender.sh runs it with and
 * without `dnsw leak watch` attached and prints the figures side by side.
 *
 *   sender-cost [ITERATIONS [OPERATION]]   prints one line per operation (or only OPERATION): name, median, p90, p99
 *                                          and mean in ns
 *
 * Written in C, not C#, so the figure is the kernel path a client such as dig takes, without a runtime's own
 * per-call work diluting the difference. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "sender-cost: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, uint64_t *samples, int n)
{
	uint64_t sum = 0;
	for (int i = 0; i < n; i++)
		sum += samples[i];
	qsort(samples, n, sizeof(*samples), compare);
	printf("%-22s %8llu %8llu %8llu %8llu\n", name, (unsigned long long)samples[n / 2],
	       (unsigned long long)samples[n * 90 / 100], (unsigned long long)samples[n * 99 / 100],
	       (unsigned long long)(sum / n));
}

static struct sockaddr_in bound(int fd, int type)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		die("bind");
	if (type == SOCK_STREAM && listen(fd, 128) != 0)
		die("listen");
	return a;
}

static void drain(int fd)
{
	char b[64];
	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

static const char *only;

static int wanted(const char *name)
{
	return !only || strcmp(only, name) == 0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000;
	only = argc > 2 ? argv[2] : NULL;
	int warm = n / 10;
	if (n < 100)
		n = 100;
	uint64_t *samples = malloc(sizeof(uint64_t) * (size_t)n);
	if (!samples)
		die("malloc");

	int receiver = socket(AF_INET, SOCK_DGRAM, 0);
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	if (receiver < 0 || listener < 0)
		die("socket");
	struct sockaddr_in udp_to = bound(receiver, SOCK_DGRAM);
	struct sockaddr_in tcp_to = bound(listener, SOCK_STREAM);
	char payload[40] = { 0 };

	/* sendto on an unconnected UDP socket: the sendmsg4 hook runs on every datagram (and egress on every packet). */
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	for (int i = wanted("udp_sendto") ? -warm : n; i < n; i++) {
		uint64_t t = now_ns();
		if (sendto(s, payload, sizeof(payload), 0, (struct sockaddr *)&udp_to, sizeof(udp_to)) < 0)
			die("sendto");
		uint64_t d = now_ns() - t;
		if (i >= 0)
			samples[i] = d;
		drain(receiver);
	}
	close(s);
	if (wanted("udp_sendto"))
		report("udp_sendto", samples, n);

	/* send on a connected UDP socket: no address hook, only egress (one lookup that misses). */
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (connect(s, (struct sockaddr *)&udp_to, sizeof(udp_to)) != 0)
		die("connect");
	for (int i = wanted("udp_send_connected") ? -warm : n; i < n; i++) {
		uint64_t t = now_ns();
		if (send(s, payload, sizeof(payload), 0) < 0)
			die("send");
		uint64_t d = now_ns() - t;
		if (i >= 0)
			samples[i] = d;
		drain(receiver);
	}
	close(s);
	if (wanted("udp_send_connected"))
		report("udp_send_connected", samples, n);

	/* connect of a fresh, unbound UDP socket (as dig and host do): connect4 on every call. */
	for (int i = wanted("udp_connect") ? -warm : n; i < n; i++) {
		s = socket(AF_INET, SOCK_DGRAM, 0);
		if (s < 0)
			die("socket");
		uint64_t t = now_ns();
		if (connect(s, (struct sockaddr *)&udp_to, sizeof(udp_to)) != 0)
			die("connect");
		uint64_t d = now_ns() - t;
		if (i >= 0)
			samples[i] = d;
		close(s);
	}
	if (wanted("udp_connect"))
		report("udp_connect", samples, n);

	/* connect of a fresh TCP socket (the loopback handshake included): connect4, and egress on the SYN.
	 * Closed with a reset (linger 0) so no TIME_WAIT piles up and ports do not run out. */
	int tcp_n = n / 5;
	struct linger reset = { .l_onoff = 1, .l_linger = 0 };
	for (int i = wanted("tcp_connect") ? -warm / 5 : tcp_n; i < tcp_n; i++) {
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			die("socket");
		uint64_t t = now_ns();
		if (connect(s, (struct sockaddr *)&tcp_to, sizeof(tcp_to)) != 0)
			die("connect (tcp)");
		uint64_t d = now_ns() - t;
		if (i >= 0)
			samples[i] = d;
		int a = accept(listener, NULL, NULL);
		if (a < 0)
			die("accept");
		setsockopt(s, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
		close(s);
		close(a);
	}
	if (wanted("tcp_connect"))
		report("tcp_connect", samples, tcp_n);

	close(receiver);
	close(listener);
	free(samples);
	return 0;
}
