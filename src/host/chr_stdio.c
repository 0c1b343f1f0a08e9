/* The stdio character backend: guest output to stdout through a bounded ring and a writer
 * thread, host input from stdin through a reader thread and a bounded ring. On a terminal,
 * stdin goes to raw mode and Ctrl-A starts an escape (x: quit, Ctrl-A: send a Ctrl-A, h:
 * help), in the manner of QEMU's -serial mon:stdio.
 *
 * A hart writing to the console only copies into the output ring: a reader that stops
 * reading stdout (a full pipe, a terminal on hold) or goes away never stops the guest. When
 * the ring is full, output is dropped and counted, with one line on stderr; when the reader
 * has caught up, another line says how much was lost. stdout keeps its blocking mode (its
 * file description may be the terminal's, shared with stdin and the shell): only the writer
 * thread ever waits on it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "host/chr.h"
#include "host/seccomp.h"

#define CHR_STDIO_RING     4096  /* bytes of input buffered ahead of the guest */
#define CHR_STDIO_ESCAPE   0x01  /* Ctrl-A */
#define CHR_STDIO_OUT_RING 65536 /* bytes of output buffered for a slow stdout */
#define CHR_STDIO_CHUNK    4096  /* at most one pipe buffer per write, so it rarely blocks */
#define CHR_STDIO_TIMEOUT  1000  /* ms without progress after which closing drops output */

/* Plain newlines: the terminal keeps output post-processing (ONLCR) in raw mode. */
static const char chr_stdio_help[] = "\n"
				     "Ctrl-A x       quit\n"
				     "Ctrl-A Ctrl-A  send Ctrl-A\n"
				     "Ctrl-A h       this help\n";

/* The terminal's settings before raw mode. Registered with on_exit(), so it outlives the
 * backend: the exit handler may run after chr_stdio_close. */
struct chr_stdio_tty {
	int fd;
	struct termios saved;
	atomic_bool raw; /* raw mode is on and must be undone */
};

struct chr_stdio {
	struct chr chr; /* first: the struct chr * handed out points here */

	pthread_mutex_t out_lock;
	pthread_cond_t out_ready; /* signalled when output is queued, or on close */
	uint8_t out_ring[CHR_STDIO_OUT_RING];
	size_t out_head, out_count;
	bool out_gone;     /* stdout closed or failing: output is dropped */
	bool out_stop;     /* closing: the writer drains what it can and ends */
	bool out_dropping; /* the ring filled up: output is being dropped */
	bool out_warned;   /* the line about an unread stdout was printed */
	uint64_t out_lost; /* bytes dropped in this episode */
	pthread_t writer;
	bool writer_started;

	pthread_mutex_t in_lock;
	pthread_cond_t in_room; /* signalled when the guest drains the ring, or on close */
	uint8_t ring[CHR_STDIO_RING];
	size_t head, count;
	bool stop;

	int wake[2]; /* a pipe: closing tells the reader thread to end */
	pthread_t reader;
	bool reader_started;
	bool escape;               /* the last input byte was the escape */
	bool quit_sent;            /* quit is called at most once */
	struct chr_stdio_tty *tty; /* NULL when stdin is not a terminal */
};

/* Put the terminal back as it was. Only tcsetattr, which is async-signal-safe. */
static void chr_stdio_tty_restore(struct chr_stdio_tty *t)
{
	if (t && atomic_exchange(&t->raw, false)) {
		tcsetattr(t->fd, TCSANOW, &t->saved);
		seccomp_set_terminal(-1, NULL);
	}
}

static void chr_stdio_on_exit(int status, void *arg)
{
	(void)status;
	chr_stdio_tty_restore(arg);
}

static void chr_stdio_say(const char *msg)
{
	ssize_t n = write(STDERR_FILENO, msg, strlen(msg));
	(void)n;
}

