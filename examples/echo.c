/*
 * echo.c - the README's second example: an echo server, a task per
 * connection, blocking-style reads and writes on the netpoller.
 *
 *   echo [ADDR]   listen on ADDR (default 127.0.0.1:7007; port 0 picks
 *                 one), print "listening on ADDR" with the address it got,
 *                 and echo every connection until the peer closes it
 *
 * tests/echo-smoke.sh runs it on port 0, reads the address it printed and
 * checks the echo. The README shows the lines between the markers.
 */
/* README begin */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <weft.h>

static void serve(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char buf[4096];
	ssize_t n;

	while ((n = weft_read(fd, buf, sizeof(buf), -1)) > 0 &&
	       weft_write(fd, buf, (size_t)n, -1) == n)
		;
	weft_close(fd);
}

static void main_task(void *arg)
{
	char addr[128];
	int fd, lfd = weft_net_listen(arg, 0);

	if (lfd < 0) {
		fprintf(stderr, "echo: %s: %s\n", (char *)arg, weft_strerror(lfd));
		exit(1);
	}
	weft_net_addr(lfd, addr, sizeof(addr));
	printf("listening on %s\n", addr);
	fflush(stdout);
	while ((fd = weft_net_accept(lfd, -1)) >= 0)
		weft_go(serve, (void *)(intptr_t)fd);
}

int main(int argc, char **argv)
{
	const char *addr = argc > 1 ? argv[1] : "127.0.0.1:7007";

	return weft_main(main_task, (void *)addr) == 0 ? 0 : 1;
}
/* README end */
