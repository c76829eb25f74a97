/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * pgtable.h - radix page tables of a fabric domain (VT-d second-level style).
 *
 * 512 entries (9 bits) a level over a 4 KiB base page; level 1 is the last
 * level, a level-2 entry may be a 2 MiB leaf. Sixteen aligned level-1
 * entries with contiguous PFNs carry a contiguous hint (like Arm's
 * contiguous bit) and form one 64 KiB mapping. Table pages come from a pool
 * of fixed capacity whose backing memory is allocated lazily in chunks.
 *
 * Every operation that changes the tables first runs a dry pass that
 * validates everything and counts the table pages it needs, then commits a
 * pass that cannot fail: all or nothing.
 *
 * Not thread-safe: the caller holds the domain lock.
 */
#ifndef UAL_PGTABLE_H
#define UAL_PGTABLE_H

#include "compat.h"

#define PT_ENTRIES	512
#define PT_MAX_LEVELS	5
#define PT_NONE		0xffffffffu
#define PT_CHUNK_PAGES	16	/* pool backing is allocated 64 KiB at a time */

/* PTE layout. */
#define PTE_P		(1ull << 0)	/* present */
#define PTE_R		(1ull << 1)	/* readable */
#define PTE_W		(1ull << 2)	/* writable */
#define PTE_LEAF	(1ull << 3)	/* maps memory (vs. points to a table) */
#define PTE_CONT	(1ull << 4)	/* one of 16 entries forming 64 KiB */
#define PTE_TGT_SHIFT	5		/* target accelerator id, 10 bits */
#define PTE_TGT_MASK	0x3ffull
#define PTE_PFN_SHIFT	15		/* PFN (or table page index), 45 bits */
#define PTE_PFN_MASK	((1ull << 45) - 1)

struct pt_meta {
	u32 next;	/* free list / stash link */
	u32 valid;	/* present entries in the table */
	u32 pins;	/* UAL_IOVA_PREALLOC ranges that need this table */
};

struct pt_chunk {
	struct pt_meta meta[PT_CHUNK_PAGES];
	u64 page[PT_CHUNK_PAGES][PT_ENTRIES];
};

/* A LIFO of table pages linked through pt_meta.next. */
struct pt_stack {
	u32 head;
	u32 count;
};

struct pt_pool {
	u32 capacity;		/* table pages */
	u32 nr_free;		/* not in use and not reserved */
	u32 nr_listed;		/* of those, on the free list (backed) */
	u32 hwm;		/* pages [0, hwm) were handed out once */
	u32 free_head;
	u32 nr_chunks;
	struct pt_chunk **chunks;
	ual_atomic64_t *ctr;
};

/*
 * struct pt_range - what the page tables know of an IOVA range.
 * @prealloc: its tables are pinned (UAL_IOVA_PREALLOC).
 * @stash:    level-1 tables displaced by its 2 MiB leaves, kept for unlink.
 */
struct pt_range {
	bool prealloc;
	struct pt_stack stash;
};

struct pgtable {
	struct pt_pool pool;
	u32 levels;
	u32 dma_bits;
	u32 root;		/* allocated on first use */
	u64 mapped;		/* 4 KiB pages linked */
};

/* A leaf found by pt_lookup(). */
struct pt_leaf {
	u64 iova;	/* first IOVA of the leaf */
	u64 size;	/* 4 KiB, 64 KiB or 2 MiB */
	u64 pfn;	/* PFN mapped at @iova */
	u32 target;
	u32 prot;
	u32 level;
};

static inline u32 pt_levels_for(u32 dma_bits)
{
	return (dma_bits - UAL_PAGE_SHIFT + 8) / 9;
}

int pt_init(struct pgtable *pt, u32 dma_bits, u32 pool_pages, ual_atomic64_t *ctr);
void pt_destroy(struct pgtable *pt);

static inline u32 pt_pool_free(const struct pgtable *pt)
{
	return pt->pool.nr_free;
}

/*
 * pt_link() - map @n pages at @iova (4 KiB aligned) to @pfns of @target.
 * The caller validated the PFNs and that [iova, iova + n pages) lies in @r.
 * Return: 0; UAL_EBUSY if a page is present, UAL_ENOMEM if the pool cannot
 * supply the table pages. Nothing changes on error.
 */
int pt_link(struct pgtable *pt, struct pt_range *r, u64 iova, const u64 *pfns,
	    u64 n, u32 target, u32 prot, struct ual_err *err);

/*
 * pt_unlink() - unmap [iova, iova + len). Every page must be present and
 * large entries must be covered whole.
 * Return: 0; UAL_ENOENT, UAL_EINVAL. Nothing changes on error.
 */
int pt_unlink(struct pgtable *pt, struct pt_range *r, u64 iova, u64 len,
	      struct ual_err *err);

/* Remove every leaf in [iova, iova + len), which must not split one. */
void pt_clear(struct pgtable *pt, struct pt_range *r, u64 iova, u64 len);

/*
 * pt_prealloc() - install and pin every table below the root that
 * [iova, iova + len) spans. Return: 0; UAL_ENOMEM (nothing changed).
 */
int pt_prealloc(struct pgtable *pt, struct pt_range *r, u64 iova, u64 len,
		struct ual_err *err);
/* Undo pt_prealloc() for a range with no leaves left. */
void pt_unpin(struct pgtable *pt, struct pt_range *r, u64 iova, u64 len);

/*
 * pt_lookup() - find the leaf mapping @iova. Return true if present; if
 * not, *@skip is the number of bytes from @iova that are surely unmapped
 * (up to the end of the empty entry where the walk stopped).
 */
bool pt_lookup(const struct pgtable *pt, u64 iova, struct pt_leaf *leaf, u64 *skip);

/*
 * pt_dump() - count the leaves whose first IOVA lies in [iova, end) and
 * store the first @max in @out, in IOVA order. A 64 KiB group is one leaf.
 */
u64 pt_dump(const struct pgtable *pt, u64 iova, u64 end, struct ual_mapping *out,
	    u64 max);

/* Test support: page-table pages in use (not free, not stashed). */
u32 pt_pages_in_use(const struct pgtable *pt);

#endif /* UAL_PGTABLE_H */
