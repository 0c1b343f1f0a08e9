/* Interpreter handlers for RV64I, M, A, Zicsr, Zifencei and the privileged instructions
 * (unprivileged spec chapters 2, 5, 7, 8, 9; priv spec 3.3), and the table binding decoded ops
 * to handlers. F and D live in fpu.c. */
#include <string.h>

#include "cpu/exec.h"
#include "cpu/mmu.h"

#define RD            (h->x[in->rd])
#define RS1           (h->x[in->rs1])
#define RS2           (h->x[in->rs2])
#define IMM           ((int64_t)in->imm)
#define SEXT32(v)     ((uint64_t)(int64_t)(int32_t)(v))
#define HANDLER(name) void exec_##name(struct hart *h, const struct insn *in)

void exec_illegal(struct hart *h)
{
	hart_trap(h, CAUSE_ILLEGAL_INSTRUCTION, 0);
}

HANDLER(ILLEGAL)
{
	hart_trap(h, CAUSE_ILLEGAL_INSTRUCTION, (uint32_t)in->imm);
}

/* ---- RV64I: upper immediates, jumps, branches ---- */
HANDLER(LUI)
{
	RD = (uint64_t)IMM;
}
HANDLER(AUIPC)
{
	RD = h->pc + (uint64_t)IMM;
}
HANDLER(JAL)
{
	RD = h->pc + in->len;
	h->pc_next = h->pc + (uint64_t)IMM;
}
HANDLER(JALR)
{
	uint64_t t = (RS1 + (uint64_t)IMM) & ~1ull;
	RD = h->pc + in->len;
	h->pc_next = t;
}
#define BRANCH(name, cond)                                  \
	HANDLER(name)                                       \
	{                                                   \
		if (cond)                                   \
			h->pc_next = h->pc + (uint64_t)IMM; \
	}
BRANCH(BEQ, RS1 == RS2)
BRANCH(BNE, RS1 != RS2)
BRANCH(BLT, (int64_t)RS1 < (int64_t)RS2)
BRANCH(BGE, (int64_t)RS1 >= (int64_t)RS2)
BRANCH(BLTU, RS1 < RS2)
BRANCH(BGEU, RS1 >= RS2)

/* ---- loads and stores ---- */
#define LOAD(name, size, ext)                                   \
	HANDLER(name)                                           \
	{                                                       \
		uint64_t v;                                     \
		if (mmu_load(h, RS1 + (uint64_t)IMM, size, &v)) \
			RD = ext;                               \
	}
LOAD(LB, 1, (uint64_t)(int64_t)(int8_t)v)
LOAD(LH, 2, (uint64_t)(int64_t)(int16_t)v)
LOAD(LW, 4, SEXT32(v))
LOAD(LD, 8, v)
LOAD(LBU, 1, v)
LOAD(LHU, 2, v)
LOAD(LWU, 4, v)
#define STORE(name, size)                                     \
	HANDLER(name)                                         \
	{                                                     \
		mmu_store(h, RS1 + (uint64_t)IMM, size, RS2); \
	}
STORE(SB, 1)
STORE(SH, 2)
STORE(SW, 4)
STORE(SD, 8)

