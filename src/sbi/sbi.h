/* The SBI served by the hypervisor (RISC-V SBI spec 2.0): BASE, TIME, IPI, RFENCE, HSM, SRST,
 * DBCN and the legacy console calls, answered in place of M-mode firmware. */
#ifndef RVISOR_SBI_SBI_H
#define RVISOR_SBI_SBI_H

#include <stdbool.h>

struct hart;

/* Serve the SBI call in h's a0-a7 (a7 = EID, a6 = FID); writes the error to a0 and the value
 * to a1 as SBI spec 3 defines. opaque is the struct vm. Always returns true (every ecall from
 * S-mode is an SBI call; unknown extensions get SBI_ERR_NOT_SUPPORTED). */
bool sbi_call(void *opaque, struct hart *h);

#endif
