// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * range_alloc.c - AVL trees of free and allocated ranges (see range_alloc.h).
 *
 * Both trees are AVL trees with parent pointers, rebalanced bottom-up. The
 * free tree also keeps max_len (the longest free range of each subtree) up
 * to date; the used tree does not, its nodes carry the caller's data in that
 * word instead. Every walk is iterative except the first-fit search and
 * ra_check(), whose recursion depth is bounded by the AVL height (< 1.45
 * log2 n, about 30 for a million ranges): fine for a kernel stack too.
 */
#include "range_alloc.h"

/* A first-fit search that keeps failing alignment falls back after this
 * many node visits to a search that cannot fail (len + align - 1), so an
 * allocation stays O(log n) even in adversarial fragmentation. */
#define RA_FIRST_FIT_BUDGET 64

/* Slab chunk sizes: the first chunk of an allocator is small (there are
 * many allocators holding a handful of ranges), later ones double. */
#define RA_CHUNK_MIN 4
#define RA_CHUNK_MAX 64

struct ra_chunk {
	struct ual_list link;		/* in ra->partial or ra->full */
	struct ra_node *free;		/* free nodes, linked through ->left */
	u32 nr_nodes, nr_free;
	struct ra_node nodes[];
};

/* ---- node slab ------------------------------------------------------------ */

static void chunk_free(struct range_alloc *ra, struct ra_chunk *c)
{
	(void)ra;
	ual_list_del(&c->link);
	ual_free(c);
}

/* A zeroed node, or NULL when a new chunk cannot be allocated. May sleep. */
static struct ra_node *node_get(struct range_alloc *ra)
{
	struct ra_chunk *c;
	struct ra_node *n;
	u32 i;

	if (ual_list_empty(&ra->partial)) {
		u32 nodes = ra->chunk_nodes;

		c = ual_zalloc(ra->ctr, sizeof(*c) + nodes * sizeof(c->nodes[0]));
		if (!c)
			return NULL;
		c->nr_nodes = c->nr_free = nodes;
		for (i = 0; i < nodes; i++) {
			c->nodes[i].chunk = c;
			c->nodes[i].left = i + 1 < nodes ? &c->nodes[i + 1] : NULL;
		}
		c->free = &c->nodes[0];
		ual_list_add_tail(&c->link, &ra->partial);
		ra->nr_empty++;
		if (ra->chunk_nodes < RA_CHUNK_MAX)
			ra->chunk_nodes *= 2;
	}
	c = ual_container_of(ra->partial.next, struct ra_chunk, link);
	if (c->nr_free == c->nr_nodes)
		ra->nr_empty--;
	n = c->free;
	c->free = n->left;
	if (--c->nr_free == 0) {
		ual_list_del(&c->link);
		ual_list_add_tail(&c->link, &ra->full);
	}
	ual_memset(n, 0, sizeof(*n));
	n->chunk = c;
	return n;
}

/* Give a node back; frees its chunk when that leaves two empty ones. */
static void node_put(struct range_alloc *ra, struct ra_node *n)
{
	struct ra_chunk *c = n->chunk;

	if (c->nr_free == 0) {
		/* full -> partial, at the head: reuse the fullest chunks first */
		ual_list_del(&c->link);
		c->link.next = ra->partial.next;
		c->link.prev = &ra->partial;
		ra->partial.next->prev = &c->link;
		ra->partial.next = &c->link;
	}
	n->left = c->free;
	c->free = n;
	if (++c->nr_free < c->nr_nodes)
		return;
	if (ra->nr_empty) {
		chunk_free(ra, c);
		return;
	}
	/* keep one empty chunk, at the tail so partial ones are used first */
	ra->nr_empty++;
	ual_list_del(&c->link);
	ual_list_add_tail(&c->link, &ra->partial);
}

/* ---- AVL with parent pointers --------------------------------------------- */

static inline int height(const struct ra_node *n)
{
	return n ? n->height : 0;
}

static inline u64 max_len(const struct ra_node *n)
{
	return n ? n->max_len : 0;
}

