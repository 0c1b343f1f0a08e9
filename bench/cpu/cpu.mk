# Builds the CPU benchmark into $(BENCH_BUILD) (default build/bench-cpu), outside the source
# tree. Run from the repository root:  make -f bench/cpu/cpu.mk [-j2]
#   $(BENCH_BUILD)/guest/NAME.elf  bare-metal RISC-V program running workload NAME (and
#                                  empty.elf, which runs none: the start-up cost alone)
#   $(BENCH_BUILD)/native          the same workloads for the host: native NAME
# Both sides compile the workloads with -O2 and the same flags; floating-point contraction is
# off so that the results are bit-identical on RISC-V and x86-64.
WORKLOADS := crc32 matmul sort strhash interp nbody
BENCH_DIR := bench/cpu
BENCH_BUILD ?= build/bench-cpu
GUEST_CROSS ?= riscv64-unknown-elf-
HOST_CC ?= gcc

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
WORKLOAD_CFLAGS := -std=gnu17 -O2 -ffreestanding -fno-math-errno -ffp-contract=off $(WARN) \
	-I$(BENCH_DIR)
GUEST_ARCH := -march=rv64gc -mabi=lp64d -mcmodel=medany
GUEST_LDFLAGS := -nostdlib -nostartfiles -static -T $(BENCH_DIR)/guest/link.ld \
	-Wl,--build-id=none -Wl,--no-warn-rwx-segments

WORKLOAD_SRCS := $(BENCH_DIR)/bench.c $(WORKLOADS:%=$(BENCH_DIR)/%.c)
GUEST_OBJS := $(WORKLOAD_SRCS:$(BENCH_DIR)/%.c=$(BENCH_BUILD)/guest/%.o) \
	$(BENCH_BUILD)/guest/string.o $(BENCH_BUILD)/guest/start.o
HOST_OBJS := $(WORKLOAD_SRCS:$(BENCH_DIR)/%.c=$(BENCH_BUILD)/host/%.o) $(BENCH_BUILD)/host/host.o
GUEST_ELFS := $(addprefix $(BENCH_BUILD)/guest/,$(addsuffix .elf,empty $(WORKLOADS)))

all: $(GUEST_ELFS) $(BENCH_BUILD)/native

print-workloads:
	@echo $(WORKLOADS)

$(BENCH_BUILD)/guest/%.o: $(BENCH_DIR)/%.c $(BENCH_DIR)/bench.h $(BENCH_DIR)/cpu.mk
	@mkdir -p $(dir $@)
	$(GUEST_CROSS)gcc $(WORKLOAD_CFLAGS) $(GUEST_ARCH) -c -o $@ $<

$(BENCH_BUILD)/guest/string.o: $(BENCH_DIR)/guest/string.c $(BENCH_DIR)/cpu.mk
	@mkdir -p $(dir $@)
	$(GUEST_CROSS)gcc $(WORKLOAD_CFLAGS) $(GUEST_ARCH) -fno-builtin \
		-fno-tree-loop-distribute-patterns -c -o $@ $<

$(BENCH_BUILD)/guest/start.o: $(BENCH_DIR)/guest/start.S $(BENCH_DIR)/cpu.mk
	@mkdir -p $(dir $@)
	$(GUEST_CROSS)gcc $(GUEST_ARCH) -Wa,--fatal-warnings -c -o $@ $<

# One program per workload: only guest.c differs, naming the workload it runs.
$(BENCH_BUILD)/guest/%.elf: $(BENCH_DIR)/guest/guest.c $(GUEST_OBJS) $(BENCH_DIR)/guest/link.ld
	$(GUEST_CROSS)gcc $(WORKLOAD_CFLAGS) $(GUEST_ARCH) '-DBENCH_WORKLOAD="$*"' $(GUEST_LDFLAGS) \
		-o $@ $< $(GUEST_OBJS) -lgcc

$(BENCH_BUILD)/host/%.o: $(BENCH_DIR)/%.c $(BENCH_DIR)/bench.h $(BENCH_DIR)/cpu.mk
	@mkdir -p $(dir $@)
	$(HOST_CC) $(WORKLOAD_CFLAGS) -c -o $@ $<

$(BENCH_BUILD)/host/host.o: $(BENCH_DIR)/host.c $(BENCH_DIR)/bench.h $(BENCH_DIR)/cpu.mk
	@mkdir -p $(dir $@)
	$(HOST_CC) -std=gnu17 -O2 $(WARN) -I$(BENCH_DIR) -c -o $@ $<

$(BENCH_BUILD)/native: $(HOST_OBJS)
	$(HOST_CC) -o $@ $^

clean:
	rm -rf $(BENCH_BUILD)

.PHONY: all print-workloads clean
.SECONDARY:
