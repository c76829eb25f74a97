// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * fault.c - fault ring (see fault.h).
 */
#include "fault.h"

int fault_ring_init(struct fault_ring *r, u32 size, ual_atomic64_t *ctr)
{
	ual_memset(r, 0, sizeof(*r));
	if (!ual_is_pow2(size))
		return UAL_EINVAL;
	r->size = size;
	r->rec = ual_zalloc(ctr, sizeof(*r->rec) * size);
	return r->rec ? 0 : UAL_ENOMEM;
}

void fault_ring_destroy(struct fault_ring *r)
{
	ual_free(r->rec);
	r->rec = NULL;
}

bool fault_ring_push(struct fault_ring *r, const struct ual_fault *f)
{
	struct ual_fault *slot;

	if (r->tail - r->head == r->size) {
		r->lost++;
		r->total_lost++;
		return false;
	}
	slot = &r->rec[r->tail & (r->size - 1)];
	*slot = *f;
	slot->seq = r->seq++;
	r->tail++;
	return true;
}

u32 fault_ring_read(struct fault_ring *r, struct ual_fault *out, u32 max, u64 *lost)
{
	u32 n = 0;

	while (n < max && r->head != r->tail) {
		out[n++] = r->rec[r->head & (r->size - 1)];
		r->head++;
	}
	if (lost)
		*lost = r->lost;
	r->lost = 0;
	return n;
}