/* ---- integer computation ---- */
HANDLER(ADDI)
{
	RD = RS1 + (uint64_t)IMM;
}
HANDLER(SLTI)
{
	RD = (int64_t)RS1 < IMM;
}
HANDLER(SLTIU)
{
	RD = RS1 < (uint64_t)IMM;
}
HANDLER(XORI)
{
	RD = RS1 ^ (uint64_t)IMM;
}
HANDLER(ORI)
{
	RD = RS1 | (uint64_t)IMM;
}
HANDLER(ANDI)
{
	RD = RS1 & (uint64_t)IMM;
}
HANDLER(SLLI)
{
	RD = RS1 << (IMM & 63);
}
HANDLER(SRLI)
{
	RD = RS1 >> (IMM & 63);
}
HANDLER(SRAI)
{
	RD = (uint64_t)((int64_t)RS1 >> (IMM & 63));
}
HANDLER(ADD)
{
	RD = RS1 + RS2;
}
HANDLER(SUB)
{
	RD = RS1 - RS2;
}
HANDLER(SLL)
{
	RD = RS1 << (RS2 & 63);
}
HANDLER(SLT)
{
	RD = (int64_t)RS1 < (int64_t)RS2;
}
HANDLER(SLTU)
{
	RD = RS1 < RS2;
}
HANDLER(XOR)
{
	RD = RS1 ^ RS2;
}
HANDLER(SRL)
{
	RD = RS1 >> (RS2 & 63);
}
HANDLER(SRA)
{
	RD = (uint64_t)((int64_t)RS1 >> (RS2 & 63));
}
HANDLER(OR)
{
	RD = RS1 | RS2;
}
HANDLER(AND)
{
	RD = RS1 & RS2;
}
HANDLER(ADDIW)
{
	RD = SEXT32(RS1 + (uint64_t)IMM);
}
HANDLER(SLLIW)
{
	RD = SEXT32((uint32_t)RS1 << (IMM & 31));
}
HANDLER(SRLIW)
{
	RD = SEXT32((uint32_t)RS1 >> (IMM & 31));
}
HANDLER(SRAIW)
{
	RD = SEXT32((int32_t)RS1 >> (IMM & 31));
}
HANDLER(ADDW)
{
	RD = SEXT32(RS1 + RS2);
}
HANDLER(SUBW)
{
	RD = SEXT32(RS1 - RS2);
}
HANDLER(SLLW)
{
	RD = SEXT32((uint32_t)RS1 << (RS2 & 31));
}
HANDLER(SRLW)
{
	RD = SEXT32((uint32_t)RS1 >> (RS2 & 31));
}
HANDLER(SRAW)
{
	RD = SEXT32((int32_t)RS1 >> (RS2 & 31));
}

/* ---- M ---- */
HANDLER(MUL)
{
	RD = RS1 * RS2;
}
HANDLER(MULH)
{
	RD = (uint64_t)(((__int128)(int64_t)RS1 * (__int128)(int64_t)RS2) >> 64);
}
HANDLER(MULHSU)
{
	RD = (uint64_t)(((__int128)(int64_t)RS1 * (__int128)(unsigned __int128)RS2) >> 64);
}
HANDLER(MULHU)
{
	RD = (uint64_t)(((unsigned __int128)RS1 * RS2) >> 64);
}
HANDLER(DIV)
{
	int64_t a = (int64_t)RS1, b = (int64_t)RS2;
	RD = b == 0 ? ~0ull : (a == INT64_MIN && b == -1) ? (uint64_t)a : (uint64_t)(a / b);
}
HANDLER(DIVU)
{
	RD = RS2 == 0 ? ~0ull : RS1 / RS2;
}
HANDLER(REM)
{
	int64_t a = (int64_t)RS1, b = (int64_t)RS2;
	RD = b == 0 ? (uint64_t)a : (a == INT64_MIN && b == -1) ? 0 : (uint64_t)(a % b);
}
HANDLER(REMU)
{
	RD = RS2 == 0 ? RS1 : RS1 % RS2;
}
HANDLER(MULW)
{
	RD = SEXT32(RS1 * RS2);
}
HANDLER(DIVW)
{
	int32_t a = (int32_t)RS1, b = (int32_t)RS2;
	RD = b == 0 ? ~0ull : (a == INT32_MIN && b == -1) ? SEXT32(a) : SEXT32(a / b);
}
HANDLER(DIVUW)
{
	uint32_t a = (uint32_t)RS1, b = (uint32_t)RS2;
	RD = b == 0 ? ~0ull : SEXT32(a / b);
}
HANDLER(REMW)
{
	int32_t a = (int32_t)RS1, b = (int32_t)RS2;
	RD = b == 0 ? SEXT32(a) : (a == INT32_MIN && b == -1) ? 0 : SEXT32(a % b);
}
HANDLER(REMUW)
{
	uint32_t a = (uint32_t)RS1, b = (uint32_t)RS2;
	RD = b == 0 ? SEXT32(a) : SEXT32(a % b);
}

