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
	assert_true(d.lock); /* images are locked unless lock=off */
	assert_string_equal(d.id, "");
	assert_int_equal(parse("path=a.img,readonly=on,id=root", &d, err), 0);
	assert_string_equal(d.path, "a.img");
	assert_true(d.readonly);
	assert_string_equal(d.id, "root");
	assert_int_equal(parse("readonly=off,path=b", &d, err), 0);
	assert_false(d.readonly);
	assert_int_equal(parse("path=c,lock=off", &d, err), 0);
	assert_false(d.lock);
	assert_int_equal(parse("path=c,lock=on", &d, err), 0);
	assert_true(d.lock);
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
			     "path=a,lock=sometimes",
			     "path=a,bogus=1",
			     "path=a,id=123456789012345678901"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(parse(bad[i], &d, err), -EINVAL);
		assert_non_null(strstr(err, "--drive"));
	}
}

static int parse_fs(const char *text, struct vm_fs *f, char *err)
{
	static char buf[256];
	strcpy(buf, text);
	return config_parse_fs(buf, f, err, 200);
}

static void test_fs(void **state)
{
	(void)state;
	struct vm_fs f;
	char err[200];
	assert_int_equal(parse_fs("tag=share,socket=/run/vfs.sock", &f, err), 0);
	assert_string_equal(f.tag, "share");
	assert_string_equal(f.socket, "/run/vfs.sock");
	assert_int_equal(f.transport, VM_TRANSPORT_PCI); /* the stock kernel's built-in bus */
	assert_int_equal(parse_fs("socket=s,tag=t,transport=mmio", &f, err), 0);
	assert_int_equal(f.transport, VM_TRANSPORT_MMIO);
	const char *bad[] = {"",
			     "tag=t",
			     "socket=s",
			     "tag=,socket=s",
			     "tag=t,socket=s,x=1",
			     "tag=t,socket=s,transport=isa",
			     "tag=0123456789012345678901234567890123456,socket=s"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(parse_fs(bad[i], &f, err), -EINVAL);
		assert_non_null(strstr(err, "--fs"));
	}
}

static int parse_net(const char *text, struct vm_net *n, char *err)
{
	static char buf[256];
	strcpy(buf, text);
	return config_parse_net(buf, n, err, 200);
}

static void test_net_ok(void **state)
{
	(void)state;
	struct vm_net n;
	char err[200];
	assert_int_equal(parse_net("user", &n, err), 0);
	assert_int_equal(n.type, VM_NET_USER);
	assert_false(n.has_mac);
	assert_int_equal(n.slirp.nhostfwd, 0);
	assert_int_equal(
	    parse_net("user,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp::5353-:53,restrict=on", &n,
		      err),
	    0);
	assert_int_equal(n.slirp.nhostfwd, 2);
	assert_int_equal(n.slirp.hostfwd[0].host_port, 2222);
	assert_int_equal(n.slirp.hostfwd[0].guest_port, 22);
	assert_true(n.slirp.hostfwd[1].udp);
	assert_true(n.slirp.restricted);
	assert_int_equal(parse_net("tap=tap0,mac=52:54:00:12:34:56", &n, err), 0);
	assert_int_equal(n.type, VM_NET_TAP);
	assert_string_equal(n.tap, "tap0");
	assert_true(n.has_mac);
	assert_int_equal(n.mac[5], 0x56);
}

static void test_net_bad(void **state)
{
	(void)state;
	struct vm_net n;
	char err[200];
	const char *bad[] = {"",
			     "bridge",
			     "user=1",
			     "tap",
			     "tap=",
			     "tap=averyveryverylongname",
			     "user,mac=01:00:5e:00:00:01",
			     "user,mac=zz",
			     "user,hostfwd=tcp:127.0.0.1:70000-:22",
			     "user,restrict=maybe",
			     "user,bogus=1",
			     "tap=t0,hostfwd=tcp::1-:2"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(parse_net(bad[i], &n, err), -EINVAL);
		assert_true(err[0] != 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_drive_ok), cmocka_unit_test(test_drive_bad),
	    cmocka_unit_test(test_fs),       cmocka_unit_test(test_net_ok),
	    cmocka_unit_test(test_net_bad),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