/* Queue guest output; never waits for stdout. What does not fit is dropped and counted. */
static void chr_stdio_write(struct chr *c, const void *buf, size_t len)
{
	struct chr_stdio *s = (struct chr_stdio *)c;
	const uint8_t *src = buf;
	bool warn = false;

	pthread_mutex_lock(&s->out_lock);
	if (s->out_gone || !len) {
		pthread_mutex_unlock(&s->out_lock);
		return;
	}
	size_t room = CHR_STDIO_OUT_RING - s->out_count;
	size_t n = len < room ? len : room;
	size_t tail = (s->out_head + s->out_count) % CHR_STDIO_OUT_RING;
	size_t first = n < CHR_STDIO_OUT_RING - tail ? n : CHR_STDIO_OUT_RING - tail;
	memcpy(s->out_ring + tail, src, first);
	memcpy(s->out_ring, src + first, n - first);
	s->out_count += n;
	if (n < len) {
		s->out_lost += len - n;
		s->out_dropping = true;
		warn = !s->out_warned;
		s->out_warned = true;
	}
	if (n)
		pthread_cond_signal(&s->out_ready);
	pthread_mutex_unlock(&s->out_lock);
	if (warn)
		chr_stdio_say("rvisor: console output is not being read: guest output is dropped "
			      "until it is (64 KiB buffered); the guest runs on\n");
}

/* The writer thread: moves the ring to stdout, waiting on stdout itself so no hart does. On
 * close it drains the ring while stdout takes it, giving up after CHR_STDIO_TIMEOUT without
 * progress. */
