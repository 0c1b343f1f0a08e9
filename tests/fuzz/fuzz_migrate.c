/* libFuzzer target for the receiving side of a live migration (src/vmm/migrate.c,
 * vm_migrate_read): the input is what a source sends, fed through a Unix socket pair by a
 * writer thread; the reader must take it or refuse it with a sentence, never read or write
 * outside the RAM it made, never hang (the writer closes its end, so a cut stream ends), and
 * hand over a state only of the length announced.
 *
 * The input is the raw stream (migrate.h): a header and records. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                                 \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "fuzz_migrate: invariant broken: " __VA_ARGS__); \
			fputc('\n', stderr);                                             \
			abort();                                                         \
		}                                                                        \
	} while (0)

struct feed {
	int fd;
	const uint8_t *data;
	size_t size;
};

static void *writer(void *arg)
{
	struct feed *f = arg;
	size_t done = 0;
	while (done < f->size) {
		ssize_t n = send(f->fd, f->data + done, f->size - done, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* the reader refused and closed */
		done += (size_t)n;
	}
	shutdown(f->fd, SHUT_WR);
	/* Swallow the answer, if any, so the reader never blocks on it. */
	char sink[256];
	while (recv(f->fd, sink, sizeof(sink), 0) > 0)
		;
	close(f->fd);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	struct feed f = {sv[1], data, size};
	pthread_t t;
	if (pthread_create(&t, NULL, writer, &f))
		abort();
	struct migrate_in in;
	char err[512] = "";
	int rc = vm_migrate_read(sv[0], "the fuzzer", &in, err, sizeof(err));
	if (rc) {
		CHECK(rc < 0 && err[0], "refused with %d and no sentence", rc);
	} else {
		struct stat st;
		CHECK(in.state && in.state_len > 0 && in.state_len <= size, "a state of %zu bytes",
		      in.state_len);
		CHECK(in.mem_fd >= 0 && !fstat(in.mem_fd, &st) &&
			  (uint64_t)st.st_size == in.mem_size,
		      "RAM of %llu bytes", (unsigned long long)in.mem_size);
		/* What the source answers is not tested here: the reader says no. */
		vm_migrate_answer(&in, false, "fuzzing");
	}
	vm_migrate_in_free(&in); /* closes sv[0] */
	pthread_join(t, NULL);
	return 0;
}