/* Recompute @n's height and, in the free tree (@aug), its max_len. */
static inline void update(struct ra_node *n, bool aug)
{
	int hl = height(n->left), hr = height(n->right);

	n->height = 1 + UAL_MAX(hl, hr);
	if (aug)
		n->max_len = UAL_MAX(n->len, UAL_MAX(max_len(n->left), max_len(n->right)));
}

/* Make @new take @old's place under @parent (or as the root). */
static inline void replace_child(struct ra_node **root, struct ra_node *parent,
				 struct ra_node *old, struct ra_node *new)
{
	if (!parent)
		*root = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
	if (new)
		new->parent = parent;
}

static struct ra_node *rot_left(struct ra_node **root, struct ra_node *x, bool aug)
{
	struct ra_node *r = x->right;

	replace_child(root, x->parent, x, r);
	x->right = r->left;
	if (x->right)
		x->right->parent = x;
	r->left = x;
	x->parent = r;
	update(x, aug);
	update(r, aug);
	return r;
}

static struct ra_node *rot_right(struct ra_node **root, struct ra_node *x, bool aug)
{
	struct ra_node *l = x->left;

	replace_child(root, x->parent, x, l);
	x->left = l->right;
	if (x->left)
		x->left->parent = x;
	l->right = x;
	x->parent = l;
	update(x, aug);
	update(l, aug);
	return l;
}

/*
 * Restore balance and augmentation from @n up to the root after a subtree
 * below @n changed. Stops at the first node whose height and max_len come
 * out unchanged (nothing above it can change), but not before it has fixed
 * @must (the node a removal moved, whose subtree changed; may be NULL).
 */
static void fix_up(struct ra_node **root, struct ra_node *n, struct ra_node *must, bool aug)
{
	while (n) {
		struct ra_node *parent = n->parent;
		int old_h = n->height, bf;
		u64 old_m = n->max_len;
		bool passed;

		if (n == must)
			must = NULL;	/* its saved values are the old ones */
		passed = !must;
		update(n, aug);
		bf = height(n->left) - height(n->right);
		if (bf > 1) {
			if (height(n->left->left) < height(n->left->right))
				rot_left(root, n->left, aug);
			n = rot_right(root, n, aug);
		} else if (bf < -1) {
			if (height(n->right->right) < height(n->right->left))
				rot_right(root, n->right, aug);
			n = rot_left(root, n, aug);
		}
		/* A rotation keeps the subtree's node set, hence its max_len. */
		if (passed && n->height == old_h && (!aug || n->max_len == old_m))
			return;
		n = parent;
	}
}

/* Propagate a change of @n's len up the free tree while max_len changes. */
static void augment_up(struct ra_node *n)
{
	bool first = true;

	while (n) {
		u64 m = UAL_MAX(n->len, UAL_MAX(max_len(n->left), max_len(n->right)));

		if (!first && m == n->max_len)
			return;
		n->max_len = m;
		first = false;
		n = n->parent;
	}
}

static void insert(struct ra_node **root, struct ra_node *x, bool aug)
{
	struct ra_node *p = NULL, **link = root;

	while (*link) {
		p = *link;
		link = x->start < p->start ? &p->left : &p->right;
	}
	x->left = x->right = NULL;
	x->parent = p;
	x->height = 1;
	if (aug)
		x->max_len = x->len;
	*link = x;
	fix_up(root, p, NULL, aug);
}

/* Unlink node @n from its tree (it must be in it). */
static void remove_node(struct ra_node **root, struct ra_node *n, bool aug)
{
	struct ra_node *from, *must = NULL;

	if (!n->left || !n->right) {
		struct ra_node *child = n->left ? n->left : n->right;

		from = n->parent;
		replace_child(root, n->parent, n, child);
	} else {
		/* Splice the successor s (leftmost of the right subtree, no
		 * left child) into n's place. */
		struct ra_node *s = n->right;

		while (s->left)
			s = s->left;
		if (s == n->right) {
			from = s;
		} else {
			from = s->parent;
			from->left = s->right;
			if (s->right)
				s->right->parent = from;
			s->right = n->right;
			s->right->parent = s;
		}
		s->left = n->left;
		s->left->parent = s;
		s->height = n->height;
		if (aug)
			s->max_len = n->max_len;
		replace_child(root, n->parent, n, s);
		must = s;
	}
	fix_up(root, from, must, aug);
}

