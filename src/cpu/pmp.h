/* Physical Memory Protection (priv spec 3.7): the pmpcfg/pmpaddr CSRs with their WARL and
 * locking rules, and the check of a physical access against them.
 *
 * rvisor implements 16 entries (pmpaddr0-15 in pmpcfg0 and pmpcfg2) with a granularity of 4
 * bytes (G = 0); pmpcfg4..14 and pmpaddr16..63 read as zero and ignore writes, as the spec
 * allows for entries that are not implemented. As the spec says for a hart with PMP entries,
 * an S or U access that no entry matches fails, so S and U can reach nothing until M-mode
 * software enables an entry (OpenSBI does; QEMU 7.2 even makes mret to S or U illegal then);
 * where rvisor itself serves the SBI, the harts start with entry 0 giving S and U everything,
 * as that firmware would have programmed. An M-mode access obeys R, W and X of locked entries
 * only, and fails, as any access, when the entry deciding it matches only part of it.
 *
 * The checks cost nothing on the TLB hit paths: an access is checked when its translation is
 * cached (mmu.c), and a 4 KiB page enters a TLB only when PMP gives the access the same
 * answer over the whole page; a PMP CSR write that changes a value empties every TLB
 * (hart_flush_pmp). */
#ifndef RVISOR_CPU_PMP_H
#define RVISOR_CPU_PMP_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/hart.h"

#define PMP_ENTRIES 16 /* implemented entries: pmpaddr0-15 */

/* pmpcfg entry fields (priv spec 3.7.1). */
#define PMP_R       0x01u
#define PMP_W       0x02u
#define PMP_X       0x04u
#define PMP_A       0x18u
#define PMP_A_SHIFT 3
#define PMP_L       0x80u
enum { PMP_OFF = 0, PMP_TOR = 1, PMP_NA4 = 2, PMP_NAPOT = 3 };

/* Answer of pmp_check. */
enum pmp_result {
	PMP_DENY = 0,   /* the access fails: an access fault */
	PMP_ALLOW,      /* allowed, but not all of its 4 KiB page is: do not cache the page */
	PMP_ALLOW_PAGE, /* allowed, and so is the same kind of access anywhere in its page */
};

/* Read pmpcfgN or pmpaddrN (csr: CSR_PMPCFG0..CSR_PMPADDR63) into *val. Returns false for
 * the odd pmpcfg numbers, which RV64 does not have. */
bool pmp_csr_read(const struct hart *h, unsigned csr, uint64_t *val);
/* Write pmpcfgN or pmpaddrN with the WARL rules: reserved R=0/W=1 becomes R=W=0, bits 5-6
 * read zero, pmpaddr keeps bits 53:0; a locked entry's pmpcfg byte and pmpaddr ignore writes,
 * and so does the pmpaddr below a locked TOR entry; unimplemented entries ignore writes.
 * A change empties every TLB (hart_flush_pmp). Returns false for the odd pmpcfg numbers. */
bool pmp_csr_write(struct hart *h, unsigned csr, uint64_t v);

/* Recompute the hart's rules (h->pmp_rule, pmp_nrules) from pmpcfg and pmpaddr, after they
 * were written or loaded. Does not flush anything. */
void pmp_update(struct hart *h);

/* Program entry e (0..15) as a NAPOT range over the whole address space with R, W and X: what
 * M-mode firmware does before it enters S-mode, for a hart whose SBI rvisor serves. For
 * start-up only: no TLB is flushed. */
void pmp_allow_all(struct hart *h, unsigned e);

/* Check an access of size bytes (1..4096, not crossing a 4 KiB page) at guest-physical gpa
 * needing permission perm (PMP_R, PMP_W or PMP_X) at privilege priv, against the lowest-
 * numbered entry that matches any of its bytes (it must match all of them). Also says whether
 * the same access anywhere in the page would get the same answer. */
enum pmp_result pmp_check(const struct hart *h, uint64_t gpa, unsigned size, unsigned perm,
			  unsigned priv);

#endif
