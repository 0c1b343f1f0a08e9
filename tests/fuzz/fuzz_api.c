/* libFuzzer target for the control plane's request parser and handlers (src/vmm/api.c,
 * Firecracker's API): a sequence of requests, as the HTTP layer hands them over, against one
 * control plane before the start (api_new: InstanceStart is answered, never carried out).
 *
 * Input: up to 32 records, each
 *   u8  method (modulo 4: GET, PUT, PATCH, or DELETE, which no path takes)
 *   u8  length of the path, then the path's bytes (cut at a NUL)
 *   u16 length of the body (little-endian), then the body's bytes
 * PUT /metrics and PUT /logger are skipped: they create the file they name.
 *
 * Checks after every request (abort() when broken): the status is 200, 204 or 400; a 400
 * carries a JSON object with a string fault_message and nothing else; a 200 carries a JSON
 * object; a 204 carries no body. Then the instance still answers GET / with "Not started", and
 * GET /vm/config with the configuration: at most VM_MAX_DRIVES drives, one of them at most a
 * root device, at most VM_MAX_NETS network interfaces, vcpu_count within 1 and
 * VM_MAX_HARTS. LeakSanitizer reports what a request leaks. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/api.h"
#include "vmm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQUESTS 32

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "invariant broken: %s\n", what);
		abort();
	}
}

/* Serve a request and check its response's shape; returns the parsed body (or NULL). */
static json_t *request(struct api *a, const char *method, const char *url, const char *body,
		       size_t len, unsigned *status)
{
	char *reply = NULL;
	*status = api_request(a, method, url, body, len, &reply);
	check(*status == 200 || *status == 204 || *status == 400, "status is 200, 204 or 400");
	json_t *o = NULL;
	if (*status == 204) {
		check(!reply, "a 204 has no body");
	} else {
		check(reply != NULL, "a 200 or 400 has a body");
		o = json_loads(reply, 0, NULL);
		check(json_is_object(o), "the body is a JSON object");
		if (*status == 400)
			check(json_object_size(o) == 1 &&
				  json_is_string(json_object_get(o, "fault_message")),
			      "an error body is {\"fault_message\": string}");
	}
	free(reply);
	return o;
}

static void check_state(struct api *a)
{
	unsigned status;
	json_t *o = request(a, "GET", "/", NULL, 0, &status);
	check(status == 200, "GET / answers");
	const char *state = json_string_value(json_object_get(o, "state"));
	check(state && !strcmp(state, "Not started"), "the instance has not started");
	json_decref(o);

	o = request(a, "GET", "/vm/config", NULL, 0, &status);
	check(status == 200, "GET /vm/config answers");
	json_t *drives = json_object_get(o, "drives");
	check(json_is_array(drives) && json_array_size(drives) <= VM_MAX_DRIVES,
	      "at most VM_MAX_DRIVES drives");
	unsigned roots = 0;
	for (size_t i = 0; i < json_array_size(drives); i++)
		roots += json_is_true(json_object_get(json_array_get(drives, i), "is_root_device"));
	check(roots <= 1, "at most one root device");
	json_t *nets = json_object_get(o, "network-interfaces");
	check(json_is_array(nets) && json_array_size(nets) <= VM_MAX_NETS,
	      "at most VM_MAX_NETS network interfaces");
	json_int_t vcpus =
	    json_integer_value(json_object_get(json_object_get(o, "machine-config"), "vcpu_count"));
	check(vcpus >= 1 && vcpus <= VM_MAX_HARTS, "vcpu_count within 1 and VM_MAX_HARTS");
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "PUT", "PATCH", "DELETE"};
	struct api *a = api_new();
	if (!a)
		return 0;
	size_t pos = 0;
	for (unsigned n = 0; n < MAX_REQUESTS && pos + 4 <= size; n++) {
		const char *method = methods[data[pos++] % 4];
		size_t url_len = data[pos++];
		if (url_len > size - pos)
			break;
		char url[256];
		memcpy(url, data + pos, url_len);
		url[url_len] = 0;
		pos += url_len;
		if (size - pos < 2)
			break;
		size_t body_len = data[pos] | (size_t)data[pos + 1] << 8;
		pos += 2;
		if (body_len > size - pos)
			body_len = size - pos;
		/* The body as the HTTP layer keeps it: its own heap block, so ASan sees overreads.
		 */
		char *body = malloc(body_len + 1);
		if (!body)
			break;
		memcpy(body, data + pos, body_len);
		body[body_len] = 0;
		pos += body_len;
		if (!strcmp(url, "/metrics") || !strcmp(url, "/logger")) {
			free(body);
			continue;
		}
		unsigned status;
		json_decref(request(a, method, url, body, body_len, &status));
		free(body);
		check_state(a);
	}
	api_free(a);
	return 0;
}
