/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * fault.h - an accelerator's fault ring.
 *
 * A power-of-two ring of struct ual_fault. When it is full the newest
 * record is dropped and counted in @lost (like an IOMMU's fault overflow
 * bit), so sequence numbers of recorded faults have no gaps.
 * Not thread-safe: the caller holds the fault lock.
 */
#ifndef UAL_FAULT_H
#define UAL_FAULT_H

#include "compat.h"

struct fault_ring {
	struct ual_fault *rec;
	u32 size;	/* power of two */
	u64 head;	/* next to read */
	u64 tail;	/* next to write */
	u64 seq;	/* next sequence number */
	u64 lost;	/* dropped since the last read */
	u64 total_lost;
};

int fault_ring_init(struct fault_ring *r, u32 size, ual_atomic64_t *ctr);
void fault_ring_destroy(struct fault_ring *r);
/* Record @f (its seq is assigned here). Return false if it was dropped. */
bool fault_ring_push(struct fault_ring *r, const struct ual_fault *f);
/* Drain up to @max records into @out; *lost gets and resets the drops. */
u32 fault_ring_read(struct fault_ring *r, struct ual_fault *out, u32 max, u64 *lost);

static inline u32 fault_ring_count(const struct fault_ring *r)
{
	return (u32)(r->tail - r->head);
}

#endif /* UAL_FAULT_H */