static void *chr_stdio_writer(void *arg)
{
	struct chr_stdio *s = arg;
	uint8_t chunk[CHR_STDIO_CHUNK];
	seccomp_enter(SECCOMP_CONSOLE);

	for (;;) {
		pthread_mutex_lock(&s->out_lock);
		while (!s->out_count && !s->out_stop)
			pthread_cond_wait(&s->out_ready, &s->out_lock);
		if (!s->out_count) {
			pthread_mutex_unlock(&s->out_lock);
			break;
		}
		size_t len = s->out_count < CHR_STDIO_CHUNK ? s->out_count : CHR_STDIO_CHUNK;
		size_t first = CHR_STDIO_OUT_RING - s->out_head;
		if (first > len)
			first = len;
		memcpy(chunk, s->out_ring + s->out_head, first);
		memcpy(chunk + first, s->out_ring, len - first);
		bool stopping = s->out_stop;
		pthread_mutex_unlock(&s->out_lock);

		/* Closing makes wake[0] readable for good: then wait on stdout alone, bounded. */
		struct pollfd p[2] = {{.fd = STDOUT_FILENO, .events = POLLOUT},
				      {.fd = s->wake[0], .events = POLLIN}};
		int r = poll(p, stopping ? 1 : 2, stopping ? CHR_STDIO_TIMEOUT : -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			break; /* closing, and stdout took nothing for a while */
		if (r > 0 && !p[0].revents)
			continue; /* woken by close: look at the ring again */
		ssize_t n = r < 0 ? -1 : write(STDOUT_FILENO, chunk, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n <= 0) {
			/* EPIPE (SIGPIPE is blocked on this thread), EIO from a hung-up terminal.
			 */
			pthread_mutex_lock(&s->out_lock);
			s->out_gone = true;
			s->out_count = 0;
			pthread_mutex_unlock(&s->out_lock);
			chr_stdio_say("rvisor: console output is closed: the rest of the guest's "
				      "output is dropped; the guest runs on\n");
			break;
		}
		char line[160] = "";
		pthread_mutex_lock(&s->out_lock);
		s->out_head = (s->out_head + (size_t)n) % CHR_STDIO_OUT_RING;
		s->out_count -= (size_t)n;
		if (s->out_dropping && !s->out_count) {
			snprintf(line, sizeof(line),
				 "rvisor: console output is being read again; %llu bytes of guest "
				 "output were dropped\n",
				 (unsigned long long)s->out_lost);
			s->out_dropping = false;
			s->out_lost = 0;
		}
		pthread_mutex_unlock(&s->out_lock);
		if (*line)
			chr_stdio_say(line);
	}
	return NULL;
}

static size_t chr_stdio_read(struct chr *c, void *buf, size_t len)
{
	struct chr_stdio *s = (struct chr_stdio *)c;
	uint8_t *dst = buf;
	size_t n = 0;

	pthread_mutex_lock(&s->in_lock);
	while (n < len && s->count) {
		dst[n++] = s->ring[s->head];
		s->head = (s->head + 1) % CHR_STDIO_RING;
		s->count--;
	}
	if (n)
		pthread_cond_signal(&s->in_room);
	pthread_mutex_unlock(&s->in_lock);
	return n;
}

static void chr_stdio_notify(struct chr_stdio *s)
{
	/* The frontend installs notify while this thread runs (see uart16550_init). */
	void (*notify)(void *) = __atomic_load_n(&s->chr.notify, __ATOMIC_ACQUIRE);
	if (notify)
		notify(__atomic_load_n(&s->chr.notify_opaque, __ATOMIC_RELAXED));
}

/* Queue one input byte, waiting for the guest to make room: typed input is never dropped.
 * Returns false when the backend is closing. */
static bool chr_stdio_push(struct chr_stdio *s, uint8_t byte)
{
	pthread_mutex_lock(&s->in_lock);
	while (s->count == CHR_STDIO_RING && !s->stop) {
		/* Tell the frontend before sleeping, or a guest waiting for its interrupt and
		 * this thread waiting for room would wait for each other. */
		pthread_mutex_unlock(&s->in_lock);
		chr_stdio_notify(s);
		pthread_mutex_lock(&s->in_lock);
		if (s->count == CHR_STDIO_RING && !s->stop)
			pthread_cond_wait(&s->in_room, &s->in_lock);
	}
	bool ok = !s->stop;
	if (ok) {
		s->ring[(s->head + s->count) % CHR_STDIO_RING] = byte;
		s->count++;
	}
	pthread_mutex_unlock(&s->in_lock);
	return ok;
}

/* Escape handling on a terminal. Returns false when the backend is closing. */
static bool chr_stdio_input(struct chr_stdio *s, uint8_t byte)
{
	if (!s->tty)
		return chr_stdio_push(s, byte);
	if (!s->escape) {
		if (byte == CHR_STDIO_ESCAPE) {
			s->escape = true;
			return true;
		}
		return chr_stdio_push(s, byte);
	}
	s->escape = false;
	switch (byte) {
	case CHR_STDIO_ESCAPE: return chr_stdio_push(s, byte);
	case 'x':
	case 'X': {
		void (*quit)(void *) = __atomic_load_n(&s->chr.quit, __ATOMIC_ACQUIRE);
		if (!s->quit_sent && quit) {
			s->quit_sent = true;
			quit(__atomic_load_n(&s->chr.quit_opaque, __ATOMIC_RELAXED));
		}
		return true;
	}
	case 'h':
	case 'H':
	case '?': chr_stdio_write(&s->chr, chr_stdio_help, sizeof(chr_stdio_help) - 1); return true;
	default: return true; /* an unknown command is swallowed */
	}
}

static void *chr_stdio_reader(void *arg)
{
	struct chr_stdio *s = arg;
	seccomp_enter(SECCOMP_CONSOLE);
	uint8_t buf[256];

	for (;;) {
		struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
				      {.fd = s->wake[0], .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & POLLNVAL)
			break;
		if (!p[0].revents)
			continue;
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (n <= 0)
			break; /* EOF or a dead terminal: input simply ends */
		for (ssize_t i = 0; i < n; i++)
			if (!chr_stdio_input(s, buf[i]))
				return NULL;
		chr_stdio_notify(s);
	}
	return NULL;
}

/* TIOCGWINSZ on the terminal: stdout's, else stdin's. */
static int chr_stdio_size(struct chr *c, unsigned *cols, unsigned *rows)
{
	(void)c;
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0)
		return -1;
	*cols = ws.ws_col;
	*rows = ws.ws_row;
	return 0;
}

