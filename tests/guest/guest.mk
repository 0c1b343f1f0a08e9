# Builds the bare-metal guest tests into $(GUEST_BUILD) (default build/guest), outside the source
# tree. Run from the repository root:  make -f tests/guest/guest.mk [-j2]
# Each tests/guest/NAME.S (other than common.S) becomes $(GUEST_BUILD)/NAME.elf, linked with
# common.S, plus NAME.dump, its disassembly. rvc.S is assembled for rv64gc (compressed
# instructions); the others for rv64g, so every instruction in them is 4 bytes.
GUEST_CROSS ?= riscv64-unknown-elf-
GUEST_CC := $(GUEST_CROSS)gcc
GUEST_OBJDUMP := $(GUEST_CROSS)objdump
GUEST_BUILD ?= build/guest
GUEST_DIR := tests/guest

GUEST_SRCS := $(filter-out $(GUEST_DIR)/common.S,$(sort $(wildcard $(GUEST_DIR)/*.S)))
GUEST_NAMES := $(GUEST_SRCS:$(GUEST_DIR)/%.S=%)
GUEST_ELFS := $(GUEST_NAMES:%=$(GUEST_BUILD)/%.elf)

# rva23*.S use the extensions binutils 2.40 knows (the others are written as .insn/.2byte).
GUEST_RVA23 := rv64g_zba_zbb_zbs_zicbom_zicboz_zicbop_zawrs_zihintpause_zfhmin
GUEST_MARCH = $(if $(filter rvc,$*),rv64gc,$(if $(filter rva23%,$*),$(GUEST_RVA23),rv64g))
GUEST_CFLAGS = -march=$(GUEST_MARCH) -mabi=lp64d -mcmodel=medany -nostdlib -nostartfiles \
	-ffreestanding -static -I$(GUEST_DIR) -Wa,--fatal-warnings \
	-T $(GUEST_DIR)/link.ld -Wl,--no-relax -Wl,--build-id=none

guest-tests: $(GUEST_ELFS) $(GUEST_ELFS:.elf=.dump)

$(GUEST_BUILD)/%.elf: $(GUEST_DIR)/%.S $(GUEST_DIR)/common.S $(GUEST_DIR)/common.h \
		$(GUEST_DIR)/link.ld $(GUEST_DIR)/guest.mk
	@mkdir -p $(GUEST_BUILD)
	$(GUEST_CC) $(GUEST_CFLAGS) -o $@ $(GUEST_DIR)/$*.S $(GUEST_DIR)/common.S

$(GUEST_BUILD)/%.dump: $(GUEST_BUILD)/%.elf
	$(GUEST_OBJDUMP) -d $< > $@

guest-clean:
	rm -rf $(GUEST_BUILD)

.PHONY: guest-tests guest-clean
