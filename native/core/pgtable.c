// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * pgtable.c - radix page tables with a lazily backed pool of table pages,
 * large (2 MiB) and contiguous-hint (64 KiB) leaves, and reclaim-safe
 * preallocation (see pgtable.h).
 */
#include "pgtable.h"

#define SZ_4K	(1ull << 12)
#define SZ_64K	(1ull << 16)
#define SZ_2M	(1ull << 21)
#define CONT_PAGES 16

/* ---- geometry ----------------------------------------------------------- */

/* log2 of the bytes one entry of a level-@k table maps. */
static inline unsigned int entry_shift(u32 k)
{
	return UAL_PAGE_SHIFT + 9 * (k - 1);
}

/* log2 of the bytes a whole level-@k table maps. */
static inline unsigned int table_shift(u32 k)
{
	return UAL_PAGE_SHIFT + 9 * k;
}

static inline u32 pt_index(u32 k, u64 iova)
{
	return (iova >> entry_shift(k)) & (PT_ENTRIES - 1);
}

static inline u64 pte_pfn(u64 pte)
{
	return (pte >> PTE_PFN_SHIFT) & PTE_PFN_MASK;
}

static inline bool pte_is_table(u64 pte)
{
	return (pte & PTE_P) && !(pte & PTE_LEAF);
}

static inline u64 mk_table(u32 idx)
{
	return PTE_P | ((u64)idx << PTE_PFN_SHIFT);
}

static inline u64 mk_leaf(u64 pfn, u32 target, u32 prot, bool cont)
{
	return PTE_P | PTE_LEAF | (cont ? PTE_CONT : 0) |
	       ((prot & UAL_PROT_READ) ? PTE_R : 0) |
	       ((prot & UAL_PROT_WRITE) ? PTE_W : 0) |
	       (((u64)target & PTE_TGT_MASK) << PTE_TGT_SHIFT) |
	       ((pfn & PTE_PFN_MASK) << PTE_PFN_SHIFT);
}

static inline u32 pte_prot(u64 pte)
{
	return ((pte & PTE_R) ? UAL_PROT_READ : 0) | ((pte & PTE_W) ? UAL_PROT_WRITE : 0);
}

/* Number of level-lo..hi tables needed to cover [s, e) from scratch. */
static u64 tables_span(u32 lo, u32 hi, u64 s, u64 e)
{
	u64 n = 0;
	u32 j;

	for (j = lo; j <= hi; j++)
		n += ((e - 1) >> table_shift(j)) - (s >> table_shift(j)) + 1;
	return n;
}

/* ---- pool ---------------------------------------------------------------- */

static inline u64 *tbl(const struct pgtable *pt, u32 idx)
{
	return pt->pool.chunks[idx / PT_CHUNK_PAGES]->page[idx % PT_CHUNK_PAGES];
}

static inline struct pt_meta *meta(const struct pgtable *pt, u32 idx)
{
	return &pt->pool.chunks[idx / PT_CHUNK_PAGES]->meta[idx % PT_CHUNK_PAGES];
}

static void stack_push(struct pgtable *pt, struct pt_stack *st, u32 idx)
{
	meta(pt, idx)->next = st->head;
	st->head = idx;
	st->count++;
}

static u32 stack_pop(struct pgtable *pt, struct pt_stack *st)
{
	u32 idx = st->head;

	if (idx == PT_NONE)
		return PT_NONE;
	st->head = meta(pt, idx)->next;
	st->count--;
	return idx;
}

static void pool_put(struct pgtable *pt, u32 idx)
{
	struct pt_pool *p = &pt->pool;

	meta(pt, idx)->next = p->free_head;
	p->free_head = idx;
	p->nr_listed++;
	p->nr_free++;
}

/* Zeroed table page, no entries, no pins. */
static void page_reset(struct pgtable *pt, u32 idx)
{
	struct pt_meta *m = meta(pt, idx);

	ual_memset(tbl(pt, idx), 0, sizeof(u64) * PT_ENTRIES);
	m->valid = 0;
	m->pins = 0;
	m->next = PT_NONE;
}

/*
 * Take @n pages off the pool onto @st. Backing chunks are allocated first,
 * so a failure leaves the pool as it was (bar some extra backing).
 */
