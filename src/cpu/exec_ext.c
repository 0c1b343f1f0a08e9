/* Interpreter handlers for the extensions beyond RV64GC: Zba, Zbb, Zbs (unprivileged spec,
 * "B" Extension for Bit Manipulation), Zicond, Zimop and Zcmop (may-be-operations), Zawrs
 * (wait-on-reservation-set) and Zicbom/Zicboz (the CMO specification, with the menvcfg and
 * senvcfg enables of priv spec 3.1.18 and 4.1.10). The decoder only produces these ops for a
 * hart whose isa_ext has their extension (decode_isa). Each handler computes in constant time
 * whatever its operands (no data-dependent branch or table), which is what Zkt asks of the
 * ones it lists. */
#include "cpu/exec.h"
#include "cpu/isa.h"
#include "cpu/mmu.h"

#define RD            (h->x[in->rd])
#define RS1           (h->x[in->rs1])
#define RS2           (h->x[in->rs2])
#define IMM           ((int64_t)in->imm)
#define SEXT32(v)     ((uint64_t)(int64_t)(int32_t)(v))
#define HANDLER(name) void exec_##name(struct hart *h, const struct insn *in)

/* ---- Zba ---- */
HANDLER(ADD_UW)
{
	RD = (uint64_t)(uint32_t)RS1 + RS2;
}
HANDLER(SH1ADD)
{
	RD = (RS1 << 1) + RS2;
}
HANDLER(SH2ADD)
{
	RD = (RS1 << 2) + RS2;
}
HANDLER(SH3ADD)
{
	RD = (RS1 << 3) + RS2;
}
HANDLER(SH1ADD_UW)
{
	RD = ((uint64_t)(uint32_t)RS1 << 1) + RS2;
}
HANDLER(SH2ADD_UW)
{
	RD = ((uint64_t)(uint32_t)RS1 << 2) + RS2;
}
HANDLER(SH3ADD_UW)
{
	RD = ((uint64_t)(uint32_t)RS1 << 3) + RS2;
}
HANDLER(SLLI_UW)
{
	RD = (uint64_t)(uint32_t)RS1 << (IMM & 63);
}

/* ---- Zbb ---- */
HANDLER(ANDN)
{
	RD = RS1 & ~RS2;
}
HANDLER(ORN)
{
	RD = RS1 | ~RS2;
}
HANDLER(XNOR)
{
	RD = ~(RS1 ^ RS2);
}
HANDLER(CLZ)
{
	RD = RS1 ? (uint64_t)__builtin_clzll(RS1) : 64;
}
HANDLER(CLZW)
{
	uint32_t v = (uint32_t)RS1;
	RD = v ? (uint64_t)__builtin_clz(v) : 32;
}
HANDLER(CTZ)
{
	RD = RS1 ? (uint64_t)__builtin_ctzll(RS1) : 64;
}
HANDLER(CTZW)
{
	uint32_t v = (uint32_t)RS1;
	RD = v ? (uint64_t)__builtin_ctz(v) : 32;
}
HANDLER(CPOP)
{
	RD = (uint64_t)__builtin_popcountll(RS1);
}
HANDLER(CPOPW)
{
	RD = (uint64_t)__builtin_popcount((uint32_t)RS1);
}
HANDLER(MAX)
{
	RD = (int64_t)RS1 < (int64_t)RS2 ? RS2 : RS1;
}
HANDLER(MAXU)
{
	RD = RS1 < RS2 ? RS2 : RS1;
}
HANDLER(MIN)
{
	RD = (int64_t)RS1 < (int64_t)RS2 ? RS1 : RS2;
}
HANDLER(MINU)
{
	RD = RS1 < RS2 ? RS1 : RS2;
}
HANDLER(SEXT_B)
{
	RD = (uint64_t)(int64_t)(int8_t)RS1;
}
HANDLER(SEXT_H)
{
	RD = (uint64_t)(int64_t)(int16_t)RS1;
}
HANDLER(ZEXT_H)
{
	RD = (uint16_t)RS1;
}
static uint64_t rotl64(uint64_t v, unsigned n)
{
	n &= 63;
	return (v << n) | (v >> ((64 - n) & 63));
}
static uint32_t rotl32(uint32_t v, unsigned n)
{
	n &= 31;
	return (v << n) | (v >> ((32 - n) & 31));
}
HANDLER(ROL)
{
	RD = rotl64(RS1, (unsigned)RS2);
}
HANDLER(ROR)
{
	RD = rotl64(RS1, 64 - ((unsigned)RS2 & 63));
}
HANDLER(RORI)
{
	RD = rotl64(RS1, 64 - ((unsigned)IMM & 63));
}
HANDLER(ROLW)
{
	RD = SEXT32(rotl32((uint32_t)RS1, (unsigned)RS2));
}
HANDLER(RORW)
{
	RD = SEXT32(rotl32((uint32_t)RS1, 32 - ((unsigned)RS2 & 31)));
}
HANDLER(RORIW)
{
	RD = SEXT32(rotl32((uint32_t)RS1, 32 - ((unsigned)IMM & 31)));
}
HANDLER(ORC_B)
{
	/* Each byte: 0xff if any bit of it is set, else 0x00. Per byte b, (b | (b >> 1) ... )
	 * folded to bit 0, then spread back over the byte by multiplying with 0xff. */
	uint64_t v = RS1;
	v |= v >> 4;
	v |= v >> 2;
	v |= v >> 1;
	RD = (v & 0x0101010101010101ull) * 0xff;
}
HANDLER(REV8)
{
	RD = __builtin_bswap64(RS1);
}

