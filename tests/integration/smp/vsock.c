/* A vsock client and server for the guest (AF_VSOCK, stream):
 *   vsock connect PORT TEXT   connect to the host (CID 2) on PORT, send TEXT, shut down the
 *                             sending side, print everything the host sends back until it
 *                             closes, then "vsock: done BYTES"
 *   vsock listen PORT N       accept N connections on PORT one after the other; for each,
 *                             read what arrives until the peer stops sending, and send back
 *                             "echo:" and the same bytes, then close
 * Exit status 1, with "vsock: ..." naming the call, on an error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h> /* after sys/socket.h, whose types it uses */

static int fail(const char *what)
{
	printf("vsock: %s failed: %s\n", what, strerror(errno));
	return 1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4)
		return fprintf(stderr, "usage: vsock connect PORT TEXT | listen PORT N\n"), 2;
	unsigned port = (unsigned)strtoul(argv[2], NULL, 10);
	static char buf[1 << 20];
	if (!strcmp(argv[1], "connect")) {
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		struct sockaddr_vm a = {.svm_family = AF_VSOCK, .svm_cid = 2, .svm_port = port};
		if (fd < 0)
			return fail("socket");
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
			return fail("connect");
		if (write_all(fd, argv[3], strlen(argv[3])))
			return fail("write");
		shutdown(fd, SHUT_WR);
		size_t total = 0;
		for (;;) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return fail("read");
			if (n == 0)
				break;
			fwrite(buf, 1, (size_t)n, stdout);
			total += (size_t)n;
		}
		printf("\nvsock: done %zu\n", total);
		return 0;
	}
	int l = socket(AF_VSOCK, SOCK_STREAM, 0);
	struct sockaddr_vm a = {
	    .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = port};
	if (l < 0)
		return fail("socket");
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4))
		return fail("bind/listen");
	printf("vsock: listening on %u\n", port);
	fflush(stdout);
	for (long k = strtol(argv[3], NULL, 10); k > 0; k--) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			return fail("accept");
		size_t len = 0;
		for (;;) {
			ssize_t n = read(c, buf + len, sizeof(buf) - len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			len += (size_t)n;
		}
		if (write_all(c, "echo:", 5) || write_all(c, buf, len))
			return fail("write");
		close(c);
		printf("vsock: served %zu\n", len);
		fflush(stdout);
	}
	return 0;
}