static int pool_take(struct pgtable *pt, u64 n, struct pt_stack *st,
		     struct ual_err *err)
{
	struct pt_pool *p = &pt->pool;
	u32 fresh, c, i;

	st->head = PT_NONE;
	st->count = 0;
	/* 64-bit @n: a count from a huge range must not wrap into a small one. */
	if (n > p->nr_free)
		return ual_err_set(err, UAL_ENOMEM,
				   "page-table pool exhausted: need %llu pages, %u free",
				   (unsigned long long)n, p->nr_free);
	fresh = n > p->nr_listed ? (u32)(n - p->nr_listed) : 0;	/* n <= nr_free here */
	if (fresh) {
		for (c = p->hwm / PT_CHUNK_PAGES;
		     c <= (p->hwm + fresh - 1) / PT_CHUNK_PAGES; c++) {
			if (p->chunks[c])
				continue;
			p->chunks[c] = ual_zalloc(p->ctr, sizeof(struct pt_chunk));
			if (!p->chunks[c])
				return ual_err_set(err, UAL_ENOMEM,
						   "out of memory backing the page-table pool");
		}
	}
	for (i = 0; i < n; i++) {
		u32 idx;

		if (p->free_head != PT_NONE) {
			idx = p->free_head;
			p->free_head = meta(pt, idx)->next;
			p->nr_listed--;
		} else {
			idx = p->hwm++;
		}
		page_reset(pt, idx);
		stack_push(pt, st, idx);
		/* A page off the free list is an allocation (ual_alloc_count). */
		ual_atomic64_add(p->ctr, 1);
	}
	p->nr_free -= n;
	return 0;
}

static void pool_give_back(struct pgtable *pt, struct pt_stack *st)
{
	u32 idx;

	while ((idx = stack_pop(pt, st)) != PT_NONE)
		pool_put(pt, idx);
}

int pt_init(struct pgtable *pt, u32 dma_bits, u32 pool_pages, ual_atomic64_t *ctr)
{
	struct pt_pool *p = &pt->pool;

	ual_memset(pt, 0, sizeof(*pt));
	if (dma_bits < 21 || dma_bits > UAL_PHYS_BITS || !pool_pages)
		return UAL_EINVAL;
	pt->dma_bits = dma_bits;
	pt->levels = pt_levels_for(dma_bits);
	pt->root = PT_NONE;
	p->capacity = pool_pages;
	p->nr_free = pool_pages;
	p->free_head = PT_NONE;
	p->ctr = ctr;
	p->nr_chunks = (pool_pages + PT_CHUNK_PAGES - 1) / PT_CHUNK_PAGES;
	p->chunks = ual_zalloc(ctr, sizeof(*p->chunks) * p->nr_chunks);
	return p->chunks ? 0 : UAL_ENOMEM;
}

void pt_destroy(struct pgtable *pt)
{
	u32 c;

	if (!pt->pool.chunks)
		return;
	for (c = 0; c < pt->pool.nr_chunks; c++)
		ual_free(pt->pool.chunks[c]);
	ual_free(pt->pool.chunks);
	pt->pool.chunks = NULL;
}

u32 pt_pages_in_use(const struct pgtable *pt)
{
	return pt->pool.capacity - pt->pool.nr_free;
}

/* ---- walks ---------------------------------------------------------------- */

/*
 * A cursor remembers the tables on the path of the last walk: tbl[k] is the
 * level-k table covering base[k], valid for k in [lo, levels]. A walk to a
 * nearby IOVA restarts from the lowest cached table that covers it, so
 * linking consecutive pages costs O(1) per page rather than O(levels).
 */
struct pt_cursor {
	u32 lo;
	u32 tbl[PT_MAX_LEVELS + 2];
	u64 base[PT_MAX_LEVELS + 2];
};

static void cur_reset(const struct pgtable *pt, struct pt_cursor *c)
{
	c->lo = pt->levels + 1;
}

/*
 * Walk towards level @want. Return the level k reached: c->tbl[k] covers
 * @iova, and if k > want its entry for @iova is not a table (empty or a
 * leaf). Return levels + 1 if there is no root yet.
 */
