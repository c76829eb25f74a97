// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * grant.c - sorted-array grant table (see grant.h).
 */
#include "grant.h"

static bool key_less(const struct grant *g, u32 initiator, u64 pfn)
{
	return g->initiator < initiator || (g->initiator == initiator && g->pfn < pfn);
}

/* Index of the first entry not less than (initiator, pfn). */
static u32 lower_bound(const struct grant_table *gt, u32 initiator, u64 pfn)
{
	u32 lo = 0, hi = gt->count;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (key_less(&gt->g[mid], initiator, pfn))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void grant_init(struct grant_table *gt, u32 max, ual_atomic64_t *ctr)
{
	ual_memset(gt, 0, sizeof(*gt));
	gt->max = max;
	gt->ctr = ctr;
}

void grant_destroy(struct grant_table *gt)
{
	ual_free(gt->g);
	gt->g = NULL;
	gt->count = gt->alloced = 0;
}

/* Make room for @extra more entries. Grows geometrically. */
static int reserve(struct grant_table *gt, u32 extra, struct ual_err *err)
{
	u32 want = gt->count + extra, n;
	struct grant *g;

	if (want > gt->max)
		return ual_err_set(err, UAL_ENOSPC, "grant table full (%u entries)", gt->max);
	if (want <= gt->alloced)
		return 0;
	n = gt->alloced ? gt->alloced * 2 : 16;
	if (n > gt->max)
		n = gt->max;
	g = ual_zalloc(gt->ctr, sizeof(*g) * n);
	if (!g)
		return ual_err_set(err, UAL_ENOMEM, "out of memory for the grant table");
	if (gt->count)
		ual_memcpy(g, gt->g, sizeof(*g) * gt->count);
	ual_free(gt->g);
	gt->g = g;
	gt->alloced = n;
	return 0;
}

static void insert_at(struct grant_table *gt, u32 i, const struct grant *x)
{
	u32 j;

	for (j = gt->count; j > i; j--)
		gt->g[j] = gt->g[j - 1];
	gt->g[i] = *x;
	gt->count++;
}

static void remove_at(struct grant_table *gt, u32 i, u32 n)
{
	u32 j;

	for (j = i; j + n < gt->count; j++)
		gt->g[j] = gt->g[j + n];
	gt->count -= n;
}

int grant_add(struct grant_table *gt, u32 initiator, u64 pfn, u64 npages, u32 prot,
	      const void *owner, struct ual_err *err)
{
	struct grant x = {
		.pfn = pfn, .npages = npages, .owner = owner,
		.initiator = (u16)initiator, .prot = (u16)prot,
	};
	u32 i = lower_bound(gt, initiator, pfn);
	const struct grant *p = i ? &gt->g[i - 1] : NULL;
	const struct grant *n = i < gt->count ? &gt->g[i] : NULL;
	int ret;

	if (p && p->initiator == initiator && p->pfn + p->npages > pfn)
		return ual_err_set(err, UAL_EEXIST,
				   "pages 0x%llx+0x%llx overlap grant 0x%llx+0x%llx to accelerator %u",
				   (unsigned long long)pfn, (unsigned long long)npages,
				   (unsigned long long)p->pfn, (unsigned long long)p->npages,
				   initiator);
	if (n && n->initiator == initiator && n->pfn < pfn + npages)
		return ual_err_set(err, UAL_EEXIST,
				   "pages 0x%llx+0x%llx overlap grant 0x%llx+0x%llx to accelerator %u",
				   (unsigned long long)pfn, (unsigned long long)npages,
				   (unsigned long long)n->pfn, (unsigned long long)n->npages,
				   initiator);
	ret = reserve(gt, 1, err);
	if (ret)
		return ret;
	insert_at(gt, i, &x);
	return 0;
}

int grant_revoke(struct grant_table *gt, u32 initiator, u64 pfn, u64 npages,
		 struct ual_err *err)
{
	u64 end = pfn + npages, at = pfn;
	u32 first, last, i;
	struct grant head, tail;
	bool keep_head, keep_tail;
	int ret;

	/* The grant containing pfn is the one before the lower bound, or
	 * the lower bound itself when it starts exactly at pfn. */
	first = lower_bound(gt, initiator, pfn);
	if (first < gt->count && gt->g[first].initiator == initiator &&
	    gt->g[first].pfn == pfn) {
		/* starts exactly here */
	} else if (first && gt->g[first - 1].initiator == initiator &&
		   gt->g[first - 1].pfn + gt->g[first - 1].npages > pfn) {
		first--;
	} else {
		return ual_err_set(err, UAL_ENOENT, "page 0x%llx is not granted to accelerator %u",
				   (unsigned long long)pfn, initiator);
	}
	/* Check that consecutive grants cover [pfn, end) without a hole. */
	for (i = first; at < end; i++) {
		const struct grant *g = &gt->g[i];

		if (i >= gt->count || g->initiator != initiator || g->pfn > at)
			return ual_err_set(err, UAL_ENOENT,
					   "page 0x%llx is not granted to accelerator %u",
					   (unsigned long long)at, initiator);
		at = g->pfn + g->npages;
	}
	last = i - 1;
	head = gt->g[first];
	tail = gt->g[last];
	keep_head = head.pfn < pfn;
	keep_tail = tail.pfn + tail.npages > end;
	if (keep_head) {
		head.npages = pfn - head.pfn;
	}
	if (keep_tail) {
		tail.npages = tail.pfn + tail.npages - end;
		tail.pfn = end;
	}
	/* Splitting one grant in two is the only case that needs a slot. */
	if (first == last && keep_head && keep_tail) {
		ret = reserve(gt, 1, err);
		if (ret)
			return ret;
		gt->g[first] = head;
		insert_at(gt, first + 1, &tail);
		return 0;
	}
	remove_at(gt, first, last - first + 1);
	i = first;
	if (keep_head)
		insert_at(gt, i++, &head);
	if (keep_tail)
		insert_at(gt, i, &tail);
	return 0;
}

void grant_revoke_owner(struct grant_table *gt, const void *owner)
{
	u32 i, j = 0;

	for (i = 0; i < gt->count; i++)
		if (gt->g[i].owner != owner)
			gt->g[j++] = gt->g[i];
	gt->count = j;
}

const struct grant *grant_find(const struct grant_table *gt, u32 initiator, u64 pfn)
{
	u32 i = lower_bound(gt, initiator, pfn + 1);	/* first past pfn */
	const struct grant *g;

	if (!i || pfn == ~0ull)
		return NULL;
	g = &gt->g[i - 1];
	if (g->initiator != initiator || pfn - g->pfn >= g->npages)
		return NULL;
	return g;
}
