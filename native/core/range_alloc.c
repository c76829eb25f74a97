// SPDX-License-Identifier: GPL-2.0-only OR Apache-2.0
/*
 * range_alloc.c - AVL trees of free and allocated ranges (see range_alloc.h).
 *
 * Recursion depth is bounded by the AVL height (< 1.45 log2 n, about 30 for
 * a million ranges), which is fine for a kernel stack too.
 */
#include "range_alloc.h"

/* A first-fit search that keeps failing alignment falls back after this
 * many node visits to a search that cannot fail (len + align - 1), so an
 * allocation stays O(log n) even in adversarial fragmentation. */
#define RA_FIRST_FIT_BUDGET 64

static inline int height(const struct ra_node *n)
{
	return n ? n->height : 0;
}

static inline u64 max_len(const struct ra_node *n)
{
	return n ? n->max_len : 0;
}

static void update(struct ra_node *n)
{
	int hl = height(n->left), hr = height(n->right);
	u64 m = UAL_MAX(max_len(n->left), max_len(n->right));

	n->height = 1 + UAL_MAX(hl, hr);
	n->max_len = UAL_MAX(n->len, m);
}

static struct ra_node *rot_right(struct ra_node *n)
{
	struct ra_node *l = n->left;

	n->left = l->right;
	l->right = n;
	update(n);
	update(l);
	return l;
}

static struct ra_node *rot_left(struct ra_node *n)
{
	struct ra_node *r = n->right;

	n->right = r->left;
	r->left = n;
	update(n);
	update(r);
	return r;
}

static struct ra_node *balance(struct ra_node *n)
{
	int bf;

	update(n);
	bf = height(n->left) - height(n->right);
	if (bf > 1) {
		if (height(n->left->left) < height(n->left->right))
			n->left = rot_left(n->left);
		return rot_right(n);
	}
	if (bf < -1) {
		if (height(n->right->right) < height(n->right->left))
			n->right = rot_right(n->right);
		return rot_left(n);
	}
	return n;
}

static struct ra_node *insert(struct ra_node *root, struct ra_node *x)
{
	if (!root) {
		x->left = x->right = NULL;
		update(x);
		return x;
	}
	if (x->start < root->start)
		root->left = insert(root->left, x);
	else
		root->right = insert(root->right, x);
	return balance(root);
}

static struct ra_node *remove_min(struct ra_node *n, struct ra_node **min)
{
	if (!n->left) {
		*min = n;
		return n->right;
	}
	n->left = remove_min(n->left, min);
	return balance(n);
}

static struct ra_node *remove(struct ra_node *n, u64 key, struct ra_node **out)
{
	struct ra_node *l, *r, *m;

	if (!n)
		return NULL;
	if (key < n->start) {
		n->left = remove(n->left, key, out);
	} else if (key > n->start) {
		n->right = remove(n->right, key, out);
	} else {
		*out = n;
		l = n->left;
		r = n->right;
		if (!r)
			return l;
		r = remove_min(r, &m);
		m->left = l;
		m->right = r;
		return balance(m);
	}
	return balance(n);
}

/* Recompute the augmentation on the path to @key after a node's len (or
 * its start, keeping the order) changed in place. */