static u32 descend(const struct pgtable *pt, struct pt_cursor *c, u64 iova, u32 want)
{
	u32 L = pt->levels, k;

	if (pt->root == PT_NONE) {
		c->lo = L + 1;
		return L + 1;
	}
	for (k = c->lo; k < L; k++)
		if ((iova >> table_shift(k)) == (c->base[k] >> table_shift(k)))
			break;
	if (k >= L) {
		k = L;
		c->tbl[L] = pt->root;
		c->base[L] = 0;
	}
	while (k > want) {
		u64 pte = tbl(pt, c->tbl[k])[pt_index(k, iova)];

		if (!pte_is_table(pte))
			break;
		k--;
		c->tbl[k] = (u32)pte_pfn(pte);
		c->base[k] = iova & ~((1ull << table_shift(k)) - 1);
	}
	c->lo = k;
	return k;
}

/* As descend(), installing missing tables from @st on the way. */
static u32 descend_create(struct pgtable *pt, struct pt_cursor *c, u64 iova,
			  u32 want, struct pt_stack *st)
{
	u32 k = descend(pt, c, iova, want);

	if (k == pt->levels + 1) {
		pt->root = stack_pop(pt, st);
		k = descend(pt, c, iova, want);
	}
	while (k > want) {
		u32 child = stack_pop(pt, st);

		tbl(pt, c->tbl[k])[pt_index(k, iova)] = mk_table(child);
		meta(pt, c->tbl[k])->valid++;
		k--;
		c->tbl[k] = child;
		c->base[k] = iova & ~((1ull << table_shift(k)) - 1);
	}
	c->lo = k;
	return k;
}

/*
 * After entries of c->tbl[k] were cleared: free the tables on the path
 * that are now empty and unpinned (never the root), bottom up.
 */
static void free_empty(struct pgtable *pt, struct pt_cursor *c, u32 k)
{
	u32 L = pt->levels, lo = k;

	for (; k < L; k++) {
		u32 self = c->tbl[k], parent = c->tbl[k + 1];
		const struct pt_meta *m = meta(pt, self);

		if (m->valid || m->pins)
			break;
		tbl(pt, parent)[pt_index(k + 1, c->base[k])] = 0;
		meta(pt, parent)->valid--;
		pool_put(pt, self);
		lo = k + 1;	/* cached tables below lo are gone */
	}
	if (c->lo < lo)
		c->lo = lo;
}

/* ---- link ------------------------------------------------------------------ */

static bool pfns_contig(const u64 *pfns, u64 n)
{
	u64 i;

	if (pfns[0] & (n - 1))
		return false;
	for (i = 1; i < n; i++)
		if (pfns[i] != pfns[0] + i)
			return false;
	return true;
}

enum leaf_kind { LEAF_4K, LEAF_64K, LEAF_2M };

/*
 * The leaf, or run of 4 KiB leaves, starting at @iova: returns the pages
 * it maps and its kind. A 2 MiB leaf or a 64 KiB group can only start on
 * a 64 KiB boundary, so a run of 4 KiB leaves extends to the next one:
 * one walk and one presence scan serve up to 16 pages, and the run never
 * leaves its level-1 table.
 */
static u64 leaf_run(const struct pgtable *pt, u64 iova, const u64 *pfns,
		    u64 left, bool allow_2m, enum leaf_kind *kind)
{
	u64 to_64k;

	if (!(iova & (SZ_64K - 1))) {
		if (allow_2m && pt->levels >= 2 && !(iova & (SZ_2M - 1)) &&
		    left >= PT_ENTRIES && pfns_contig(pfns, PT_ENTRIES)) {
			*kind = LEAF_2M;
			return PT_ENTRIES;
		}
		if (left >= CONT_PAGES && pfns_contig(pfns, CONT_PAGES)) {
			*kind = LEAF_64K;
			return CONT_PAGES;
		}
	}
	*kind = LEAF_4K;
	to_64k = CONT_PAGES - ((iova >> UAL_PAGE_SHIFT) & (CONT_PAGES - 1));
	return UAL_MIN(left, to_64k);
}

/*
 * Can a 2 MiB leaf replace what sits at level-2 entry @pte? Only nothing,
 * or an empty level-1 table whose only pin is this range's.
 */
static bool can_take_2m(const struct pgtable *pt, const struct pt_range *r, u64 pte)
{
	const struct pt_meta *m;

	if (!(pte & PTE_P))
		return true;
	if (pte & PTE_LEAF)
		return false;
	m = meta(pt, (u32)pte_pfn(pte));
	return !m->valid && m->pins == (r->prealloc ? 1u : 0u);
}

