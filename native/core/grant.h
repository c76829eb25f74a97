/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * grant.h - a target's grant table: which initiator may reach which pages.
 *
 * Entries are kept in one array sorted by (initiator, first pfn), so the
 * check a target makes on every request is a binary search. Grants to one
 * initiator never overlap. Capacity-limited like a hardware table.
 * Not thread-safe: the caller holds the target lock.
 */
#ifndef UAL_GRANT_H
#define UAL_GRANT_H

#include "compat.h"

#define GRANT_MAX_DEFAULT 4096

struct grant {
	u64 pfn;
	u64 npages;
	const void *owner;	/* who made it: revoked when it closes */
	u16 initiator;
	u16 prot;
};

struct grant_table {
	struct grant *g;
	u32 count;
	u32 alloced;
	u32 max;
	ual_atomic64_t *ctr;
};

void grant_init(struct grant_table *gt, u32 max, ual_atomic64_t *ctr);
void grant_destroy(struct grant_table *gt);

/* Return: 0; UAL_EEXIST (overlap), UAL_ENOSPC (full), UAL_ENOMEM. */
int grant_add(struct grant_table *gt, u32 initiator, u64 pfn, u64 npages, u32 prot,
	      const void *owner, struct ual_err *err);
/* All or nothing. Return: 0; UAL_ENOENT, UAL_ENOSPC, UAL_ENOMEM. */
int grant_revoke(struct grant_table *gt, u32 initiator, u64 pfn, u64 npages,
		 struct ual_err *err);
/* Drop every grant made by @owner. */
void grant_revoke_owner(struct grant_table *gt, const void *owner);
/* The grant of @initiator covering @pfn, or NULL. */
const struct grant *grant_find(const struct grant_table *gt, u32 initiator, u64 pfn);

static inline u32 grant_count(const struct grant_table *gt)
{
	return gt->count;
}

#endif /* UAL_GRANT_H */
