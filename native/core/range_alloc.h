/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * range_alloc.h - O(log n) allocator of ranges of an integer space.
 *
 * Used for the IOVA space of a domain (units: 4 KiB pages), the device
 * memory of an accelerator (PFNs), the host aperture (frames) and the user
 * addresses of host registrations. Two AVL trees keyed by start:
 *  - free ranges, augmented with the largest free length in each subtree,
 *    so that an aligned first fit below a limit is found in O(log n);
 *  - allocated ranges, each with a caller's data pointer.
 * Free ranges never touch (adjacent ones are merged), which lets a search
 * skip whole subtrees that lie below a lower bound.
 *
 * The trees have parent pointers and rebalance bottom-up: an insert or a
 * remove walks up only while a height or a subtree maximum changes (O(1)
 * amortized for the rotations; the walk usually stops within a few levels),
 * and freeing the range just allocated or found needs no search. Nodes
 * come from per-allocator chunks (a small slab) instead of one allocation
 * each; a chunk is returned once all its nodes are free, keeping at most one
 * empty chunk in reserve.
 */
#ifndef UAL_RANGE_ALLOC_H
#define UAL_RANGE_ALLOC_H

#include "compat.h"

struct ra_chunk;

struct ra_node {
	struct ra_node *left, *right, *parent;
	struct ra_chunk *chunk;	/* the slab chunk holding this node */
	u64 start;
	u64 len;
	union {
		u64 max_len;	/* free tree: largest len in this subtree */
		void *data;	/* used tree: the caller's */
	};
	int height;
};

struct range_alloc {
	struct ra_node *free_root;
	struct ra_node *used_root;
	u64 base, end;		/* the space: [base, end) */
	u64 free_units;
	u64 nr_used;
	ual_atomic64_t *ctr;	/* allocation counter charged for chunks */
	/* Node slab: chunks with a free node first (a chunk that just got one
	 * back goes to the head, an empty one to the tail), full chunks apart. */
	struct ual_list partial, full;
	u32 nr_empty;		/* empty chunks kept (at most one) */
	u32 chunk_nodes;	/* nodes of the next chunk: 4, doubling to 64 */
	/* The range last allocated or found by ra_lookup(): runs of lookups
	 * into one range (the PFNs of a link) and calls about the range just
	 * allocated skip the tree walk. Always a live node of the used tree
	 * or NULL; ra_free() clears it. */
	struct ra_node *hint;
};

/* Initialise an allocator of [base, end); allocates one (small) chunk of
 * nodes. May sleep (allocation). */
int ra_init(struct range_alloc *ra, u64 base, u64 end, ual_atomic64_t *ctr);
/* Free every node (chunk by chunk, no tree walk); the caller owns whatever
 * the data pointers point to. */
void ra_destroy(struct range_alloc *ra);

/*
 * ra_alloc() - allocate @len units aligned to @align (a power of two),
 * lying inside [lo, hi), lowest address first.
 * May sleep when it needs a new chunk of nodes.
 * Return: 0 and *@start; UAL_ENOSPC if nothing fits, UAL_ENOMEM if a node
 * could not be allocated (then nothing changed), UAL_EINVAL for len 0 or a
 * bad alignment.
 */
int ra_alloc(struct range_alloc *ra, u64 len, u64 align, u64 lo, u64 hi,
	     void *data, u64 *start);

/*
 * ra_reserve() - allocate exactly [start, start + len).
 * Return: 0; UAL_ERANGE outside the space, UAL_EEXIST if some unit is
 * already allocated, UAL_ENOMEM, UAL_EINVAL for len 0.
 */
int ra_reserve(struct range_alloc *ra, u64 start, u64 len, void *data);

/* Free the range starting exactly at @start; never allocates (it may
 * return an empty chunk). O(1) search when @start is the hinted range.
 * Return: 0 or UAL_ENOENT. */
int ra_free(struct range_alloc *ra, u64 start);

/* The allocated range starting exactly at @start, or NULL; O(1) for the
 * hinted range (see struct range_alloc), else O(log n). */
struct ra_node *ra_find(const struct range_alloc *ra, u64 start);
/*
 * The allocated range containing @addr, or NULL. O(1) when @addr lies in
 * the range the previous lookup found, O(log n) otherwise. It updates the
 * lookup hint, so like every other call it needs the allocator's lock (no
 * concurrent readers).
 */
struct ra_node *ra_lookup(const struct range_alloc *ra, u64 addr);
/* The first allocated range starting at or after @from, or NULL. */
struct ra_node *ra_next(const struct range_alloc *ra, u64 from);

static inline u64 ra_nr_used(const struct range_alloc *ra)
{
	return ra->nr_used;
}

static inline u64 ra_free_units(const struct range_alloc *ra)
{
	return ra->free_units;
}

/* Debug/test: check AVL balance, parent links, ordering, augmentation,
 * merging and the slab's node accounting. */
bool ra_check(const struct range_alloc *ra);

#endif /* UAL_RANGE_ALLOC_H */