static struct ra_node *floor_node(struct ra_node *n, u64 key)
{
	struct ra_node *best = NULL;

	while (n) {
		if (n->start == key)
			return n;
		if (n->start < key) {
			best = n;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	return best;
}

static struct ra_node *ceil_node(struct ra_node *n, u64 key)
{
	struct ra_node *best = NULL;

	while (n) {
		if (n->start == key)
			return n;
		if (n->start > key) {
			best = n;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return best;
}

int ra_init(struct range_alloc *ra, u64 base, u64 end, ual_atomic64_t *ctr)
{
	struct ra_node *n;

	ual_memset(ra, 0, sizeof(*ra));
	ual_list_init(&ra->partial);
	ual_list_init(&ra->full);
	ra->chunk_nodes = RA_CHUNK_MIN;
	ra->base = base;
	ra->end = end;
	ra->ctr = ctr;
	if (end <= base)
		return 0;
	n = node_get(ra);
	if (!n)
		return UAL_ENOMEM;
	n->start = base;
	n->len = end - base;
	insert(&ra->free_root, n, true);
	ra->free_units = n->len;
	return 0;
}

void ra_destroy(struct range_alloc *ra)
{
	struct ual_list *lists[] = { &ra->partial, &ra->full };
	size_t i;

	/* A zeroed allocator that never went through ra_init() owns nothing. */
	for (i = 0; i < UAL_ARRAY_SIZE(lists) && lists[i]->next; i++)
		while (!ual_list_empty(lists[i]))
			chunk_free(ra, ual_container_of(lists[i]->next, struct ra_chunk, link));
	ra->free_root = ra->used_root = NULL;
	ra->hint = NULL;
	ra->nr_used = 0;
	ra->free_units = 0;
	ra->nr_empty = 0;
}

struct ff_search {
	u64 len, align, lo, hi;
	int budget;
	u64 at;
};

/* Does [at, at + len) fit in free node @n within [lo, hi)? */
static bool fits(const struct ra_node *n, struct ff_search *s)
{
	u64 from = UAL_MAX(n->start, s->lo);
	u64 end = UAL_MIN(n->start + n->len, s->hi);
	u64 at = ual_align_up(from, s->align);

	if (at < from || at >= end || end - at < s->len)
		return false;
	s->at = at;
	return true;
}

static struct ra_node *first_fit(struct ra_node *n, struct ff_search *s, u64 need)
{
	struct ra_node *r;

	if (!n || n->max_len < need || s->budget <= 0)
		return NULL;
	s->budget--;
	/* Free ranges do not overlap: everything left of a node starting at
	 * or below lo ends at or below lo. */
	if (n->start > s->lo) {
		r = first_fit(n->left, s, need);
		if (r || s->budget <= 0)
			return r;
	}
	if (n->start >= s->hi)
		return NULL;
	if (n->len >= need && fits(n, s))
		return n;
	return first_fit(n->right, s, need);
}

static struct ra_node *find_fit(struct range_alloc *ra, u64 len, u64 align,
				u64 lo, u64 hi, u64 *at)
{
	struct ff_search s = {
		.len = len, .align = align, .lo = lo, .hi = hi,
		.budget = RA_FIRST_FIT_BUDGET,
	};
	struct ra_node *n = first_fit(ra->free_root, &s, len);

	if (!n && s.budget <= 0 && len + align - 1 > len) {
		/* Any node this long fits wherever alignment falls, except
		 * where lo/hi cut it: the search re-checks with fits(). */
		s.budget = 1 << 30;
		n = first_fit(ra->free_root, &s, len + align - 1);
		if (!n) {
			s.budget = 1 << 30;
			n = first_fit(ra->free_root, &s, len);
		}
	}
	if (n)
		*at = s.at;
	return n;
}

/*
 * Carve [at, at + len) out of free node @f. @spare is a node for a right
 * remainder, @used the node that records the allocation; unused ones go
 * back to the slab. Cannot fail.
 */
static void carve(struct range_alloc *ra, struct ra_node *f, u64 at, u64 len,
		  struct ra_node *used, struct ra_node *spare, void *data)
{
	u64 fend = f->start + f->len;
	bool left = at > f->start, right = at + len < fend;

	if (!left && !right) {
		remove_node(&ra->free_root, f, true);
		node_put(ra, used);
		used = f;
	} else if (left && !right) {
		f->len = at - f->start;
		augment_up(f);
	} else if (!left && right) {
		/* New start keeps f between its neighbours: order holds. */
		f->start = at + len;
		f->len = fend - f->start;
		augment_up(f);
	} else {
		f->len = at - f->start;
		augment_up(f);
		spare->start = at + len;
		spare->len = fend - spare->start;
		insert(&ra->free_root, spare, true);
		spare = NULL;
	}
	if (spare)
		node_put(ra, spare);
	used->start = at;
	used->len = len;
	used->data = data;
	insert(&ra->used_root, used, false);
	ra->hint = used;	/* the next call is likely about this range */
	ra->nr_used++;
	ra->free_units -= len;
}

static int get_nodes(struct range_alloc *ra, struct ra_node *f, u64 at, u64 len,
		     struct ra_node **used, struct ra_node **spare)
{
	*spare = NULL;
	*used = node_get(ra);
	if (!*used)
		return UAL_ENOMEM;
	if (at > f->start && at + len < f->start + f->len) {
		*spare = node_get(ra);
		if (!*spare) {
			node_put(ra, *used);
			return UAL_ENOMEM;
		}
	}
	return 0;
}

int ra_alloc(struct range_alloc *ra, u64 len, u64 align, u64 lo, u64 hi,
	     void *data, u64 *start)
{
	struct ra_node *f, *used, *spare;
	u64 at = 0;
	int ret;

	if (!len || !ual_is_pow2(align))
		return UAL_EINVAL;
	lo = UAL_MAX(lo, ra->base);
	hi = UAL_MIN(hi, ra->end);
	if (lo >= hi || hi - lo < len)
		return UAL_ENOSPC;
	f = find_fit(ra, len, align, lo, hi, &at);
	if (!f)
		return UAL_ENOSPC;
	ret = get_nodes(ra, f, at, len, &used, &spare);
	if (ret)
		return ret;
	carve(ra, f, at, len, used, spare, data);
	*start = at;
	return 0;
}

int ra_reserve(struct range_alloc *ra, u64 start, u64 len, void *data)
{
	struct ra_node *f, *used, *spare;
	int ret;

	if (!len)
		return UAL_EINVAL;
	if (start < ra->base || start >= ra->end || ra->end - start < len)
		return UAL_ERANGE;
	f = floor_node(ra->free_root, start);
	if (!f || f->start + f->len < start + len)
		return UAL_EEXIST;
	ret = get_nodes(ra, f, start, len, &used, &spare);
	if (ret)
		return ret;
	carve(ra, f, start, len, used, spare, data);
	return 0;
}

int ra_free(struct range_alloc *ra, u64 start)
{
	struct ra_node *u = ra_find(ra, start), *p, *s;
	u64 end;

	if (!u)
		return UAL_ENOENT;
	remove_node(&ra->used_root, u, false);
	if (ra->hint == u)
		ra->hint = NULL;
	ra->nr_used--;
	ra->free_units += u->len;
	end = u->start + u->len;
	p = start ? floor_node(ra->free_root, start - 1) : NULL;
	s = ceil_node(ra->free_root, start);
	if (p && p->start + p->len != start)
		p = NULL;
	if (s && s->start != end)
		s = NULL;
	if (p && s) {
		p->len += u->len + s->len;
		remove_node(&ra->free_root, s, true);
		node_put(ra, s);
		augment_up(p);
		node_put(ra, u);
	} else if (p) {
		p->len += u->len;
		augment_up(p);
		node_put(ra, u);
	} else if (s) {
		s->start = start;
		s->len += u->len;
		augment_up(s);
		node_put(ra, u);
	} else {
		insert(&ra->free_root, u, true);	/* sets max_len over data */
	}
	return 0;
}

struct ra_node *ra_find(const struct range_alloc *ra, u64 start)
{
	struct ra_node *n = ra->hint;

	if (n && n->start == start)
		return n;
	n = floor_node(ra->used_root, start);

	return n && n->start == start ? n : NULL;
}

struct ra_node *ra_lookup(const struct range_alloc *ra, u64 addr)
{
	struct range_alloc *w = (struct range_alloc *)ra;	/* the hint only */
	struct ra_node *n = ra->hint;

	if (n && addr - n->start < n->len)
		return n;
	n = floor_node(ra->used_root, addr);
	if (n && addr - n->start < n->len) {
		w->hint = n;
		return n;
	}
	return NULL;
}

struct ra_node *ra_next(const struct range_alloc *ra, u64 from)
{
	return ceil_node(ra->used_root, from);
}

struct check_state {
	bool ok, have_prev, is_free;
	u64 prev_end;
	u64 sum;
	u64 count;
};

static int check_node(const struct ra_node *n, const struct ra_node *parent,
		      struct check_state *st)
{
	int hl, hr;
	u64 m;

	if (!n)
		return 0;
	if (n->parent != parent)
		st->ok = false;
	hl = check_node(n->left, n, st);
	if (st->have_prev && n->start < st->prev_end + (st->is_free ? 1 : 0))
		st->ok = false;	/* overlap, disorder, or unmerged free ranges */
	st->have_prev = true;
	st->prev_end = n->start + n->len;
	st->sum += n->len;
	st->count++;
	hr = check_node(n->right, n, st);
	if (hl - hr > 1 || hr - hl > 1 || n->height != 1 + UAL_MAX(hl, hr))
		st->ok = false;
	if (st->is_free) {
		m = UAL_MAX(n->len, UAL_MAX(max_len(n->left), max_len(n->right)));
		if (n->max_len != m)
			st->ok = false;
	}
	if (!n->len)
		st->ok = false;
	return 1 + UAL_MAX(hl, hr);
}

/* Nodes in use according to the slab; checks each chunk's free count. */
static bool check_slab(const struct range_alloc *ra, u64 *in_use)
{
	const struct ual_list *lists[] = { &ra->partial, &ra->full };
	const struct ual_list *l;
	u32 empty = 0;
	size_t i;

	*in_use = 0;
	for (i = 0; i < UAL_ARRAY_SIZE(lists); i++) {
		for (l = lists[i]->next; l != lists[i]; l = l->next) {
			const struct ra_chunk *c = ual_container_of(l, struct ra_chunk, link);
			const struct ra_node *f;
			u32 nfree = 0;

			for (f = c->free; f; f = f->left) {
				if (f->chunk != c || ++nfree > c->nr_nodes)
					return false;
			}
			if (nfree != c->nr_free || (i == 1) != (nfree == 0))
				return false;
			empty += nfree == c->nr_nodes;
			*in_use += c->nr_nodes - nfree;
		}
	}
	return empty == ra->nr_empty && empty <= 1;
}

bool ra_check(const struct range_alloc *ra)
{
	struct check_state f = { .ok = true, .is_free = true };
	struct check_state u = { .ok = true };
	u64 in_use;

	check_node(ra->free_root, NULL, &f);
	check_node(ra->used_root, NULL, &u);
	return f.ok && u.ok && f.sum == ra->free_units && u.count == ra->nr_used &&
	       f.sum + u.sum == ra->end - ra->base && check_slab(ra, &in_use) &&
	       in_use == f.count + u.count;
}
