/*
 * netutil.h - a TCP port that refuses connections, for the tests that
 * check ECONNREFUSED (check_net, stress).
 *
 * A port "just closed" is not one: bind(port 0) may hand it out again at
 * once, to the next listener of the same test (stress listens right after)
 * or of a test running beside it, and the dial that should be refused is
 * accepted. A CI run of stop 24 saw the stress run's dial return fd 21.
 * A socket bound and never put in listen() holds the port: without
 * SO_REUSEADDR no other bind, explicit or automatic, may share it, and a
 * SYN to it is answered by RST, so the dial is refused every time.
 */
#ifndef WEFT_NETUTIL_H
#define WEFT_NETUTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Bind a TCP socket on 127.0.0.1 without listening, write "127.0.0.1:PORT"
 * to @addr; return the socket (keep it open while the port must refuse) or
 * -1 with errno set.
 */
static inline int refusing_port(char *addr, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
		close(fd);
		return -1;
	}
	snprintf(addr, size, "127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	return fd;
}

#endif /* WEFT_NETUTIL_H */
