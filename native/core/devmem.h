/* SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0 */
/*
 * devmem.h - an accelerator's device memory: bytes that really exist.
 *
 * Sparse: a directory of lazily allocated leaves of 4 KiB backing pages,
 * so a 64 GiB accelerator costs nothing until written; never-written pages
 * read as zeros. Blocks are handed out by a range allocator and tagged
 * with the owner that must free them.
 * Not thread-safe: the caller holds the target lock.
 */
#ifndef UAL_DEVMEM_H
#define UAL_DEVMEM_H

#include "compat.h"
#include "range_alloc.h"

#define DM_LEAF_PAGES 512

struct dm_leaf {
	u8 *page[DM_LEAF_PAGES];
	u32 backed;
};

struct dm_block {
	struct ual_list link;	/* on the owner's list */
	u64 pfn, npages;
	const void *owner;
};

struct devmem {
	u64 pages;
	u64 nr_dir;
	struct dm_leaf **dir;
	u64 backed;		/* backing pages allocated */
	struct range_alloc blocks;
	ual_atomic64_t *ctr;
};

int devmem_init(struct devmem *dm, u64 bytes, ual_atomic64_t *ctr);
void devmem_destroy(struct devmem *dm);

/* Return: 0; UAL_ENOMEM if no block fits (or metadata). */
int devmem_alloc(struct devmem *dm, u64 npages, u64 align_pages, const void *owner,
		 struct ual_list *owner_list, u64 *pfn, struct ual_err *err);
/* Return: 0; UAL_ENOENT, UAL_EINVAL (size differs). Drops the backing. */
int devmem_free(struct devmem *dm, u64 pfn, u64 npages, const void *owner,
		struct ual_err *err);
/* Free a block found on an owner's list. */
void devmem_free_block(struct devmem *dm, struct dm_block *b);

static inline bool devmem_contains(const struct devmem *dm, u64 pfn)
{
	return pfn < dm->pages;
}

static inline bool devmem_allocated(const struct devmem *dm, u64 pfn)
{
	return ra_lookup(&dm->blocks, pfn) != NULL;
}

/* First page of [pfn, pfn + n) that is not allocated, or ~0 if none. */
u64 devmem_first_unallocated(const struct devmem *dm, u64 pfn, u64 n);

/* Allocate backing for [phys, phys + len) (all inside memory): ENOMEM. */
int devmem_ensure(struct devmem *dm, u64 phys, u64 len);
/* Copy bytes; write needs devmem_ensure() first. Bounds are the caller's. */
void devmem_read(const struct devmem *dm, u64 phys, void *buf, u64 len);
void devmem_write(struct devmem *dm, u64 phys, const void *buf, u64 len);

static inline u64 devmem_free_pages(const struct devmem *dm)
{
	return ra_free_units(&dm->blocks);
}

#endif /* UAL_DEVMEM_H */