static void touch(struct ra_node *n, u64 key)
{
	if (!n)
		return;
	if (key < n->start)
		touch(n->left, key);
	else if (key > n->start)
		touch(n->right, key);
	update(n);
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

static void destroy(struct ra_node *n)
{
	/* Iterative on the right spine keeps recursion at tree height. */
	while (n) {
		struct ra_node *r = n->right;

		destroy(n->left);
		ual_free(n);
		n = r;
	}
}

int ra_init(struct range_alloc *ra, u64 base, u64 end, ual_atomic64_t *ctr)
{
	struct ra_node *n;

	ual_memset(ra, 0, sizeof(*ra));
	ra->base = base;
	ra->end = end;
	ra->ctr = ctr;
	if (end <= base)
		return 0;
	n = ual_zalloc(ctr, sizeof(*n));
	if (!n)
		return UAL_ENOMEM;
	n->start = base;
	n->len = end - base;
	ra->free_root = insert(NULL, n);
	ra->free_units = n->len;
	return 0;
}

void ra_destroy(struct range_alloc *ra)
{
	destroy(ra->free_root);
	destroy(ra->used_root);
	ra->free_root = ra->used_root = NULL;
	ra->hint = NULL;
	ra->nr_used = 0;
	ra->free_units = 0;
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
 * remainder, @used the node that records the allocation; unused ones are
 * freed. Cannot fail.
 */
static void carve(struct range_alloc *ra, struct ra_node *f, u64 at, u64 len,
		  struct ra_node *used, struct ra_node *spare, void *data)
{
	u64 fend = f->start + f->len;
	bool left = at > f->start, right = at + len < fend;
	struct ra_node *out;

	if (!left && !right) {
		ra->free_root = remove(ra->free_root, f->start, &out);
		ual_free(used);
		used = f;
	} else if (left && !right) {
		f->len = at - f->start;
		touch(ra->free_root, f->start);
	} else if (!left && right) {
		/* New start keeps f between its neighbours: order holds. */
		f->start = at + len;
		f->len = fend - f->start;
		touch(ra->free_root, f->start);
	} else {
		f->len = at - f->start;
		touch(ra->free_root, f->start);
		spare->start = at + len;
		spare->len = fend - spare->start;
		ra->free_root = insert(ra->free_root, spare);
		spare = NULL;
	}
	if (spare)
		ual_free(spare);
	used->start = at;
	used->len = len;
	used->data = data;
	ra->used_root = insert(ra->used_root, used);
	ra->hint = used;	/* the next call is likely about this range */
	ra->nr_used++;
	ra->free_units -= len;
}

static int get_nodes(struct range_alloc *ra, struct ra_node *f, u64 at, u64 len,
		     struct ra_node **used, struct ra_node **spare)
{
	*spare = NULL;
	*used = ual_zalloc(ra->ctr, sizeof(**used));
	if (!*used)
		return UAL_ENOMEM;
	if (at > f->start && at + len < f->start + f->len) {
		*spare = ual_zalloc(ra->ctr, sizeof(**spare));
		if (!*spare) {
			ual_free(*used);
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
	struct ra_node *u = NULL, *p, *s, *gone;
	u64 end;

	ra->used_root = remove(ra->used_root, start, &u);
	if (!u)
		return UAL_ENOENT;
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
		ra->free_root = remove(ra->free_root, s->start, &gone);
		ual_free(gone);
		touch(ra->free_root, p->start);
		ual_free(u);
	} else if (p) {
		p->len += u->len;
		touch(ra->free_root, p->start);
		ual_free(u);
	} else if (s) {
		s->start = start;
		s->len += u->len;
		touch(ra->free_root, s->start);
		ual_free(u);
	} else {
		u->data = NULL;
		ra->free_root = insert(ra->free_root, u);
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

static int check_node(const struct ra_node *n, struct check_state *st)
{
	int hl, hr;
	u64 m;

	if (!n)
		return 0;
	hl = check_node(n->left, st);
	if (st->have_prev && n->start < st->prev_end + (st->is_free ? 1 : 0))
		st->ok = false;	/* overlap, disorder, or unmerged free ranges */
	st->have_prev = true;
	st->prev_end = n->start + n->len;
	st->sum += n->len;
	st->count++;
	hr = check_node(n->right, st);
	if (hl - hr > 1 || hr - hl > 1 || n->height != 1 + UAL_MAX(hl, hr))
		st->ok = false;
	m = UAL_MAX(n->len, UAL_MAX(max_len(n->left), max_len(n->right)));
	if (st->is_free && n->max_len != m)
		st->ok = false;
	if (!n->len)
		st->ok = false;
	return 1 + UAL_MAX(hl, hr);
}

bool ra_check(const struct range_alloc *ra)
{
	struct check_state f = { .ok = true, .is_free = true };
	struct check_state u = { .ok = true };

	check_node(ra->free_root, &f);
	check_node(ra->used_root, &u);
	return f.ok && u.ok && f.sum == ra->free_units && u.count == ra->nr_used &&
	       f.sum + u.sum == ra->end - ra->base;
}
