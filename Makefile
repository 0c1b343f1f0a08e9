# rvisor build. `make` builds build/rvisor; `make unit` builds and runs the C unit tests;
# `make BUILD=build-san SAN=1 unit` does the same under AddressSanitizer + UBSan.
CC ?= gcc
BUILD ?= build
OPT ?= -O2
WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CFLAGS := -std=gnu17 $(OPT) -g -D_GNU_SOURCE -pthread -Isrc $(WARN) $(EXTRA_CFLAGS)
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
LDLIBS := -lfdt -lz -lm -lslirp -lmicrohttpd -ljansson $(shell pkg-config --libs libseccomp) -pthread

# `make TEST_HOOKS=1` (use its own BUILD directory) compiles the hooks tests/integration/
# test_seccomp.py drives: a forbidden system call on a chosen thread. Normal builds have none.
ifeq ($(TEST_HOOKS),1)
HOOK_SRCS := src/host/seccomp_hook/test.c
else
HOOK_SRCS := src/host/seccomp_hook/none.c
endif

# The translator: its front end and the back end of this host's ISA, or, on a host without
# one, the interface alone (every hart interprets).
HOST_ARCH ?= $(shell uname -m)
ifeq ($(HOST_ARCH),x86_64)
JIT_SRCS := src/jit/jit.c $(wildcard src/jit/x86_64/*.c)
else
JIT_SRCS := src/jit/none/jit_none.c
endif
SRCS := $(sort $(filter-out src/jit/% src/jailer/%,$(wildcard src/*/*.c)) $(JIT_SRCS) $(HOOK_SRCS))
OBJS := $(SRCS:%.c=$(BUILD)/%.o)
MAIN := $(BUILD)/src/main.o
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)

LOCKSTEP := $(BUILD)/tests/lockstep/lockstep

# rvisor-jailer: a program of its own (src/jailer/), with no library beyond libc.
JAILER_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/jailer/*.c))

all: $(BUILD)/rvisor $(BUILD)/rvisor-jailer $(LOCKSTEP)

$(BUILD)/rvisor-jailer: $(JAILER_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/rvisor: $(OBJS) $(MAIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/unit/%: tests/unit/%.c $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $^ $(LDFLAGS) $(LDLIBS) -lcmocka

# The translator-against-interpreter check on a real guest (tests/integration/test_lockstep.py).
$(LOCKSTEP): tests/lockstep/lockstep.c $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The x86-64 encoder's test decodes what it emits with Capstone.
$(BUILD)/tests/unit/test_x86_asm: LDLIBS += -lcapstone

# The fake virtio driver that the device tests share.
VDRV := $(BUILD)/tests/unit/virtio_driver.o
$(addprefix $(BUILD)/tests/unit/test_virtio_,balloon blk console input net rng): $(VDRV)
$(BUILD)/tests/unit/test_state_virtio: $(VDRV)

unit-build: $(UNIT_BINS)

# Runs every unit test binary; each prints cmocka's summary. Fails if any fails.
unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

# Builds the fuzzers (clang, libFuzzer + ASan/UBSan) into build/fuzz/ and runs each on a copy
# of its tests/fuzz/corpus/TARGET, sharing FUZZ_SECONDS (default 30, at least 10 s a target):
# the virtqueue parser; virtio-blk, -net, -console and -rng requests driven through the
# virtio-mmio transport; the transport's registers; PCI, the API, snapshot state, the image
# loaders, migration streams; the SBI; the decoder with the interpreter and the translator
# (tests/fuzz/run.sh lists them). Prints "N passed, N failed" (targets).
fuzz:
	tests/fuzz/run.sh $(FUZZ_SECONDS)

.PHONY: fuzz

format:
	clang-format -i $$(git ls-files '*.c' '*.h' ':!tests/guest')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h' ':!tests/guest')

clean:
	rm -rf build build-san

.PHONY: all unit unit-build format format-check clean
.SECONDARY:

-include $(OBJS:.o=.d) $(MAIN:.o=.d) $(VDRV:.o=.d) $(JAILER_OBJS:.o=.d)
