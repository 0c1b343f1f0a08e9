/* Unit tests of the Landlock rules (host/landlock.h): --landlock-rule's PATH[:ro|:rw], the
 * directory of a path (left out when it does not exist), and, in a child process (Landlock
 * cannot be lifted), what a restricted process may still do: read beneath a :ro rule but not
 * write or create there, read and write a file named by a :rw rule, nothing elsewhere, files
 * opened before still usable; and a rule on a missing path refused. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/landlock.h"

static struct landlock_rules rules; /* large: not on the stack */

static void test_option(void **state)
{
	(void)state;
	char err[256];
	memset(&rules, 0, sizeof(rules));
	assert_int_equal(landlock_add_option(&rules, "/srv/vm:ro", err, sizeof(err)), 0);
	assert_int_equal(landlock_add_option(&rules, "/srv/vm:rw", err, sizeof(err)), 0);
	assert_int_equal(landlock_add_option(&rules, "disks", err, sizeof(err)), 0);
	assert_int_equal(landlock_add_option(&rules, "a:b:ro", err, sizeof(err)), 0);
	assert_int_equal(rules.n, 4);
	assert_string_equal(rules.rule[0].path, "/srv/vm");
	assert_int_equal(rules.rule[0].mode, LANDLOCK_RO);
	assert_string_equal(rules.rule[1].path, "/srv/vm");
	assert_int_equal(rules.rule[1].mode, LANDLOCK_RW);
	assert_string_equal(rules.rule[2].path, "disks");
	assert_int_equal(rules.rule[2].mode, LANDLOCK_RW); /* the default */
	assert_string_equal(rules.rule[3].path, "a:b");
	assert_int_equal(landlock_add_option(&rules, ":rw", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "':rw'"));
	assert_int_equal(landlock_add_option(&rules, "", err, sizeof(err)), -1);
	assert_int_equal(rules.n, 4);
	for (int i = rules.n; i < LANDLOCK_MAX_RULES; i++)
		assert_int_equal(landlock_add(&rules, "/", LANDLOCK_RO, err, sizeof(err)), 0);
	assert_int_equal(landlock_add(&rules, "/", LANDLOCK_RO, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many"));
}

static void test_dir_of(void **state)
{
	(void)state;
	char err[256];
	memset(&rules, 0, sizeof(rules));
	assert_int_equal(
	    landlock_add_dir_of(&rules, "/tmp/api.sock", LANDLOCK_RW, err, sizeof(err)), 0);
	assert_int_equal(landlock_add_dir_of(&rules, "/api.sock", LANDLOCK_RW, err, sizeof(err)),
			 0);
	assert_int_equal(landlock_add_dir_of(&rules, "api.sock", LANDLOCK_RO, err, sizeof(err)), 0);
	assert_int_equal(
	    landlock_add_dir_of(&rules, "/nonexistent-rvisor/x", LANDLOCK_RW, err, sizeof(err)), 0);
	assert_int_equal(rules.n, 3);
	assert_string_equal(rules.rule[0].path, "/tmp");
	assert_string_equal(rules.rule[1].path, "/");
	assert_string_equal(rules.rule[2].path, ".");
	assert_int_equal(rules.rule[2].mode, LANDLOCK_RO);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Exit status of the restricted child: 0 when everything went as expected, else the number
 * of the first check that did not. */
static int restricted_child(const char *dir)
{
	char ro[512], rw_file[512], outside[512], created[512], path[600], err[256];
	snprintf(ro, sizeof(ro), "%s/ro", dir);
	snprintf(rw_file, sizeof(rw_file), "%s/rw.img", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	snprintf(created, sizeof(created), "%s/ro/new", dir);
	int before = open(outside, O_RDONLY);
	memset(&rules, 0, sizeof(rules));
	if (landlock_add(&rules, ro, LANDLOCK_RO, err, sizeof(err)) ||
	    landlock_add(&rules, rw_file, LANDLOCK_RW, err, sizeof(err)) ||
	    landlock_apply(&rules, err, sizeof(err)) || !landlock_active())
		return 1;
	snprintf(path, sizeof(path), "%s/file", ro);
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 2; /* read beneath :ro */
	close(fd);
	if (open(path, O_WRONLY) >= 0 || errno != EACCES)
		return 3; /* no write beneath :ro */
	if (open(created, O_WRONLY | O_CREAT, 0600) >= 0 || errno != EACCES)
		return 4; /* no new file beneath :ro */
	if ((fd = open(rw_file, O_RDWR)) < 0)
		return 5; /* a :rw file */
	close(fd);
	if (open(outside, O_RDONLY) >= 0 || errno != EACCES)
		return 6; /* nothing elsewhere */
	char c;
	if (before < 0 || read(before, &c, 1) != 1)
		return 7; /* what was open stays usable */
	if (strcmp(landlock_hint(EACCES), "") == 0 || strcmp(landlock_hint(ENOENT), ""))
		return 8;
	return 0;
}

static void test_restricted_process(void **state)
{
	(void)state;
	if (!landlock_abi())
		skip(); /* this kernel has no Landlock */
	char dir[] = "/tmp/rvisor-landlock-XXXXXX", path[600];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/ro", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/ro/file", dir);
	write_file(path, "r");
	snprintf(path, sizeof(path), "%s/rw.img", dir);
	write_file(path, "w");
	snprintf(path, sizeof(path), "%s/outside", dir);
	write_file(path, "o");
	assert_false(landlock_active());

	pid_t pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		_exit(restricted_child(dir));
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* A rule on a missing path is refused, naming it. */
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		char err[256];
		memset(&rules, 0, sizeof(rules));
		landlock_add(&rules, "/nonexistent-rvisor", LANDLOCK_RO, err, sizeof(err));
		_exit(landlock_apply(&rules, err, sizeof(err)) == -1 &&
			      strstr(err, "/nonexistent-rvisor: No such file")
			  ? 0
			  : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	const char *names[] = {"ro/file", "ro", "rw.img", "outside"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		assert_int_equal(i == 1 ? rmdir(path) : unlink(path), 0);
	}
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_option),
	    cmocka_unit_test(test_dir_of),
	    cmocka_unit_test(test_restricted_process),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