static int busy(struct ual_err *err, u64 iova)
{
	return ual_err_set(err, UAL_EBUSY, "IOVA 0x%llx is already linked",
			   (unsigned long long)iova);
}

/* First present IOVA inside the 2 MiB slot of level-1 table @t. */
static u64 first_present(const struct pgtable *pt, u32 t, u64 base)
{
	u32 i;

	for (i = 0; i < PT_ENTRIES; i++)
		if (tbl(pt, t)[i] & PTE_P)
			return base + ((u64)i << UAL_PAGE_SHIFT);
	return base;
}

/* Account for new tables at levels [lo, hi] covering @iova, once each. */
static void count_new(u64 *counted, u32 lo, u32 hi, u64 iova, u64 *need)
{
	u32 j;

	for (j = lo; j <= hi; j++) {
		u64 key = iova >> table_shift(j);

		if (counted[j] != key) {
			counted[j] = key;
			(*need)++;
		}
	}
}

static int link_dry(const struct pgtable *pt, const struct pt_range *r, u64 iova,
		    const u64 *pfns, u64 n, u64 *need, struct ual_err *err)
{
	u64 counted[PT_MAX_LEVELS + 2];
	struct pt_cursor c;
	enum leaf_kind kind;
	u64 i, np;
	u32 k, j;

	for (j = 0; j < UAL_ARRAY_SIZE(counted); j++)
		counted[j] = ~0ull;
	cur_reset(pt, &c);
	*need = 0;
	for (i = 0; i < n; i += np) {
		u64 va = iova + (i << UAL_PAGE_SHIFT);

		np = leaf_run(pt, va, pfns + i, n - i, true, &kind);
		if (kind == LEAF_2M) {
			k = descend(pt, &c, va, 2);
			if (k == 2) {
				u64 pte = tbl(pt, c.tbl[2])[pt_index(2, va)];

				if (pte & PTE_LEAF)
					return busy(err, va);
				if (pte_is_table(pte) && meta(pt, (u32)pte_pfn(pte))->valid)
					return busy(err, first_present(pt, (u32)pte_pfn(pte), va));
				if (!can_take_2m(pt, r, pte))
					np = leaf_run(pt, va, pfns + i, n - i, false, &kind);
			} else {
				count_new(counted, 2, k - 1, va, need);
			}
		}
		if (kind != LEAF_2M) {
			k = descend(pt, &c, va, 1);
			if (k == 1) {
				const u64 *t = tbl(pt, c.tbl[1]);
				u32 x = pt_index(1, va);

				for (j = 0; j < np; j++)
					if (t[x + j] & PTE_P)
						return busy(err, va + ((u64)j << UAL_PAGE_SHIFT));
			} else {
				if (k <= pt->levels &&
				    (tbl(pt, c.tbl[k])[pt_index(k, va)] & PTE_P))
					return busy(err, va);	/* inside a large leaf */
				count_new(counted, 1, k - 1, va, need);
			}
		}
	}
	return 0;
}

int pt_link(struct pgtable *pt, struct pt_range *r, u64 iova, const u64 *pfns,
	    u64 n, u32 target, u32 prot, struct ual_err *err)
{
	struct pt_cursor c;
	struct pt_stack st;
	enum leaf_kind kind;
	u64 need, i, np, tmpl;
	int ret;

	ret = link_dry(pt, r, iova, pfns, n, &need, err);
	if (ret)
		return ret;
	ret = pool_take(pt, need, &st, err);
	if (ret)
		return ret;

	/* Commit: the dry pass proved that nothing below can fail. */
	cur_reset(pt, &c);
	for (i = 0; i < n; i += np) {
		u64 va = iova + (i << UAL_PAGE_SHIFT);
		u64 *t;
		u32 x, j;

		np = leaf_run(pt, va, pfns + i, n - i, true, &kind);
		if (kind == LEAF_2M) {
			descend_create(pt, &c, va, 2, &st);
			t = tbl(pt, c.tbl[2]);
			x = pt_index(2, va);
			if (!can_take_2m(pt, r, t[x])) {
				np = leaf_run(pt, va, pfns + i, n - i, false, &kind);
			} else {
				if (pte_is_table(t[x])) {
					/* Keep the displaced table for unlink
					 * (prealloc) or give it back. */
					if (r->prealloc)
						stack_push(pt, &r->stash, (u32)pte_pfn(t[x]));
					else
						pool_put(pt, (u32)pte_pfn(t[x]));
				} else {
					meta(pt, c.tbl[2])->valid++;
				}
				t[x] = mk_leaf(pfns[i], target, prot, false);
				pt->mapped += np;
				continue;
			}
		}
		descend_create(pt, &c, va, 1, &st);
		t = tbl(pt, c.tbl[1]);
		x = pt_index(1, va);
		/* Everything but the PFN is the same for the whole run. */
		tmpl = mk_leaf(0, target, prot, kind == LEAF_64K);
		for (j = 0; j < np; j++)
			t[x + j] = tmpl | ((pfns[i + j] & PTE_PFN_MASK) << PTE_PFN_SHIFT);
		meta(pt, c.tbl[1])->valid += (u32)np;
		pt->mapped += np;
	}
	pool_give_back(pt, &st);	/* nothing left unless the count was high */
	return 0;
}

