// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * devmem.c - sparse device memory and its block allocator (see devmem.h).
 */
#include "devmem.h"

int devmem_init(struct devmem *dm, u64 bytes, ual_atomic64_t *ctr)
{
	int ret;

	ual_memset(dm, 0, sizeof(*dm));
	dm->ctr = ctr;
	dm->pages = bytes >> UAL_PAGE_SHIFT;
	dm->nr_dir = (dm->pages + DM_LEAF_PAGES - 1) / DM_LEAF_PAGES;
	ret = ra_init(&dm->blocks, 0, dm->pages, ctr);
	if (ret)
		return ret;
	if (dm->nr_dir) {
		dm->dir = ual_zalloc(ctr, sizeof(*dm->dir) * dm->nr_dir);
		if (!dm->dir) {
			ra_destroy(&dm->blocks);
			return UAL_ENOMEM;
		}
	}
	return 0;
}

static void drop_backing(struct devmem *dm, u64 pfn, u64 n)
{
	u64 p;

	for (p = pfn; p < pfn + n; p++) {
		struct dm_leaf *l = dm->dir[p / DM_LEAF_PAGES];

		if (!l) {
			p |= DM_LEAF_PAGES - 1;	/* skip the whole empty leaf */
			continue;
		}
		if (l->page[p % DM_LEAF_PAGES]) {
			ual_free(l->page[p % DM_LEAF_PAGES]);
			l->page[p % DM_LEAF_PAGES] = NULL;
			l->backed--;
			dm->backed--;
		}
		if (!l->backed) {
			ual_free(l);
			dm->dir[p / DM_LEAF_PAGES] = NULL;
			p |= DM_LEAF_PAGES - 1;
		}
	}
}

void devmem_destroy(struct devmem *dm)
{
	struct ra_node *n;

	/* Block records are only reachable through the allocator here. */
	while ((n = ra_next(&dm->blocks, 0))) {
		struct dm_block *b = n->data;

		ra_free(&dm->blocks, n->start);
		ual_free(b);
	}
	if (dm->dir)
		drop_backing(dm, 0, dm->pages);
	ual_free(dm->dir);
	dm->dir = NULL;
	ra_destroy(&dm->blocks);
}

int devmem_alloc(struct devmem *dm, u64 npages, u64 align_pages, const void *owner,
		 struct ual_list *owner_list, u64 *pfn, struct ual_err *err)
{
	struct dm_block *b = ual_zalloc(dm->ctr, sizeof(*b));
	int ret;

	if (!b)
		return ual_err_set(err, UAL_ENOMEM, "out of memory for a block record");
	ret = ra_alloc(&dm->blocks, npages, align_pages, 0, dm->pages, b, pfn);
	if (ret) {
		ual_free(b);
		if (ret == UAL_ENOSPC)
			return ual_err_set(err, UAL_ENOMEM,
					   "no free block of 0x%llx pages aligned to 0x%llx pages (0x%llx of 0x%llx pages free)",
					   (unsigned long long)npages,
					   (unsigned long long)align_pages,
					   (unsigned long long)ra_free_units(&dm->blocks),
					   (unsigned long long)dm->pages);
		return ual_err_set(err, UAL_ENOMEM, "out of memory for allocator metadata");
	}
	b->pfn = *pfn;
	b->npages = npages;
	b->owner = owner;
	ual_list_add_tail(&b->link, owner_list);
	return 0;
}

void devmem_free_block(struct devmem *dm, struct dm_block *b)
{
	ual_list_del(&b->link);
	ra_free(&dm->blocks, b->pfn);
	/* A freed block reads as zeros when it is handed out again. */
	drop_backing(dm, b->pfn, b->npages);
	ual_free(b);
}

int devmem_free(struct devmem *dm, u64 pfn, u64 npages, const void *owner,
		struct ual_err *err)
{
	struct ra_node *n = ra_find(&dm->blocks, pfn);
	struct dm_block *b = n ? n->data : NULL;

	if (!b || b->owner != owner)
		return ual_err_set(err, UAL_ENOENT, "no block of this handle starts at PFN 0x%llx",
				   (unsigned long long)pfn);
	if (b->npages != npages)
		return ual_err_set(err, UAL_EINVAL,
				   "size 0x%llx differs from the block's 0x%llx bytes",
				   (unsigned long long)(npages << UAL_PAGE_SHIFT),
				   (unsigned long long)(b->npages << UAL_PAGE_SHIFT));
	devmem_free_block(dm, b);
	return 0;
}

u64 devmem_first_unallocated(const struct devmem *dm, u64 pfn, u64 n)
{
	u64 p = pfn, end = pfn + n;

	/* Jump block by block: O(blocks touched * log n). */
	while (p < end) {
		struct ra_node *b = ra_lookup(&dm->blocks, p);

		if (!b)
			return p;
		p = b->start + b->len;
	}
	return ~0ull;
}

int devmem_ensure(struct devmem *dm, u64 phys, u64 len)
{
	u64 p, last;

	if (!len)
		return 0;
	last = (phys + len - 1) >> UAL_PAGE_SHIFT;
	for (p = phys >> UAL_PAGE_SHIFT; p <= last; p++) {
		struct dm_leaf **lp = &dm->dir[p / DM_LEAF_PAGES];
		u8 **pg;

		if (!*lp) {
			*lp = ual_zalloc(dm->ctr, sizeof(**lp));
			if (!*lp)
				return UAL_ENOMEM;
		}
		pg = &(*lp)->page[p % DM_LEAF_PAGES];
		if (!*pg) {
			*pg = ual_zalloc(dm->ctr, UAL_PAGE_SIZE);
			if (!*pg)
				return UAL_ENOMEM;
			(*lp)->backed++;
			dm->backed++;
		}
	}
	return 0;
}

void devmem_read(const struct devmem *dm, u64 phys, void *buf, u64 len)
{
	u8 *out = buf;

	while (len) {
		u64 p = phys >> UAL_PAGE_SHIFT, off = phys & (UAL_PAGE_SIZE - 1);
		u64 n = UAL_MIN(len, UAL_PAGE_SIZE - off);
		const struct dm_leaf *l = dm->dir[p / DM_LEAF_PAGES];
		const u8 *pg = l ? l->page[p % DM_LEAF_PAGES] : NULL;

		if (pg)
			ual_memcpy(out, pg + off, n);
		else
			ual_memset(out, 0, n);	/* never written */
		out += n;
		phys += n;
		len -= n;
	}
}

void devmem_write(struct devmem *dm, u64 phys, const void *buf, u64 len)
{
	const u8 *in = buf;

	while (len) {
		u64 p = phys >> UAL_PAGE_SHIFT, off = phys & (UAL_PAGE_SIZE - 1);
		u64 n = UAL_MIN(len, UAL_PAGE_SIZE - off);

		ual_memcpy(dm->dir[p / DM_LEAF_PAGES]->page[p % DM_LEAF_PAGES] + off, in, n);
		in += n;
		phys += n;
		len -= n;
	}
}
