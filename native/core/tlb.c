// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * tlb.c - set-associative TLB with negative caching (see tlb.h).
 *
 * An entry of page size S for IOVA v lives in set hash(v >> S, S), so a
 * lookup probes one set per supported page size. Replacement is LRU within
 * a set. Invalidation drops exactly the overlapping entries: for a short
 * range it probes the sets the range's pages hash to (one per page and page
 * size), otherwise it scans all entries (the TLB is small: hundreds).
 */
#include "tlb.h"

static const u8 page_shifts[] = { 12, 16, 21 };

static u32 set_of(const struct tlb *t, u64 iova, u32 shift)
{
	u64 h = (iova >> shift) * 0x9e3779b97f4a7c15ull + shift;

	return (u32)(h >> 32) & (t->sets - 1);
}

int tlb_init(struct tlb *t, u32 entries, ual_atomic64_t *ctr)
{
	ual_memset(t, 0, sizeof(*t));
	if (!ual_is_pow2(entries))
		return UAL_EINVAL;
	t->entries = entries;
	t->ways = UAL_MIN(entries, (u32)TLB_WAYS);
	t->sets = entries / t->ways;
	t->e = ual_zalloc(ctr, sizeof(*t->e) * entries);
	return t->e ? 0 : UAL_ENOMEM;
}

void tlb_destroy(struct tlb *t)
{
	ual_free(t->e);
	t->e = NULL;
}

const struct tlb_entry *tlb_lookup(struct tlb *t, u64 iova)
{
	u32 i, w;

	for (i = 0; i < UAL_ARRAY_SIZE(page_shifts); i++) {
		u32 sh = page_shifts[i];
		u64 base = iova & ~((1ull << sh) - 1);
		struct tlb_entry *set = &t->e[set_of(t, base, sh) * t->ways];

		for (w = 0; w < t->ways; w++) {
			struct tlb_entry *e = &set[w];

			if (e->valid && e->size_shift == sh && e->iova == base) {
				e->stamp = ++t->clock;
				t->hits++;
				return e;
			}
		}
	}
	t->misses++;
	return NULL;
}

static struct tlb_entry *victim(struct tlb *t, u64 base, u32 sh)
{
	struct tlb_entry *set = &t->e[set_of(t, base, sh) * t->ways], *v = &set[0];
	u32 w;

	for (w = 0; w < t->ways; w++) {
		if (!set[w].valid)
			return &set[w];
		if (set[w].stamp < v->stamp)
			v = &set[w];
	}
	return v;
}

void tlb_fill(struct tlb *t, u64 iova, u32 size_shift, u64 pfn, u32 target, u32 prot)
{
	u64 base = iova & ~((1ull << size_shift) - 1);
	struct tlb_entry *e = victim(t, base, size_shift);

	if (!e->valid)
		t->nr_valid++;
	e->iova = base;
	e->pfn = pfn;
	e->size_shift = (u8)size_shift;
	e->target = (u16)target;
	e->prot = (u8)prot;
	e->present = 1;
	e->valid = 1;
	e->stamp = ++t->clock;
}

void tlb_fill_absent(struct tlb *t, u64 iova)
{
	u64 base = iova & ~(UAL_PAGE_SIZE - 1);
	struct tlb_entry *e = victim(t, base, UAL_PAGE_SHIFT);

	if (!e->valid)
		t->nr_valid++;
	ual_memset(e, 0, sizeof(*e));
	e->iova = base;
	e->size_shift = UAL_PAGE_SHIFT;
	e->valid = 1;
	e->stamp = ++t->clock;
}

/* Pages of size 1 << @sh that [iova, last] touches, capped at @cap. */
static u64 pages_touched(u64 iova, u64 last, u32 sh, u64 cap)
{
	u64 n = (last >> sh) - (iova >> sh);

	return n >= cap ? cap : n + 1;
}

u32 tlb_invalidate(struct tlb *t, u64 iova, u64 len)
{
	u64 last = iova + len - 1, probes = 0, base;
	u32 i, w, n = 0;

	if (!len || !t->nr_valid)
		return 0;
	for (i = 0; i < UAL_ARRAY_SIZE(page_shifts); i++)
		probes += pages_touched(iova, last, page_shifts[i], t->sets);
	if (probes < t->sets) {
		/* Short range: an entry of size S for base b can only be in
		 * set_of(b, S), so visit exactly those sets. */
		for (i = 0; i < UAL_ARRAY_SIZE(page_shifts); i++) {
			u32 sh = page_shifts[i];

			for (base = iova >> sh; base <= last >> sh; base++) {
				u64 b = base << sh;
				struct tlb_entry *set = &t->e[set_of(t, b, sh) * t->ways];

				for (w = 0; w < t->ways; w++) {
					if (set[w].valid && set[w].size_shift == sh &&
					    set[w].iova == b) {
						set[w].valid = 0;
						n++;
					}
				}
			}
		}
	} else {
		for (i = 0; i < t->entries; i++) {
			struct tlb_entry *e = &t->e[i];
			u64 elast = e->iova + (1ull << e->size_shift) - 1;

			if (e->valid && e->iova <= last && elast >= iova) {
				e->valid = 0;
				n++;
			}
		}
	}
	t->nr_valid -= n;
	return n;
}

u32 tlb_count(const struct tlb *t)
{
	u32 i, n = 0;

	for (i = 0; i < t->entries; i++)
		n += t->e[i].valid;
	return n;
}