/* ---- A: LR/SC and AMOs on host atomics (sequentially consistent, which is at least as
 * strong as any aq/rl combination under RVWMO) ---- */
HANDLER(LR_W)
{
	uint64_t gpa;
	uint32_t *p = mmu_amo_ptr(h, RS1, 4, true, &gpa);
	if (!p)
		return;
	uint32_t v = __atomic_load_n(p, __ATOMIC_SEQ_CST);
	h->reservation = gpa;
	h->reservation_val = v;
	RD = SEXT32(v);
}
HANDLER(LR_D)
{
	uint64_t gpa;
	uint64_t *p = mmu_amo_ptr(h, RS1, 8, true, &gpa);
	if (!p)
		return;
	uint64_t v = __atomic_load_n(p, __ATOMIC_SEQ_CST);
	h->reservation = gpa;
	h->reservation_val = v;
	RD = v;
}
HANDLER(SC_W)
{
	uint64_t gpa;
	uint32_t *p = mmu_amo_ptr(h, RS1, 4, false, &gpa);
	if (!p)
		return;
	uint32_t expect = (uint32_t)h->reservation_val;
	bool ok = h->reservation == gpa &&
		  __atomic_compare_exchange_n(p, &expect, (uint32_t)RS2, false, __ATOMIC_SEQ_CST,
					      __ATOMIC_SEQ_CST);
	h->reservation = ~0ull;
	RD = !ok;
}
HANDLER(SC_D)
{
	uint64_t gpa;
	uint64_t *p = mmu_amo_ptr(h, RS1, 8, false, &gpa);
	if (!p)
		return;
	uint64_t expect = h->reservation_val;
	bool ok =
	    h->reservation == gpa &&
	    __atomic_compare_exchange_n(p, &expect, RS2, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	h->reservation = ~0ull;
	RD = !ok;
}

#define AMO_FETCH(name, type, fn, ext)                                    \
	HANDLER(name)                                                     \
	{                                                                 \
		uint64_t gpa;                                             \
		type *p = mmu_amo_ptr(h, RS1, sizeof(type), false, &gpa); \
		if (!p)                                                   \
			return;                                           \
		type old = fn(p, (type)RS2, __ATOMIC_SEQ_CST);            \
		RD = ext(old);                                            \
	}
#define EXT_W(v) SEXT32(v)
#define EXT_D(v) ((uint64_t)(v))
AMO_FETCH(AMOSWAP_W, uint32_t, __atomic_exchange_n, EXT_W)
AMO_FETCH(AMOADD_W, uint32_t, __atomic_fetch_add, EXT_W)
AMO_FETCH(AMOXOR_W, uint32_t, __atomic_fetch_xor, EXT_W)
AMO_FETCH(AMOAND_W, uint32_t, __atomic_fetch_and, EXT_W)
AMO_FETCH(AMOOR_W, uint32_t, __atomic_fetch_or, EXT_W)
AMO_FETCH(AMOSWAP_D, uint64_t, __atomic_exchange_n, EXT_D)
AMO_FETCH(AMOADD_D, uint64_t, __atomic_fetch_add, EXT_D)
AMO_FETCH(AMOXOR_D, uint64_t, __atomic_fetch_xor, EXT_D)
AMO_FETCH(AMOAND_D, uint64_t, __atomic_fetch_and, EXT_D)
AMO_FETCH(AMOOR_D, uint64_t, __atomic_fetch_or, EXT_D)

/* min/max: a compare-and-swap loop. cmp(type) is the comparison type (signed/unsigned). */
#define AMO_MINMAX(name, type, cmp, take_new, ext)                                          \
	HANDLER(name)                                                                       \
	{                                                                                   \
		uint64_t gpa;                                                               \
		type *p = mmu_amo_ptr(h, RS1, sizeof(type), false, &gpa);                   \
		if (!p)                                                                     \
			return;                                                             \
		type src = (type)RS2, old = __atomic_load_n(p, __ATOMIC_SEQ_CST), nv;       \
		do {                                                                        \
			nv = ((cmp)src take_new(cmp) old) ? src : old;                      \
		} while (!__atomic_compare_exchange_n(p, &old, nv, false, __ATOMIC_SEQ_CST, \
						      __ATOMIC_SEQ_CST));                   \
		RD = ext(old);                                                              \
	}
AMO_MINMAX(AMOMIN_W, uint32_t, int32_t, <, EXT_W)
AMO_MINMAX(AMOMAX_W, uint32_t, int32_t, >, EXT_W)
AMO_MINMAX(AMOMINU_W, uint32_t, uint32_t, <, EXT_W)
AMO_MINMAX(AMOMAXU_W, uint32_t, uint32_t, >, EXT_W)
AMO_MINMAX(AMOMIN_D, uint64_t, int64_t, <, EXT_D)
AMO_MINMAX(AMOMAX_D, uint64_t, int64_t, >, EXT_D)
AMO_MINMAX(AMOMINU_D, uint64_t, uint64_t, <, EXT_D)
AMO_MINMAX(AMOMAXU_D, uint64_t, uint64_t, >, EXT_D)

/* ---- fences, environment calls ---- */
HANDLER(FENCE)
{
	(void)in;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	(void)h;
}
HANDLER(FENCE_I)
{
	(void)in;
	hart_fence_i(h);
}
HANDLER(ECALL)
{
	(void)in;
	if (h->priv == PRV_S && h->env.sbi_call && h->env.sbi_call(h->env.opaque, h)) {
		hart_count(&h->exits.sbi);
		return;
	}
	hart_trap(h, CAUSE_USER_ECALL + h->priv, 0);
}
HANDLER(EBREAK)
{
	(void)in;
	hart_trap(h, CAUSE_BREAKPOINT, h->pc);
}

/* ---- Zicsr ---- */

/* Whether writing csr (mstatus held old_status before) must end the running batch: the write
 * may have made an interrupt deliverable (enables, pending bits, delegation, the timer
 * comparators) or changed what the batch assumed. Plain data CSRs, the FP CSRs and status
 * writes that enable no interrupt (the SUM and FS toggles Linux makes around every user
 * access) do not: data accesses pick their TLB set per access, FP instructions check FS per
 * instruction, and a write that changes translation flushes the TLB, which ends the batch. */
static bool csr_write_ends_batch(const struct hart *h, unsigned csr, uint64_t old_status)
{
	switch (csr) {
	case CSR_FFLAGS:
	case CSR_FRM:
	case CSR_FCSR:
	case CSR_SSCRATCH:
	case CSR_MSCRATCH:
	case CSR_SEPC:
	case CSR_MEPC:
	case CSR_SCAUSE:
	case CSR_MCAUSE:
	case CSR_STVAL:
	case CSR_MTVAL:
	case CSR_STVEC:
	case CSR_MTVEC: return false;
	case CSR_SSTATUS:
	case CSR_MSTATUS: return (h->mstatus & ~old_status) & (MSTATUS_SIE | MSTATUS_MIE);
	default: return true;
	}
}

static void csr_op(struct hart *h, const struct insn *in, uint64_t src, int kind, bool write)
{
	unsigned csr = (unsigned)in->imm & 0xfff;
	uint64_t old;
	if (!csr_read(h, csr, &old)) {
		exec_illegal(h);
		return;
	}
	if (write) {
		uint64_t nv = kind == 0 ? src : kind == 1 ? (old | src) : (old & ~src);
		uint64_t old_status = h->mstatus;
		if (!csr_write(h, csr, nv)) {
			exec_illegal(h);
			return;
		}
		if (csr_write_ends_batch(h, csr, old_status))
			hart_end_batch(h);
	}
	RD = old;
}
HANDLER(CSRRW)
{
	csr_op(h, in, RS1, 0, true);
}
HANDLER(CSRRS)
{
	csr_op(h, in, RS1, 1, in->rs1 != 0);
}
HANDLER(CSRRC)
{
	csr_op(h, in, RS1, 2, in->rs1 != 0);
}
HANDLER(CSRRWI)
{
	csr_op(h, in, in->rs1, 0, true);
}
HANDLER(CSRRSI)
{
	csr_op(h, in, in->rs1, 1, in->rs1 != 0);
}
HANDLER(CSRRCI)
{
	csr_op(h, in, in->rs1, 2, in->rs1 != 0);
}

/* ---- privileged (priv spec 3.3) ---- */
HANDLER(MRET)
{
	(void)in;
	if (h->priv < PRV_M) {
		exec_illegal(h);
		return;
	}
	uint64_t s = h->mstatus;
	unsigned mpp = (s & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT;
	s = (s & ~(MSTATUS_MIE | MSTATUS_MPP)) | ((s & MSTATUS_MPIE) ? MSTATUS_MIE : 0) |
	    MSTATUS_MPIE;
	if (mpp != PRV_M)
		s &= ~MSTATUS_MPRV;
	h->mstatus = s;
	h->priv = (uint8_t)mpp;
	h->pc_next = h->mepc;
	hart_end_batch(h);
	hart_update_mode(h);
}
HANDLER(SRET)
{
	(void)in;
	if (h->priv < PRV_S || (h->priv == PRV_S && (h->mstatus & MSTATUS_TSR))) {
		exec_illegal(h);
		return;
	}
	uint64_t s = h->mstatus;
	unsigned spp = (s & MSTATUS_SPP) ? PRV_S : PRV_U;
	s = (s & ~(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV)) |
	    ((s & MSTATUS_SPIE) ? MSTATUS_SIE : 0) | MSTATUS_SPIE;
	h->mstatus = s;
	h->priv = (uint8_t)spp;
	h->pc_next = h->sepc;
	hart_end_batch(h);
	hart_update_mode(h);
}
HANDLER(WFI)
{
	(void)in;
	if (h->priv == PRV_U || (h->priv == PRV_S && (h->mstatus & MSTATUS_TW))) {
		exec_illegal(h);
		return;
	}
	hart_count(&h->exits.wfi);
	h->wfi = true;
	hart_end_batch(h);
}
HANDLER(SFENCE_VMA)
{
	if (h->priv == PRV_U || (h->priv == PRV_S && (h->mstatus & MSTATUS_TVM))) {
		exec_illegal(h);
		return;
	}
	/* ASIDs are not tagged in the TLB: an ASID-only fence flushes everything. */
	if (in->rs1)
		hart_flush_tlb_page(h, h->x[in->rs1]);
	else
		hart_flush_tlb(h);
}

/* ---- threaded dispatch ----
 * Each table entry runs its op, retires it, and jumps straight to the next instruction when
 * that one is on the same page and already decoded: a tail call from every handler, so the
 * host's branch predictor sees one indirect jump per op instead of one shared call site.
 * Anything else (a page change, an undecoded slot, the end of the batch, a trap, a change
 * of translation) returns to the loop in hart.c. */
static inline void dispatch_next(struct hart *h, const struct insn *in)
{
	uint64_t pc = h->pc, next = h->pc_next;
	h->pc = next;
	if (--h->budget <= 0 || ((pc ^ next) >> 12))
		return;
	const struct insn *n = in + ((int64_t)(next - pc) >> 1);
	if (!n->fn)
		return;
	h->pc_next = next + n->len;
	n->fn(h, n);
}

#define THREADED(name)                                                \
	static void thr_##name(struct hart *h, const struct insn *in) \
	{                                                             \
		exec_##name(h, in);                                   \
		dispatch_next(h, in);                                 \
	}
INSN_OPS(THREADED)
#undef THREADED

static const insn_fn handlers[OP_COUNT] = {
#define HANDLER_ENTRY(name) [OP_##name] = thr_##name,
    INSN_OPS(HANDLER_ENTRY)
#undef HANDLER_ENTRY
};

static const insn_fn single_handlers[OP_COUNT] = {
#define HANDLER_ENTRY(name) [OP_##name] = exec_##name,
    INSN_OPS(HANDLER_ENTRY)
#undef HANDLER_ENTRY
};

void exec_single(struct hart *h, const struct insn *in, unsigned op)
{
	single_handlers[op < OP_COUNT ? op : OP_ILLEGAL](h, in);
	h->pc = h->pc_next;
	h->budget--;
}

/* Ops whose rd names an f register. */
static bool rd_is_fp(unsigned op)
{
	switch (op) {
	case OP_FLW:
	case OP_FLD:
	case OP_FMADD_S:
	case OP_FMSUB_S:
	case OP_FNMSUB_S:
	case OP_FNMADD_S:
	case OP_FADD_S:
	case OP_FSUB_S:
	case OP_FMUL_S:
	case OP_FDIV_S:
	case OP_FSQRT_S:
	case OP_FSGNJ_S:
	case OP_FSGNJN_S:
	case OP_FSGNJX_S:
	case OP_FMIN_S:
	case OP_FMAX_S:
	case OP_FCVT_S_W:
	case OP_FCVT_S_WU:
	case OP_FCVT_S_L:
	case OP_FCVT_S_LU:
	case OP_FMV_W_X:
	case OP_FMADD_D:
	case OP_FMSUB_D:
	case OP_FNMSUB_D:
	case OP_FNMADD_D:
	case OP_FADD_D:
	case OP_FSUB_D:
	case OP_FMUL_D:
	case OP_FDIV_D:
	case OP_FSQRT_D:
	case OP_FSGNJ_D:
	case OP_FSGNJN_D:
	case OP_FSGNJX_D:
	case OP_FMIN_D:
	case OP_FMAX_D:
	case OP_FCVT_D_W:
	case OP_FCVT_D_WU:
	case OP_FCVT_D_L:
	case OP_FCVT_D_LU:
	case OP_FCVT_S_D:
	case OP_FCVT_D_S:
	case OP_FMV_D_X:
	case OP_FLH:
	case OP_FMV_H_X:
	case OP_FCVT_S_H:
	case OP_FCVT_H_S:
	case OP_FCVT_D_H:
	case OP_FCVT_H_D:
	case OP_FLI_S:
	case OP_FLI_D:
	case OP_FMINM_S:
	case OP_FMAXM_S:
	case OP_FMINM_D:
	case OP_FMAXM_D:
	case OP_FROUND_S:
	case OP_FROUNDNX_S:
	case OP_FROUND_D:
	case OP_FROUNDNX_D: return true;
	default: return false;
	}
}

/* FP ops other than loads and stores carry rm (and rs3) in imm. */
static bool fp_uses_rm(unsigned op)
{
	return (op >= OP_FMADD_S && op <= OP_FCLASS_D && op != OP_FLD && op != OP_FSD) ||
	       (op >= OP_FMV_X_H && op <= OP_FLTQ_D);
}

void exec_compact(const struct insn_fields *f, struct insn *out)
{
	unsigned op = f->op < OP_COUNT ? f->op : OP_ILLEGAL;
	out->fn = handlers[op];
	out->len = f->len;
	out->rs1 = f->rs1;
	out->rs2 = f->rs2;
	out->rd = (f->rd == 0 && !rd_is_fp(op)) ? 32 : f->rd;
	if (fp_uses_rm(op))
		out->imm = (int32_t)(f->rm | (unsigned)f->rs3 << 3);
	else
		out->imm = (int32_t)f->imm;
}