/* ---- unlink ------------------------------------------------------------------ */

/* Pages of [va, end) inside the level-1 table that maps @va. */
static u32 l1_span(u64 va, u64 end)
{
	u64 left = (end - va) >> UAL_PAGE_SHIFT;
	u32 room = PT_ENTRIES - pt_index(1, va);

	return left < room ? (u32)left : room;
}

static int must_unlink_whole(struct ual_err *err, u64 size, u64 va)
{
	return ual_err_set(err, UAL_EINVAL, "%s entry at IOVA 0x%llx must be unlinked whole",
			   size == SZ_64K ? "64 KiB" : "2 MiB",
			   (unsigned long long)(va & ~(size - 1)));
}

/*
 * Level-1 entries are checked a table at a time: one walk per table, then
 * a scan of the entries the part covers.
 */
static int unlink_dry(const struct pgtable *pt, u64 iova, u64 len, struct ual_err *err)
{
	struct pt_cursor c;
	u64 va = iova, end = iova + len;

	cur_reset(pt, &c);
	while (va < end) {
		u32 k = descend(pt, &c, va, 1);
		u64 pte = k <= pt->levels ? tbl(pt, c.tbl[k])[pt_index(k, va)] : 0;
		u64 size;

		if (!(pte & PTE_P))
			return ual_err_set(err, UAL_ENOENT, "IOVA 0x%llx is not linked",
					   (unsigned long long)va);
		if (k == 1) {
			const u64 *t = tbl(pt, c.tbl[1]);
			u32 x = pt_index(1, va), lim = l1_span(va, end), j = 0;

			while (j < lim) {
				u64 e = t[x + j];

				if (!(e & PTE_P))
					return ual_err_set(err, UAL_ENOENT,
							   "IOVA 0x%llx is not linked",
							   (unsigned long long)(va + ((u64)j << UAL_PAGE_SHIFT)));
				if (!(e & PTE_CONT)) {
					j++;
					continue;
				}
				if (((x + j) & (CONT_PAGES - 1)) || lim - j < CONT_PAGES)
					return must_unlink_whole(err, SZ_64K,
								 va + ((u64)j << UAL_PAGE_SHIFT));
				j += CONT_PAGES;
			}
			va += (u64)lim << UAL_PAGE_SHIFT;
			continue;
		}
		size = 1ull << entry_shift(k);
		if ((va & (size - 1)) || end - va < size)
			return must_unlink_whole(err, size, va);
		va += size;
	}
	return 0;
}

static void unlink_commit(struct pgtable *pt, struct pt_range *r, u64 iova, u64 len)
{
	struct pt_cursor c;
	u64 va = iova, end = iova + len;

	cur_reset(pt, &c);
	while (va < end) {
		u32 k = descend(pt, &c, va, 1);
		u64 *t = tbl(pt, c.tbl[k]);
		u32 x = pt_index(k, va);
		u64 np;

		if (k >= 2) {
			np = 1ull << (entry_shift(k) - UAL_PAGE_SHIFT);
			if (r->prealloc && r->stash.count) {
				/* Put the stashed level-1 table back, pinned,
				 * so the range never needs the pool. */
				u32 child = stack_pop(pt, &r->stash);

				page_reset(pt, child);
				meta(pt, child)->pins = 1;
				t[x] = mk_table(child);
			} else {
				t[x] = 0;
				meta(pt, c.tbl[k])->valid--;
				free_empty(pt, &c, k);
			}
		} else {
			/* The dry pass proved the span holds whole leaves. */
			u32 j, lim = l1_span(va, end);

			for (j = 0; j < lim; j++)
				t[x + j] = 0;
			np = lim;
			meta(pt, c.tbl[1])->valid -= lim;
			free_empty(pt, &c, 1);
		}
		pt->mapped -= np;
		va += np << UAL_PAGE_SHIFT;
	}
}

