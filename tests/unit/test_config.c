/* Unit tests of command-line device option parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/config.h"

static int parse(const char *text, struct vm_drive *d, char *err)
{
	static char buf[256];
	strcpy(buf, text);
	return config_parse_drive(buf, d, err, 200);
}

static void test_drive_ok(void **state)
{
	(void)state;
	struct vm_drive d;
	char err[200];
	assert_int_equal(parse("path=/tmp/disk.img", &d, err), 0);
	assert_string_equal(d.path, "/tmp/disk.img");
	assert_false(d.readonly);
	assert_string_equal(d.id, "");
	assert_int_equal(parse("path=a.img,readonly=on,id=root", &d, err), 0);
	assert_string_equal(d.path, "a.img");
	assert_true(d.readonly);
	assert_string_equal(d.id, "root");
	assert_int_equal(parse("readonly=off,path=b", &d, err), 0);
	assert_false(d.readonly);
}

static void test_drive_bad(void **state)
{
	(void)state;
	struct vm_drive d;
	char err[200];
	const char *bad[] = {"",
			     "disk.img",
			     "path=",
			     "readonly=on",
			     "path=a,readonly=maybe",
			     "path=a,bogus=1",
			     "path=a,id=123456789012345678901"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(parse(bad[i], &d, err), -EINVAL);
		assert_non_null(strstr(err, "--drive"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_drive_ok),
	    cmocka_unit_test(test_drive_bad),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