/* Raw mode on a terminal stdin; output post-processing stays on so "\n" still starts a new
 * line. Returns NULL (no escape processing) when stdin is not a terminal. */
static struct chr_stdio_tty *chr_stdio_tty_open(void)
{
	struct termios raw;
	if (!isatty(STDIN_FILENO))
		return NULL;
	struct chr_stdio_tty *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->fd = STDIN_FILENO;
	if (tcgetattr(t->fd, &t->saved) < 0 || on_exit(chr_stdio_on_exit, t) != 0) {
		free(t);
		return NULL;
	}
	raw = t->saved;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR;
	atomic_store(&t->raw, true);
	if (tcsetattr(t->fd, TCSANOW, &raw) < 0) {
		/* on_exit holds t: keep it, inert. */
		atomic_store(&t->raw, false);
		return NULL;
	}
	/* A process ended by a seccomp filter runs no exit handler: the filter's own handler
	 * puts the terminal back. */
	seccomp_set_terminal(t->fd, &t->saved);
	return t;
}

struct chr *chr_stdio_open(void)
{
	struct chr_stdio *s = calloc(1, sizeof(*s));
	struct stat st;
	sigset_t all, old;
	int rc;

	if (!s)
		return NULL;
	s->chr.write = chr_stdio_write;
	s->chr.read = chr_stdio_read;
	s->chr.size = chr_stdio_size;
	s->wake[0] = s->wake[1] = -1;
	if (fstat(STDOUT_FILENO, &st) != 0)
		s->out_gone = true;
	pthread_mutex_init(&s->out_lock, NULL);
	pthread_cond_init(&s->out_ready, NULL);
	pthread_mutex_init(&s->in_lock, NULL);
	pthread_cond_init(&s->in_room, NULL);
	if (pipe2(s->wake, O_CLOEXEC) < 0) {
		rc = errno;
		goto fail;
	}
	s->tty = chr_stdio_tty_open();

	/* The threads take no signals: the VMM waits for them on its own thread, and a write to
	 * a pipe whose reader went away fails with EPIPE instead of raising SIGPIPE. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->reader, NULL, chr_stdio_reader, s);
	s->reader_started = !rc;
	if (!rc) {
		rc = pthread_create(&s->writer, NULL, chr_stdio_writer, s);
		s->writer_started = !rc;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		goto fail;
	return &s->chr;

fail:
	chr_stdio_close(&s->chr);
	errno = rc;
	return NULL;
}

void chr_stdio_close(struct chr *c)
{
	struct chr_stdio *s = (struct chr_stdio *)c;
	if (!s)
		return;
	pthread_mutex_lock(&s->in_lock);
	s->stop = true;
	pthread_cond_broadcast(&s->in_room);
	pthread_mutex_unlock(&s->in_lock);
	pthread_mutex_lock(&s->out_lock);
	s->out_stop = true;
	pthread_cond_broadcast(&s->out_ready);
	pthread_mutex_unlock(&s->out_lock);
	if (s->wake[1] >= 0) {
		close(s->wake[1]); /* the reader's poll sees POLLHUP on the other end */
		s->wake[1] = -1;
	}
	if (s->reader_started)
		pthread_join(s->reader, NULL);
	if (s->writer_started)
		pthread_join(s->writer, NULL);
	chr_stdio_tty_restore(s->tty);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	pthread_cond_destroy(&s->in_room);
	pthread_mutex_destroy(&s->in_lock);
	pthread_cond_destroy(&s->out_ready);
	pthread_mutex_destroy(&s->out_lock);
	free(s);
}
