/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * tlb.h - a domain's set-associative translation cache.
 *
 * Caches present translations (4 KiB, 64 KiB or 2 MiB pages) and
 * not-present results (4 KiB), like VT-d with caching mode: a page linked
 * after its absence was cached keeps faulting until ual_iova_sync().
 * Not thread-safe: the caller holds the domain lock.
 */
#ifndef UAL_TLB_H
#define UAL_TLB_H

#include "compat.h"

#define TLB_WAYS 4

struct tlb_entry {
	u64 iova;	/* first IOVA of the page */
	u64 pfn;	/* PFN at @iova */
	u64 stamp;	/* LRU age within the set */
	u8 valid;
	u8 present;
	u8 size_shift;	/* 12, 16 or 21 */
	u8 prot;
	u16 target;
};

struct tlb {
	struct tlb_entry *e;
	u32 entries;	/* power of two */
	u32 ways;
	u32 sets;
	u32 nr_valid;	/* valid entries: an empty TLB skips invalidation */
	u64 clock;
	u64 hits, misses;
};

int tlb_init(struct tlb *t, u32 entries, ual_atomic64_t *ctr);
void tlb_destroy(struct tlb *t);

/* Look @iova up; counts a hit or a miss. The entry, or NULL. */
const struct tlb_entry *tlb_lookup(struct tlb *t, u64 iova);
/* Cache a present translation of the page [iova, iova + 1 << shift). */
void tlb_fill(struct tlb *t, u64 iova, u32 size_shift, u64 pfn, u32 target, u32 prot);
/* Cache that the 4 KiB page at @iova is not present. */
void tlb_fill_absent(struct tlb *t, u64 iova);
/* Drop every entry overlapping [iova, iova + len); returns how many. */
u32 tlb_invalidate(struct tlb *t, u64 iova, u64 len);
/* Valid entries (tests). */
u32 tlb_count(const struct tlb *t);

#endif /* UAL_TLB_H */