int pt_unlink(struct pgtable *pt, struct pt_range *r, u64 iova, u64 len,
	      struct ual_err *err)
{
	int ret = unlink_dry(pt, iova, len, err);

	if (ret)
		return ret;
	unlink_commit(pt, r, iova, len);
	return 0;
}

void pt_clear(struct pgtable *pt, struct pt_range *r, u64 iova, u64 len)
{
	u64 va = iova, end = iova + len;

	while (va < end) {
		struct pt_leaf leaf;
		u64 skip;

		if (pt_lookup(pt, va, &leaf, &skip)) {
			unlink_commit(pt, r, leaf.iova, leaf.size);
			va = leaf.iova + leaf.size;
		} else {
			va += skip;
		}
		if (!va)
			break;	/* wrapped at the top of the space */
	}
}

/* ---- lookup and dump ------------------------------------------------------ */

bool pt_lookup(const struct pgtable *pt, u64 iova, struct pt_leaf *leaf, u64 *skip)
{
	u32 k = pt->levels, t = pt->root;

	if (t == PT_NONE || iova >> pt->dma_bits) {
		*skip = iova >> pt->dma_bits ? ~0ull - iova + 1 : (1ull << pt->dma_bits) - iova;
		return false;
	}
	for (;;) {
		u64 pte = tbl(pt, t)[pt_index(k, iova)];
		u64 size = 1ull << entry_shift(k);

		if (!(pte & PTE_P)) {
			*skip = size - (iova & (size - 1));
			return false;
		}
		if (pte_is_table(pte)) {
			t = (u32)pte_pfn(pte);
			k--;
			continue;
		}
		leaf->pfn = pte_pfn(pte);
		if (k == 1 && (pte & PTE_CONT)) {
			size = SZ_64K;
			leaf->pfn -= (iova >> UAL_PAGE_SHIFT) & (CONT_PAGES - 1);
		}
		leaf->iova = iova & ~(size - 1);
		leaf->size = size;
		leaf->target = (u32)((pte >> PTE_TGT_SHIFT) & PTE_TGT_MASK);
		leaf->prot = pte_prot(pte);
		leaf->level = k;
		return true;
	}
}

struct dump_state {
	u64 s, e;
	struct ual_mapping *out;
	u64 max, count;
};

static void dump_tbl(const struct pgtable *pt, u32 t, u32 k, u64 tbase,
		     struct dump_state *ds)
{
	unsigned int sh = entry_shift(k);
	u64 first = ds->s > tbase ? (ds->s - tbase) >> sh : 0;
	u64 last = (ds->e - 1 - tbase) >> sh;	/* e > tbase: checked by caller */
	u64 i;

	if (first >= PT_ENTRIES)
		return;
	if (last >= PT_ENTRIES)
		last = PT_ENTRIES - 1;
	for (i = first; i <= last; i++) {
		u64 pte = tbl(pt, t)[i];
		u64 va = tbase + (i << sh), size = 1ull << sh;

		if (!(pte & PTE_P))
			continue;
		if (pte_is_table(pte)) {
			dump_tbl(pt, (u32)pte_pfn(pte), k - 1, va, ds);
			continue;
		}
		if (pte & PTE_CONT) {
			if (i & (CONT_PAGES - 1))
				continue;	/* reported with its first entry */
			size = SZ_64K;
		}
		if (va < ds->s || va >= ds->e)
			continue;
		if (ds->count < ds->max) {
			struct ual_mapping *m = &ds->out[ds->count];

			m->iova = va;
			m->phys = pte_pfn(pte) << UAL_PAGE_SHIFT;
			m->size = size;
			m->target = (u16)((pte >> PTE_TGT_SHIFT) & PTE_TGT_MASK);
			m->level = (u16)k;
			m->prot = pte_prot(pte);
		}
		ds->count++;
	}
}