/* ---- Zbs ---- */
HANDLER(BCLR)
{
	RD = RS1 & ~(1ull << (RS2 & 63));
}
HANDLER(BCLRI)
{
	RD = RS1 & ~(1ull << (IMM & 63));
}
HANDLER(BEXT)
{
	RD = (RS1 >> (RS2 & 63)) & 1;
}
HANDLER(BEXTI)
{
	RD = (RS1 >> (IMM & 63)) & 1;
}
HANDLER(BINV)
{
	RD = RS1 ^ (1ull << (RS2 & 63));
}
HANDLER(BINVI)
{
	RD = RS1 ^ (1ull << (IMM & 63));
}
HANDLER(BSET)
{
	RD = RS1 | (1ull << (RS2 & 63));
}
HANDLER(BSETI)
{
	RD = RS1 | (1ull << (IMM & 63));
}

/* ---- Zicond ---- */
HANDLER(CZERO_EQZ)
{
	RD = RS1 & -(uint64_t)(RS2 != 0);
}
HANDLER(CZERO_NEZ)
{
	RD = RS1 & -(uint64_t)(RS2 == 0);
}

/* ---- Zimop, Zcmop: no operation defined yet; mop.r.N and mop.rr.N write 0 ---- */
HANDLER(MOP_R_N)
{
	RD = 0;
}
HANDLER(MOP_RR_N)
{
	RD = 0;
}
HANDLER(C_MOP_N)
{
	(void)h;
	(void)in;
}

/* ---- Zawrs. The hart does not wait for the reservation set: both instructions end at once,
 * as they may, and end the batch so that pending interrupts are seen, as after a pause. With
 * mstatus.TW set, wrs.nto below M-mode raises illegal-instruction, as WFI does with a time
 * limit of zero (there is no H extension, so no virtual-instruction case). ---- */
HANDLER(WRS_NTO)
{
	(void)in;
	if (h->priv < PRV_M && (h->mstatus & MSTATUS_TW)) {
		exec_illegal(h);
		return;
	}
	hart_end_batch(h);
}
HANDLER(WRS_STO)
{
	(void)in;
	hart_end_batch(h);
}

/* ---- Zicbom, Zicboz ---- */

/* Whether a cache-block instruction whose enable is field (MENVCFG_CBCFE, _CBZE, or _CBIE,
 * which is enabled when non-zero) may run at the hart's privilege: below M, menvcfg's field
 * must enable it; in U-mode, senvcfg's too. Raises illegal-instruction when not. */
static bool cbo_enabled(struct hart *h, uint64_t field)
{
	bool ok = (h->priv == PRV_M || (h->menvcfg & field)) &&
		  (h->priv != PRV_U || (h->senvcfg & field));
	if (!ok)
		exec_illegal(h);
	return ok;
}
HANDLER(CBO_CLEAN)
{
	if (cbo_enabled(h, MENVCFG_CBCFE))
		mmu_cbo(h, RS1, false);
}
HANDLER(CBO_FLUSH)
{
	if (cbo_enabled(h, MENVCFG_CBCFE))
		mmu_cbo(h, RS1, false);
}
/* Invalidating without writing back would be a flush here in any case (memory is coherent
 * and uncached), so CBIE's 01 and 11 act the same. */
HANDLER(CBO_INVAL)
{
	if (cbo_enabled(h, MENVCFG_CBIE))
		mmu_cbo(h, RS1, false);
}
HANDLER(CBO_ZERO)
{
	if (cbo_enabled(h, MENVCFG_CBZE))
		mmu_cbo(h, RS1, true);
}

/* ---- Svinval (privileged spec, "Svinval"). The TLBs have no invalidation separate from its
 * ordering: sinval.vma does what sfence.vma does, under the same rules (illegal in U-mode, and
 * in S-mode while mstatus.TVM is set), and the two fences around it order nothing more; they
 * are illegal in U-mode. ---- */
HANDLER(SINVAL_VMA)
{
	exec_SFENCE_VMA(h, in);
}
HANDLER(SFENCE_W_INVAL)
{
	(void)in;
	if (h->priv == PRV_U)
		exec_illegal(h);
}
HANDLER(SFENCE_INVAL_IR)
{
	(void)in;
	if (h->priv == PRV_U)
		exec_illegal(h);
}
