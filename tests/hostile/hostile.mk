# Builds the hostile-guest cases into $(HOSTILE_BUILD) (default build/hostile), outside the
# source tree. Run from the repository root:  make -f tests/hostile/hostile.mk [-j2]
# Each tests/hostile/NAME.c other than lib.c becomes $(HOSTILE_BUILD)/NAME.elf, linked with
# the run-time (start.S, lib.c). Cases named sbi_* run in S-mode on rvisor's SBI (linked at
# RAM + 2 MiB, HOSTILE_SMODE); the others in M-mode from 0x80000000.
HOSTILE_CROSS ?= riscv64-unknown-elf-
HOSTILE_CC := $(HOSTILE_CROSS)gcc
HOSTILE_BUILD ?= build/hostile
HOSTILE_DIR := tests/hostile

HOSTILE_SRCS := $(filter-out $(HOSTILE_DIR)/lib.c,$(sort $(wildcard $(HOSTILE_DIR)/*.c)))
HOSTILE_NAMES := $(HOSTILE_SRCS:$(HOSTILE_DIR)/%.c=%)
HOSTILE_ELFS := $(HOSTILE_NAMES:%=$(HOSTILE_BUILD)/%.elf)

HOSTILE_MODE = $(if $(filter sbi_%,$*),-DHOSTILE_SMODE -Wl$(comma)--defsym=__base=0x80200000,\
	-Wl$(comma)--defsym=__base=0x80000000)
comma := ,
HOSTILE_CFLAGS = -march=rv64gc -mabi=lp64d -mcmodel=medany -O2 -g -nostdlib -nostartfiles \
	-ffreestanding -fno-builtin -static -Wall -Wextra -Werror -I$(HOSTILE_DIR) \
	-T $(HOSTILE_DIR)/link.ld -Wl,--build-id=none -DCASE_NAME='"$*"'

hostile-cases: $(HOSTILE_ELFS)

$(HOSTILE_BUILD)/%.elf: $(HOSTILE_DIR)/%.c $(HOSTILE_DIR)/lib.c $(HOSTILE_DIR)/start.S \
		$(HOSTILE_DIR)/hostile.h $(HOSTILE_DIR)/link.ld $(HOSTILE_DIR)/hostile.mk
	@mkdir -p $(HOSTILE_BUILD)
	$(HOSTILE_CC) $(HOSTILE_CFLAGS) $(HOSTILE_MODE) -o $@ $(HOSTILE_DIR)/start.S \
		$(HOSTILE_DIR)/lib.c $<

hostile-clean:
	rm -rf $(HOSTILE_BUILD)

.PHONY: hostile-cases hostile-clean