u64 pt_dump(const struct pgtable *pt, u64 iova, u64 end, struct ual_mapping *out,
	    u64 max)
{
	struct dump_state ds = { .s = iova, .e = end, .out = out, .max = max };
	u64 limit = 1ull << pt->dma_bits;

	if (ds.e > limit)
		ds.e = limit;
	if (pt->root == PT_NONE || ds.s >= ds.e)
		return 0;
	dump_tbl(pt, pt->root, pt->levels, 0, &ds);
	return ds.count;
}

/* ---- preallocation -------------------------------------------------------- */

/*
 * Visit the entries of level-@k table @t that [s, e) covers: calls
 * back with each entry index and the part of [s, e) it maps.
 */
#define for_each_entry(k, s, e, va, sub_end, x)					\
	for (va = (s); va < (e) && (x = pt_index(k, va),			\
		sub_end = UAL_MIN((e), (va | ((1ull << entry_shift(k)) - 1)) + 1), 1); \
	     va = sub_end)

static u64 count_missing(const struct pgtable *pt, u32 t, u32 k, u64 s, u64 e)
{
	u64 va, sub_end, n = 0;
	u32 x;

	if (k < 2)
		return 0;
	for_each_entry(k, s, e, va, sub_end, x) {
		u64 pte = tbl(pt, t)[x];

		if (pte_is_table(pte))
			n += count_missing(pt, (u32)pte_pfn(pte), k - 1, va, sub_end);
		else if (!(pte & PTE_P))
			n += tables_span(1, k - 1, va, sub_end);
	}
	return n;
}

static void install_pinned(struct pgtable *pt, u32 t, u32 k, u64 s, u64 e,
			   struct pt_stack *st)
{
	u64 va, sub_end;
	u32 x;

	for_each_entry(k, s, e, va, sub_end, x) {
		u64 *pte = &tbl(pt, t)[x];
		u32 child;

		if (!(*pte & PTE_P)) {
			child = stack_pop(pt, st);
			*pte = mk_table(child);
			meta(pt, t)->valid++;
		} else if (*pte & PTE_LEAF) {
			continue;	/* cannot happen in a fresh range */
		}
		child = (u32)pte_pfn(*pte);
		meta(pt, child)->pins++;
		if (k - 1 >= 2)
			install_pinned(pt, child, k - 1, va, sub_end, st);
	}
}

int pt_prealloc(struct pgtable *pt, struct pt_range *r, u64 iova, u64 len,
		struct ual_err *err)
{
	u64 e = iova + len, need;
	struct pt_stack st;
	int ret;

	r->prealloc = true;
	r->stash.head = PT_NONE;
	r->stash.count = 0;
	if (pt->root == PT_NONE)
		need = 1 + (pt->levels >= 2 ? tables_span(1, pt->levels - 1, iova, e) : 0);
	else
		need = count_missing(pt, pt->root, pt->levels, iova, e);
	ret = pool_take(pt, need, &st, err);
	if (ret)
		return ret;
	if (pt->root == PT_NONE)
		pt->root = stack_pop(pt, &st);
	if (pt->levels >= 2)
		install_pinned(pt, pt->root, pt->levels, iova, e, &st);
	pool_give_back(pt, &st);
	return 0;
}

static void unpin(struct pgtable *pt, u32 t, u32 k, u64 s, u64 e)
{
	u64 va, sub_end;
	u32 x;

	for_each_entry(k, s, e, va, sub_end, x) {
		u64 *pte = &tbl(pt, t)[x];
		u32 child;
		struct pt_meta *m;

		if (!pte_is_table(*pte))
			continue;
		child = (u32)pte_pfn(*pte);
		if (k - 1 >= 2)
			unpin(pt, child, k - 1, va, sub_end);
		m = meta(pt, child);
		if (m->pins)
			m->pins--;
		if (!m->pins && !m->valid) {
			*pte = 0;
			meta(pt, t)->valid--;
			pool_put(pt, child);
		}
	}
}

void pt_unpin(struct pgtable *pt, struct pt_range *r, u64 iova, u64 len)
{
	if (!r->prealloc)
		return;
	if (pt->root != PT_NONE && pt->levels >= 2)
		unpin(pt, pt->root, pt->levels, iova, iova + len);
	pool_give_back(pt, &r->stash);
	r->prealloc = false;
}
