/* The stdio character backend: guest output to stdout, host input from stdin through a reader
 * thread and a bounded ring. On a terminal, stdin goes to raw mode and Ctrl-A starts an escape
 * (x: quit, Ctrl-A: send a Ctrl-A, h: help), in the manner of QEMU's -serial mon:stdio. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "host/chr.h"
#include "host/seccomp.h"

#define CHR_STDIO_RING    4096 /* bytes of input buffered ahead of the guest */
#define CHR_STDIO_ESCAPE  0x01 /* Ctrl-A */
#define CHR_STDIO_TIMEOUT 1000 /* ms a full stdout may hold up the writer before output drops */

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
	bool out_gone; /* stdout closed or failing: output is dropped */
	bool out_pipe; /* stdout is a pipe or socket: writes may raise SIGPIPE */

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
	if (t && atomic_exchange(&t->raw, false))
		tcsetattr(t->fd, TCSANOW, &t->saved);
}

static void chr_stdio_on_exit(int status, void *arg)
{
	(void)status;
	chr_stdio_tty_restore(arg);
}

/* Write all of buf to fd 1, waiting at most CHR_STDIO_TIMEOUT for room at a time. Returns
 * false if stdout is gone for good. Called with out_lock held, which orders the output of
 * concurrent writers. */
static bool chr_stdio_write_all(const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(STDOUT_FILENO, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = {.fd = STDOUT_FILENO, .events = POLLOUT};
			int r = poll(&p, 1, CHR_STDIO_TIMEOUT);
			if (r > 0 && !(p.revents & (POLLERR | POLLNVAL)))
				continue;
			if (r < 0 && errno == EINTR)
				continue;
			return r == 0; /* a stuck reader: drop this output, try the next */
		}
		return false;
	}
	return true;
}

static void chr_stdio_write(struct chr *c, const void *buf, size_t len)
{
	struct chr_stdio *s = (struct chr_stdio *)c;
	sigset_t pipe_set, old;

	pthread_mutex_lock(&s->out_lock);
	if (s->out_gone || !len) {
		pthread_mutex_unlock(&s->out_lock);
		return;
	}
	/* A reader that went away must not kill the VM with SIGPIPE: block it for this write
	 * on this thread and swallow the one the write raised. */
	if (s->out_pipe) {
		sigemptyset(&pipe_set);
		sigaddset(&pipe_set, SIGPIPE);
		pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	}
	bool ok = chr_stdio_write_all(buf, len);
	if (s->out_pipe) {
		if (!ok && errno == EPIPE) {
			struct timespec zero = {0, 0};
			sigtimedwait(&pipe_set, NULL, &zero);
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (!ok)
		s->out_gone = true;
	pthread_mutex_unlock(&s->out_lock);
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
	s->wake[0] = s->wake[1] = -1;
	if (fstat(STDOUT_FILENO, &st) == 0)
		s->out_pipe = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
	else
		s->out_gone = true;
	pthread_mutex_init(&s->out_lock, NULL);
	pthread_mutex_init(&s->in_lock, NULL);
	pthread_cond_init(&s->in_room, NULL);
	if (pipe2(s->wake, O_CLOEXEC) < 0) {
		rc = errno;
		goto fail;
	}
	s->tty = chr_stdio_tty_open();

	/* The reader thread takes no signals: the VMM waits for them on its own thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->reader, NULL, chr_stdio_reader, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		goto fail;
	s->reader_started = true;
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
	if (s->wake[1] >= 0) {
		close(s->wake[1]); /* the reader's poll sees POLLHUP on the other end */
		s->wake[1] = -1;
	}
	if (s->reader_started)
		pthread_join(s->reader, NULL);
	chr_stdio_tty_restore(s->tty);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	pthread_cond_destroy(&s->in_room);
	pthread_mutex_destroy(&s->in_lock);
	pthread_mutex_destroy(&s->out_lock);
	free(s);
}
