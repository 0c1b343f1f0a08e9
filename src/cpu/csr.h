/* CSR numbers, register bit fields and trap causes, named as in the RISC-V privileged spec 1.12
 * (chapters 2, 3 and 4) and the Sstc extension. */
#ifndef RVISOR_CPU_CSR_H
#define RVISOR_CPU_CSR_H

#include <stdbool.h>
#include <stdint.h>

/* Privilege levels (priv spec 1.2). */
enum { PRV_U = 0, PRV_S = 1, PRV_M = 3 };

/* CSR numbers (priv spec 2.2, table 2.2-2.6). */
enum {
	CSR_FFLAGS = 0x001,
	CSR_FRM = 0x002,
	CSR_FCSR = 0x003,
	CSR_CYCLE = 0xc00,
	CSR_TIME = 0xc01,
	CSR_INSTRET = 0xc02,
	CSR_HPMCOUNTER3 = 0xc03,
	CSR_HPMCOUNTER31 = 0xc1f,
	CSR_SSTATUS = 0x100,
	CSR_SIE = 0x104,
	CSR_STVEC = 0x105,
	CSR_SCOUNTEREN = 0x106,
	CSR_SENVCFG = 0x10a,
	CSR_SSCRATCH = 0x140,
	CSR_SEPC = 0x141,
	CSR_SCAUSE = 0x142,
	CSR_STVAL = 0x143,
	CSR_SIP = 0x144,
	CSR_STIMECMP = 0x14d,
	CSR_SATP = 0x180,
	CSR_MVENDORID = 0xf11,
	CSR_MARCHID = 0xf12,
	CSR_MIMPID = 0xf13,
	CSR_MHARTID = 0xf14,
	CSR_MCONFIGPTR = 0xf15,
	CSR_MSTATUS = 0x300,
	CSR_MISA = 0x301,
	CSR_MEDELEG = 0x302,
	CSR_MIDELEG = 0x303,
	CSR_MIE = 0x304,
	CSR_MTVEC = 0x305,
	CSR_MCOUNTEREN = 0x306,
	CSR_MENVCFG = 0x30a,
	CSR_MCOUNTINHIBIT = 0x320,
	CSR_MHPMEVENT3 = 0x323,
	CSR_MHPMEVENT31 = 0x33f,
	CSR_MSCRATCH = 0x340,
	CSR_MEPC = 0x341,
	CSR_MCAUSE = 0x342,
	CSR_MTVAL = 0x343,
	CSR_MIP = 0x344,
	CSR_MTINST = 0x34a,
	CSR_MTVAL2 = 0x34b,
	CSR_PMPCFG0 = 0x3a0,
	CSR_PMPCFG15 = 0x3af,
	CSR_PMPADDR0 = 0x3b0,
	CSR_PMPADDR63 = 0x3ef,
	CSR_MCYCLE = 0xb00,
	CSR_MINSTRET = 0xb02,
	CSR_MHPMCOUNTER3 = 0xb03,
	CSR_MHPMCOUNTER31 = 0xb1f,
	CSR_TSELECT = 0x7a0,
	CSR_TDATA1 = 0x7a1,
	CSR_TDATA2 = 0x7a2,
	CSR_TDATA3 = 0x7a3,
	CSR_SEED = 0x015,
};

/* mstatus / sstatus fields (priv spec 3.1.6). */
#define MSTATUS_SIE       (1ull << 1)
#define MSTATUS_MIE       (1ull << 3)
#define MSTATUS_SPIE      (1ull << 5)
#define MSTATUS_UBE       (1ull << 6)
#define MSTATUS_MPIE      (1ull << 7)
#define MSTATUS_SPP       (1ull << 8)
#define MSTATUS_VS        (3ull << 9)
#define MSTATUS_MPP       (3ull << 11)
#define MSTATUS_MPP_SHIFT 11
#define MSTATUS_FS        (3ull << 13)
#define MSTATUS_FS_SHIFT  13
#define MSTATUS_XS        (3ull << 15)
#define MSTATUS_MPRV      (1ull << 17)
#define MSTATUS_SUM       (1ull << 18)
#define MSTATUS_MXR       (1ull << 19)
#define MSTATUS_TVM       (1ull << 20)
#define MSTATUS_TW        (1ull << 21)
#define MSTATUS_TSR       (1ull << 22)
#define MSTATUS_UXL       (3ull << 32)
#define MSTATUS_SXL       (3ull << 34)
#define MSTATUS_SBE       (1ull << 36)
#define MSTATUS_MBE       (1ull << 37)
#define MSTATUS_SD        (1ull << 63)

/* FS field values (priv spec 3.1.6.6). */
#define FS_OFF     0ull
#define FS_INITIAL 1ull
#define FS_CLEAN   2ull
#define FS_DIRTY   3ull

/* Interrupt bits of mip/mie (priv spec 3.1.9). */
#define MIP_SSIP (1ull << 1)
#define MIP_MSIP (1ull << 3)
#define MIP_STIP (1ull << 5)
#define MIP_MTIP (1ull << 7)
#define MIP_SEIP (1ull << 9)
#define MIP_MEIP (1ull << 11)

/* Interrupt numbers (mcause with the interrupt bit set). */
enum {
	IRQ_S_SOFT = 1,
	IRQ_M_SOFT = 3,
	IRQ_S_TIMER = 5,
	IRQ_M_TIMER = 7,
	IRQ_S_EXT = 9,
	IRQ_M_EXT = 11,
};

/* Exception codes (priv spec 3.1.15, table 3.6). */
enum {
	CAUSE_MISALIGNED_FETCH = 0,
	CAUSE_FETCH_ACCESS = 1,
	CAUSE_ILLEGAL_INSTRUCTION = 2,
	CAUSE_BREAKPOINT = 3,
	CAUSE_MISALIGNED_LOAD = 4,
	CAUSE_LOAD_ACCESS = 5,
	CAUSE_MISALIGNED_STORE = 6,
	CAUSE_STORE_ACCESS = 7,
	CAUSE_USER_ECALL = 8,
	CAUSE_SUPERVISOR_ECALL = 9,
	CAUSE_MACHINE_ECALL = 11,
	CAUSE_FETCH_PAGE_FAULT = 12,
	CAUSE_LOAD_PAGE_FAULT = 13,
	CAUSE_STORE_PAGE_FAULT = 15,
};
#define CAUSE_INTERRUPT (1ull << 63)

/* satp (priv spec 4.1.11). */
#define SATP_MODE_SHIFT 60
#define SATP_MODE_BARE  0
#define SATP_MODE_SV39  8
#define SATP_MODE_SV48  9
#define SATP_MODE_SV57  10
#define SATP_ASID_SHIFT 44
#define SATP_ASID_MASK  0xffffull
#define SATP_PPN_MASK   ((1ull << 44) - 1)

/* menvcfg (priv spec 3.1.18, Sstc, Svpbmt). */
#define MENVCFG_FIOM  (1ull << 0)
#define MENVCFG_PBMTE (1ull << 62) /* Svpbmt: PBMT in S-mode page tables */
#define MENVCFG_STCE  (1ull << 63)
/* Zicbom and Zicboz enables, in menvcfg and senvcfg alike (priv spec 3.1.18, 4.1.10):
 * CBIE (2 bits: 00 cbo.inval illegal, 01 it flushes, 11 it invalidates; 10 reserved), CBCFE
 * (cbo.clean and cbo.flush allowed), CBZE (cbo.zero allowed), for the modes below. */
#define MENVCFG_CBIE_SHIFT 4
#define MENVCFG_CBIE       (3ull << MENVCFG_CBIE_SHIFT)
#define MENVCFG_CBCFE      (1ull << 6)
#define MENVCFG_CBZE       (1ull << 7)

/* fcsr (unprivileged spec 11.2). */
#define FFLAG_NX (1u << 0)
#define FFLAG_UF (1u << 1)
#define FFLAG_OF (1u << 2)
#define FFLAG_DZ (1u << 3)
#define FFLAG_NV (1u << 4)
enum { RM_RNE = 0, RM_RTZ = 1, RM_RDN = 2, RM_RUP = 3, RM_RMM = 4, RM_DYN = 7 };

struct hart;

/* Read CSR number csr into *val as an instruction at the hart's current privilege would.
 * Returns false if the access is illegal (caller raises an illegal-instruction exception). */
bool csr_read(struct hart *h, unsigned csr, uint64_t *val);

/* Write val to CSR csr. Returns false if the write is illegal (read-only CSR, insufficient
 * privilege, or a CSR that does not exist). WARL fields are legalised as the spec allows. */
bool csr_write(struct hart *h, unsigned csr, uint64_t val);

/* For a debugger, with the hart not running: read or write csr as M-mode would, whatever the
 * hart's privilege, counter enables or mstatus.FS (fflags, frm and fcsr are read and written
 * without marking FS dirty). Writes are legalised as csr_write does; mcycle and minstret take
 * the value as it is. Returns false for a CSR that does not exist or, on writes, is
 * read-only. */
bool csr_debug_read(struct hart *h, unsigned csr, uint64_t *val);
bool csr_debug_write(struct hart *h, unsigned csr, uint64_t val);

#endif
