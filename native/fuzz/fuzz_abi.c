// SPDX-License-Identifier: Apache-2.0
/*
 * fuzz_abi.c - libFuzzer harness for the ual.h ABI against the fake backend.
 *
 * An input is a fabric configuration (2 bytes) followed by a sequence of ABI
 * calls, each an opcode byte and argument bytes (values are drawn from the
 * model - live blocks, ranges, registrations - or taken raw, so both valid
 * and hostile arguments occur). A shadow model follows every call that
 * succeeds; after each call the harness checks the invariants that must
 * hold whatever the arguments were:
 *
 *  - success is legal: a call that the model says must fail (a PFN the
 *    handle may not name, a page already linked, a range of another handle,
 *    ...) did not succeed, and the main calls (link, unlink, free, grant,
 *    revoke) succeed when the model says they are legal and no resource
 *    (pool, table) ran out;
 *  - page tables: ual_dump() of a domain equals the model page for page
 *    (target, PFN, protection) and every leaf lies inside a live range;
 *    ual_query() counters (mapped pages, ranges, free memory, grants) match;
 *  - a failed call changed nothing (counters and pool before == after);
 *  - link and unlink on a UAL_IOVA_PREALLOC range allocate nothing;
 *  - no grant outside what was granted: every ual_translate() and
 *    ual_copy() outcome is the one the model predicts from the page tables
 *    and the grant tables (a linked page not yet synced may also fault from
 *    a stale TLB entry - the only freedom allowed); a local request
 *    reaches a host page only through the handle that registered it; a
 *    successful copy moved the source bytes to the destination;
 *  - unregister succeeds exactly when the buffer is registered through the
 *    handle and none of its pages is linked or granted (else UAL_EBUSY);
 *  - fault rings: the records read and the lost count equal the model's
 *    ring of refused requests (one record per refused translate/copy in the
 *    initiator's ring, one more in the target's when the target refused),
 *    with consecutive sequence numbers.
 *
 * Any violation prints what differs and aborts (libFuzzer saves the input).
 * Build: make -C native/fuzz; run: scripts/fuzz [--seconds N].
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ual.h"

#define NA	3		/* accelerators */
#define NH	4		/* handles: accel 0, 1, 2 and a second owner on 0 */
#define MEMPG	2048		/* mem=8M */
#define ARENA_PG 32		/* host buffer pages shared by every handle */
#define HOST_PFN (UAL_HOST_BASE >> UAL_PAGE_SHIFT)
#define MAXL	8192		/* linked pages the model holds at most */
#define MAXOPS	400
#define PG	UAL_PAGE_SIZE
#define UAL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

typedef uint64_t u64;
typedef uint32_t u32;
typedef uint8_t u8;

static const u32 h_accel[NH] = { 0, 1, 2, 0 };

#define FAIL(...)							\
	do {								\
		fprintf(stderr, "fuzz_abi: invariant violated at op %d (%s): ", op_no, op_name); \
		fprintf(stderr, __VA_ARGS__);				\
		fprintf(stderr, "\n  last error: %s\n", ual_last_error()); \
		abort();						\
	} while (0)
#define CHECK(c, ...) do { if (!(c)) FAIL(__VA_ARGS__); } while (0)

/* ---- input ------------------------------------------------------------- */
static const u8 *in_p;
static size_t in_n;

static u8 g8(void)
{
	if (!in_n)
		return 0;
	in_n--;
	return *in_p++;
}

static u32 g16(void) { return g8() | (u32)g8() << 8; }
static u32 g32(void) { return g16() | g16() << 16; }
static u64 g64(void) { return g32() | (u64)g32() << 32; }

/* ---- model ------------------------------------------------------------- */
struct block { u32 accel, h; u64 pfn, npages; };
struct reg { u32 h; u64 upage, npages, pfn; };
struct range { u32 h; u64 iova, size; u32 flags; };
struct link { u32 accel; u64 page; u32 target; u64 pfn; u32 prot; bool stale; bool used; };
struct hgrant { u32 t, i; u64 pfn; u32 gid; };
struct gdesc { u32 prot, h; };
struct frec { u64 addr; u32 route, initiator, target, access, reason, at_target, len; };
struct ring { struct frec *q; u32 size, head, count; u64 lost; bool unknown; u64 next_seq; bool seq_known; };

static ual_dev *h[NH];
static u32 modes, dma_bits, ring_size;
static u8 *arena;

static int mem_owner[NA][MEMPG];		/* -1 free, else handle */
static struct block blocks[256];
static int nblocks;
static struct reg regs[64];
static int nregs;
static struct range ranges[128];
static int nranges;
static u32 gid_dev[NA][NA][MEMPG];		/* [target][initiator][pfn] */
static struct hgrant *hgrants;
static int nhgrants, hgcap;
static struct gdesc gdesc[4096];
static u32 ngid;
static struct link links[1 << 14];		/* open addressing, linear probe */
static u32 nlinked[NA];
static struct ring rings[NA];

static bool grants_dirty = true;
/* What the run exercised (UAL_FUZZ_STATS=1 prints it at exit). */
static u64 st_ok[17], st_calls[17], st_xl_ok, st_xl_refused, st_copy_ok, st_copy_refused,
	   st_records, st_stale;
static int op_no;
static u32 cur_op;
#define OK() (st_ok[cur_op]++)
static const char *op_name = "setup";

#define LSLOTS (1u << 14)

static u32 lhash(u32 a, u64 page)
{
	u64 x = (page * 0x9e3779b97f4a7c15ull) ^ ((u64)(a + 1) * 0xbf58476d1ce4e5b9ull);

	return (u32)(x >> 40) & (LSLOTS - 1);
}

static struct link *lfind(u32 a, u64 page)
{
	u32 i;

	for (i = lhash(a, page); links[i].used; i = (i + 1) & (LSLOTS - 1))
		if (links[i].accel == a && links[i].page == page)
			return &links[i];
	return NULL;
}

static void ladd(u32 a, u64 page, u32 target, u64 pfn, u32 prot)
{
	u32 i;

	for (i = lhash(a, page); links[i].used; i = (i + 1) & (LSLOTS - 1))
		;
	links[i] = (struct link){ a, page, target, pfn, prot, true, true };
	nlinked[a]++;
}

/* Backward-shift deletion keeps probe chains intact. */
static void ldel(struct link *l)
{
	u32 i = (u32)(l - links), j = i, k;

	nlinked[l->accel]--;
	for (;;) {
		links[i].used = false;
		for (;;) {
			j = (j + 1) & (LSLOTS - 1);
			if (!links[j].used)
				return;
			k = lhash(links[j].accel, links[j].page);
			if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
				continue;
			break;
		}
		links[i] = links[j];
		i = j;
	}
}

static u64 ltotal(void)
{
	return nlinked[0] + nlinked[1] + nlinked[2];
}

/* ---- model queries -------------------------------------------------------- */
static struct reg *reg_of_pfn(u32 accel, u64 pfn)
{
	int k;

	for (k = 0; k < nregs; k++)
		if (h_accel[regs[k].h] == accel && pfn >= regs[k].pfn &&
		    pfn - regs[k].pfn < regs[k].npages)
			return &regs[k];
	return NULL;
}

/* May handle @hh name @pfn of @t (map, link)? Device memory: allocated by
 * anyone; host page: registered through @hh. */
static bool pfn_ok(u32 hh, u32 t, u64 pfn)
{
	struct reg *r;

	if (pfn < MEMPG)
		return mem_owner[t][pfn] >= 0;
	r = reg_of_pfn(t, pfn);
	return r && r->h == hh;
}

static u32 gid_get(u32 t, u32 i, u64 pfn, int *hidx)
{
	int k;

	*hidx = -1;
	if (pfn < MEMPG)
		return gid_dev[t][i][pfn];
	for (k = 0; k < nhgrants; k++)
		if (hgrants[k].t == t && hgrants[k].i == i && hgrants[k].pfn == pfn) {
			*hidx = k;
			return hgrants[k].gid;
		}
	return 0;
}

static void gid_set(u32 t, u32 i, u64 pfn, u32 gid)
{
	int k;

	if (pfn < MEMPG) {
		gid_dev[t][i][pfn] = gid;
		return;
	}
	gid_get(t, i, pfn, &k);
	if (k >= 0) {
		if (gid)
			hgrants[k].gid = gid;
		else
			hgrants[k] = hgrants[--nhgrants];
		return;
	}
	if (!gid)
		return;
	if (nhgrants == hgcap) {
		hgcap = hgcap ? 2 * hgcap : 256;
		hgrants = realloc(hgrants, sizeof(*hgrants) * hgcap);
		if (!hgrants)
			abort();
	}
	hgrants[nhgrants++] = (struct hgrant){ t, i, pfn, gid };
}

/* Grant-table entries of target @t: maximal runs of one grant id. */
static u64 grant_entries(u32 t)
{
	u64 n = 0, p;
	u32 i;
	int k, x;

	for (i = 0; i < NA; i++)
		for (p = 0; p < MEMPG; p++)
			if (gid_dev[t][i][p] && (!p || gid_dev[t][i][p - 1] != gid_dev[t][i][p]))
				n++;
	for (k = 0; k < nhgrants; k++)
		if (hgrants[k].t == t &&
		    gid_get(t, hgrants[k].i, hgrants[k].pfn - 1, &x) != hgrants[k].gid)
			n++;
	return n;
}

static struct range *range_at(u32 hh, u64 iova)
{
	int k;

	for (k = 0; k < nranges; k++)
		if (ranges[k].h == hh && ranges[k].iova == iova)
			return &ranges[k];
	return NULL;
}

static struct range *range_containing(u32 accel, u64 iova)
{
	int k;

	for (k = 0; k < nranges; k++)
		if (h_accel[ranges[k].h] == accel && iova >= ranges[k].iova &&
		    iova - ranges[k].iova < ranges[k].size)
			return &ranges[k];
	return NULL;
}

/* Is a page of @r linked in some domain or granted to some initiator? */
static bool reg_busy(const struct reg *r)
{
	u32 a = h_accel[r->h], k;
	int g;

	for (k = 0; k < LSLOTS; k++)
		if (links[k].used && links[k].target == a && links[k].pfn >= r->pfn &&
		    links[k].pfn - r->pfn < r->npages)
			return true;
	for (g = 0; g < nhgrants; g++)
		if (hgrants[g].t == a && hgrants[g].pfn >= r->pfn && hgrants[g].pfn - r->pfn < r->npages)
			return true;
	return false;
}

static int model_ranges(u32 accel)
{
	int k, n = 0;

	for (k = 0; k < nranges; k++)
		n += h_accel[ranges[k].h] == accel;
	return n;
}

static u64 mem_free_pages(u32 a)
{
	u64 n = 0, p;

	for (p = 0; p < MEMPG; p++)
		n += mem_owner[a][p] < 0;
	return n;
}

/* ---- fault rings ---------------------------------------------------------- */
static void ring_push(u32 a, const struct frec *r)
{
	struct ring *q = &rings[a];

	if (q->count == q->size) {
		q->lost++;
		return;
	}
	q->q[(q->head + q->count) % q->size] = *r;
	q->count++;
}

/* A refused request as the fabric records it. */
static void record(u32 initiator, u64 addr, u32 route, u32 access, u32 len, u32 reason,
		   u32 target)
{
	struct frec r = { addr, route, initiator, target, access, reason, 0, len };

	ring_push(initiator, &r);
	if (target != UAL_ACCEL_NONE && target != initiator) {
		r.at_target = 1;
		ring_push(target, &r);
	}
}

/* ---- checks --------------------------------------------------------------- */
struct snap { struct ual_info info[NH]; };

static void snapshot(struct snap *s)
{
	u32 k;

	for (k = 0; k < NH; k++)
		CHECK(ual_query(h[k], &s->info[k]) == 0, "query of handle %u failed", k);
}

/* Nothing observable changed (TLB statistics aside). */
static void check_unchanged(const struct snap *a)
{
	struct snap b;
	u32 k;

	snapshot(&b);
	for (k = 0; k < NH; k++) {
		const struct ual_info *x = &a->info[k], *y = &b.info[k];

		CHECK(x->mem_free == y->mem_free && x->pt_pool_free == y->pt_pool_free &&
		      x->iova_ranges == y->iova_ranges && x->mapped_pages == y->mapped_pages &&
		      x->grants == y->grants,
		      "failed call changed handle %u: mem_free %llu->%llu pool %llu->%llu ranges %llu->%llu mapped %llu->%llu grants %llu->%llu",
		      k, (unsigned long long)x->mem_free, (unsigned long long)y->mem_free,
		      (unsigned long long)x->pt_pool_free, (unsigned long long)y->pt_pool_free,
		      (unsigned long long)x->iova_ranges, (unsigned long long)y->iova_ranges,
		      (unsigned long long)x->mapped_pages, (unsigned long long)y->mapped_pages,
		      (unsigned long long)x->grants, (unsigned long long)y->grants);
	}
}

static void check_counters(void)
{
	struct ual_info info;
	u32 a;

	for (a = 0; a < NA; a++) {
		CHECK(ual_query(h[a], &info) == 0, "query");
		CHECK(info.mem_free == mem_free_pages(a) * PG, "accel %u mem_free %llu, model %llu",
		      a, (unsigned long long)info.mem_free,
		      (unsigned long long)(mem_free_pages(a) * PG));
		CHECK(info.iova_ranges == (u64)model_ranges(a), "accel %u ranges %llu, model %d", a,
		      (unsigned long long)info.iova_ranges, model_ranges(a));
		CHECK(info.mapped_pages == nlinked[a], "accel %u mapped %llu, model %u", a,
		      (unsigned long long)info.mapped_pages, nlinked[a]);
		if (grants_dirty)
			CHECK(info.grants == grant_entries(a), "accel %u grants %llu, model %llu", a,
			      (unsigned long long)info.grants, (unsigned long long)grant_entries(a));
		CHECK(info.pt_pool_free <= info.pt_pool_pages, "pool free above capacity");
	}
	grants_dirty = false;
}

static struct ual_mapping dumpbuf[MAXL + 16];

/* ual_dump of @a's domain equals the model page for page. */
static void check_dump(u32 a)
{
	u64 count = 0, k, off, pages = 0;
	int ret;

	if (!(modes & UAL_MODE_VIRTUAL))
		return;
	ret = ual_dump(h[a], 0, 0, dumpbuf, UAL_ARRAY_SIZE(dumpbuf), &count);
	CHECK(ret == 0, "dump failed: %d", ret);
	CHECK(count <= UAL_ARRAY_SIZE(dumpbuf), "dump has %llu leaves for %u pages",
	      (unsigned long long)count, nlinked[a]);
	for (k = 0; k < count; k++) {
		const struct ual_mapping *m = &dumpbuf[k];
		struct range *r = range_containing(a, m->iova);

		CHECK(m->size == PG || m->size == UAL_PAGE_SIZE_64K || m->size == UAL_PAGE_SIZE_2M,
		      "leaf size 0x%llx", (unsigned long long)m->size);
		CHECK(!(m->iova & (m->size - 1)) && !(m->phys & (m->size - 1)),
		      "leaf 0x%llx -> 0x%llx not aligned to 0x%llx", (unsigned long long)m->iova,
		      (unsigned long long)m->phys, (unsigned long long)m->size);
		CHECK(r && m->iova + m->size - r->iova <= r->size,
		      "leaf 0x%llx+0x%llx outside every range of accelerator %u",
		      (unsigned long long)m->iova, (unsigned long long)m->size, a);
		CHECK(k == 0 || dumpbuf[k - 1].iova + dumpbuf[k - 1].size <= m->iova,
		      "dump not in IOVA order");
		for (off = 0; off < m->size; off += PG) {
			struct link *l = lfind(a, (m->iova + off) >> 12);

			CHECK(l, "dump maps IOVA 0x%llx the model has unlinked",
			      (unsigned long long)(m->iova + off));
			CHECK(l->target == m->target && l->pfn == (m->phys + off) >> 12 &&
			      l->prot == m->prot,
			      "IOVA 0x%llx: dump target %u pfn 0x%llx prot %u, model %u 0x%llx %u",
			      (unsigned long long)(m->iova + off), m->target,
			      (unsigned long long)((m->phys + off) >> 12), m->prot, l->target,
			      (unsigned long long)l->pfn, l->prot);
			pages++;
		}
	}
	CHECK(pages == nlinked[a], "dump maps %llu pages, model %u", (unsigned long long)pages,
	      nlinked[a]);
}

/* ---- prediction of one request -------------------------------------------- */
struct pred {
	int code;		/* 0, UAL_EFAULT, UAL_EACCES */
	u32 reason, ftarget;	/* refusal */
	u32 target, prot;	/* success */
	u64 phys;
	bool stale;		/* IOVA linked but not synced: may fault from the TLB */
	bool init_side;		/* refused before reaching a target */
};

static void refuse(struct pred *p, u32 reason, u32 ftarget)
{
	p->code = (reason == UAL_FAULT_NO_GRANT || reason == UAL_FAULT_GRANT_PROT) ?
		  UAL_EACCES : UAL_EFAULT;
	p->reason = reason;
	p->ftarget = ftarget;
}

/* Initiator side: route or page tables (as if the TLB were coherent). */
static void predict_init(u32 i, u64 addr, u32 route, u32 access, struct pred *p)
{
	struct link *l;

	memset(p, 0, sizeof(*p));
	p->init_side = true;
	if (route & UAL_ROUTE_PHYS) {
		if (!(modes & UAL_MODE_PHYSICAL))
			return refuse(p, UAL_FAULT_MODE, UAL_ACCEL_NONE);
		p->target = route & UAL_ROUTE_TARGET_MASK;
		if (p->target >= NA)
			return refuse(p, UAL_FAULT_BAD_TARGET, UAL_ACCEL_NONE);
		p->phys = addr;
		p->prot = UAL_PROT_RW;
		p->init_side = false;
		return;
	}
	if (!(modes & UAL_MODE_VIRTUAL))
		return refuse(p, UAL_FAULT_MODE, UAL_ACCEL_NONE);
	if (addr >> dma_bits)
		return refuse(p, UAL_FAULT_OUT_OF_RANGE, UAL_ACCEL_NONE);
	l = lfind(i, addr >> 12);
	if (!l)
		return refuse(p, UAL_FAULT_NOT_PRESENT, UAL_ACCEL_NONE);
	p->stale = l->stale;
	if (access & ~l->prot)
		return refuse(p, UAL_FAULT_PROT, UAL_ACCEL_NONE);
	p->target = l->target;
	p->prot = l->prot;
	p->phys = (l->pfn << 12) | (addr & (PG - 1));
	p->init_side = false;
}

/* Target side: memory range and grants. A local request reaches a host
 * page only when issued through handle @hh, which registered it. */
static void predict_target(u32 hh, u32 i, u32 route, u32 access, struct pred *p)
{
	u64 pfn = p->phys >> 12;
	u32 t = p->target, gid;
	struct reg *r = NULL;
	int x;

	if (!(p->phys >> UAL_PHYS_BITS) && pfn >= MEMPG)
		r = reg_of_pfn(t, pfn);
	if (p->phys >> UAL_PHYS_BITS || !(pfn < MEMPG || r))
		return refuse(p, UAL_FAULT_OUT_OF_RANGE, t);
	if (i == t) {
		if (r && r->h != hh)
			refuse(p, UAL_FAULT_NO_GRANT, t);
		return;
	}
	gid = gid_get(t, i, pfn, &x);
	if (!gid)
		return refuse(p, UAL_FAULT_NO_GRANT, t);
	if (access & ~gdesc[gid].prot)
		return refuse(p, UAL_FAULT_GRANT_PROT, t);
	if (route & UAL_ROUTE_PHYS)
		p->prot = gdesc[gid].prot;
}

static void predict(u32 hh, u32 i, u64 addr, u32 route, u32 access, struct pred *p)
{
	predict_init(i, addr, route, access, p);
	if (!p->code)
		predict_target(hh, i, route, access, p);
}

/* ---- value pickers ---------------------------------------------------------- */
static u32 pick_h(void) { return g8() % NH; }

static u32 pick_accel(void)
{
	u8 s = g8();

	return s < 240 ? s % NA : (s < 250 ? NA + s % 4 : g16());
}

static u64 pick_pfn(u32 t)
{
	u8 s = g8();
	int k, m;

	switch (s % 8) {
	case 0:
		return g64();
	case 1:
		return g16() % (MEMPG + 16);
	case 6:
	case 7:
		for (k = 0, m = g8(); k < nregs; k++) {
			struct reg *r = &regs[(k + m) % nregs];

			if (h_accel[r->h] == t || s == 7)
				return r->pfn + g8() % (r->npages + 1);
		}
		return HOST_PFN + g8();
	default:
		for (k = 0, m = g8(); k < nblocks; k++) {
			struct block *b = &blocks[(k + m) % nblocks];

			if (b->accel == t)
				return b->pfn + g16() % (b->npages + 1);
		}
		return g16() % MEMPG;
	}
}

static u64 pick_size(void)
{
	u8 s = g8();

	switch (s % 8) {
	case 0:
		return g64();
	case 1:
		return g16();
	case 2:
		return UAL_PAGE_SIZE_2M * (1 + g8() % 3);
	case 3:
		return UAL_PAGE_SIZE_64K * (1 + g8() % 8);
	default:
		return PG * (1 + g8() % 32);
	}
}

static u64 pick_iova(u32 hh, u64 *size)
{
	u8 s = g8();
	int k;

	*size = 0;
	if (s % 8 == 0 || !nranges)
		return g64();
	for (k = 0; k < nranges; k++) {
		struct range *r = &ranges[(k + s) % nranges];

		if (r->h == hh || s % 8 == 1) {
			*size = r->size;
			return r->iova;
		}
	}
	return g64() & ~(PG - 1);
}

/* Offset and length inside a range of @size bytes, sometimes not. */
static void pick_part(u64 size, u64 *off, u64 *len)
{
	u8 s = g8();
	u64 pages = size >> 12;

	if (s % 8 == 0 || !pages) {
		*off = g64();
		*len = g64();
		return;
	}
	*off = (g16() % pages) << 12;
	*len = (1 + g16() % (pages - (*off >> 12))) << 12;
	if (s % 8 == 1)
		*len += PG * (g8() % 4);
	if (s % 8 == 2)
		*off |= g8() & 0xfff;
}

static u32 pick_prot(void)
{
	u8 s = g8();

	return s < 250 ? 1 + s % 3 : s;
}

/* A fabric address: a live IOVA, a PFN of some target, or raw. */
static void pick_faddr(u32 i, struct ual_faddr *fa, u32 align)
{
	u8 s = g8();
	u64 sz;
	u32 t;

	memset(fa, 0, sizeof(*fa));
	switch (s % 6) {
	case 0:
		fa->addr = g64();
		fa->route = g8() < 128 ? 0 : UAL_ROUTE_PHYS | g16();
		if (g8() == 0xff)
			fa->rsvd = 1;
		break;
	case 1:
	case 2: {
		u64 iova = pick_iova(g8() % NH, &sz);

		/* An IOVA of the initiator's domain or of another one. */
		(void)i;
		fa->addr = iova + (sz ? (g16() % (sz >> 12 ? sz >> 12 : 1)) << 12 : 0) +
			   (g8() % 64) * align;
		break;
	}
	default:
		t = pick_accel();
		fa->addr = (pick_pfn(t % NA) << 12) + (g8() % 64) * align;
		fa->route = UAL_ROUTE(t);
		if (s % 6 == 5 && g8() < 16)
			fa->route = UAL_ROUTE_PHYS | (t & 0xffff);
		break;
	}
}

/* ---- model updates ---------------------------------------------------------- */
static void drop_range(int k)
{
	struct range *r = &ranges[k];
	u32 a = h_accel[r->h];
	u64 p;

	if (nlinked[a])
		for (p = 0; p < LSLOTS; p++) {
			while (links[p].used && links[p].accel == a &&
			       links[p].page >= r->iova >> 12 &&
			       links[p].page - (r->iova >> 12) < r->size >> 12)
				ldel(&links[p]);
		}
	ranges[k] = ranges[--nranges];
}

static void close_handle(u32 k)
{
	u32 other = (k + 1) % NH, t, i;
	int n;
	u64 p;
	ual_dev *nd = NULL;

	ual_close(h[k]);
	for (n = nranges; n-- > 0;)
		if (ranges[n].h == k)
			drop_range(n);
	for (n = nblocks; n-- > 0;)
		if (blocks[n].h == k) {
			for (p = 0; p < blocks[n].npages; p++)
				mem_owner[blocks[n].accel][blocks[n].pfn + p] = -1;
			blocks[n] = blocks[--nblocks];
		}
	for (n = nregs; n-- > 0;)
		if (regs[n].h == k)
			regs[n] = regs[--nregs];
	t = h_accel[k];
	for (i = 0; i < NA; i++)
		for (p = 0; p < MEMPG; p++)
			if (gid_dev[t][i][p] && gdesc[gid_dev[t][i][p]].h == k)
				gid_dev[t][i][p] = 0;
	for (n = nhgrants; n-- > 0;)
		if (gdesc[hgrants[n].gid].h == k)
			hgrants[n] = hgrants[--nhgrants];
	grants_dirty = true;
	CHECK(ual_open_peer(h[other], h_accel[k], &nd) == 0, "reopen of accelerator %u failed",
	      h_accel[k]);
	h[k] = nd;
}

/* ---- operations -------------------------------------------------------------- */
static void op_mem_alloc(void)
{
	u32 hh = pick_h(), a = h_accel[hh];
	u64 size = pick_size(), align = g8() % 4 ? PG << (g8() % 12) : g64(), pfn = ~0ull, p;
	struct snap s;
	int ret;

	snapshot(&s);
	ret = ual_mem_alloc(h[hh], size, align, &pfn);
	if (ret) {
		check_unchanged(&s);
		return;
	}
	OK();
	CHECK(size && !(size & (PG - 1)) && pfn < MEMPG && (size >> 12) <= MEMPG - pfn,
	      "mem_alloc gave 0x%llx+0x%llx", (unsigned long long)pfn, (unsigned long long)size);
	CHECK(!align || !((pfn << 12) & (align - 1)), "block 0x%llx not aligned to 0x%llx",
	      (unsigned long long)pfn, (unsigned long long)align);
	for (p = 0; p < size >> 12; p++) {
		CHECK(mem_owner[a][pfn + p] < 0, "mem_alloc handed out allocated PFN 0x%llx",
		      (unsigned long long)(pfn + p));
		mem_owner[a][pfn + p] = (int)hh;
	}
	if (nblocks < (int)UAL_ARRAY_SIZE(blocks))
		blocks[nblocks++] = (struct block){ a, hh, pfn, size >> 12 };
	else	/* model full: give it back */
		CHECK(ual_mem_free(h[hh], pfn, size) == 0 && (memset(&mem_owner[a][pfn], 0xff,
		      sizeof(int) * (size >> 12)), 1), "mem_free of a fresh block failed");
}

static void op_mem_free(void)
{
	u32 hh = pick_h(), a = h_accel[hh];
	int k = nblocks ? g8() % nblocks : -1, ret;
	u64 pfn, size, p;
	bool legal;
	struct snap s;

	if (k >= 0 && g8() % 4) {
		pfn = blocks[k].pfn;
		size = blocks[k].npages << 12;
		if (g8() % 8 == 0)
			size += PG;
	} else {
		pfn = pick_pfn(a);
		size = pick_size();
	}
	legal = k >= 0 && blocks[k].h == hh && blocks[k].pfn == pfn &&
		blocks[k].npages << 12 == size;
	snapshot(&s);
	ret = ual_mem_free(h[hh], pfn, size);
	if (ret) {
		CHECK(!legal, "mem_free of its own block failed: %d", ret);
		check_unchanged(&s);
		return;
	}
	OK();
	for (k = 0; k < nblocks; k++)
		if (blocks[k].h == hh && blocks[k].pfn == pfn)
			break;
	CHECK(k < nblocks && blocks[k].npages << 12 == size,
	      "mem_free of 0x%llx+0x%llx succeeded for no block of the handle",
	      (unsigned long long)pfn, (unsigned long long)size);
	for (p = 0; p < blocks[k].npages; p++)
		mem_owner[a][pfn + p] = -1;
	blocks[k] = blocks[--nblocks];
}

static void op_mem_rw(void)
{
	u32 hh = pick_h();
	u64 phys = g8() % 4 ? ((u64)g16() << 12) % (MEMPG * PG + PG) + g16() % PG : g64();
	u64 len = g8() % 8 ? g16() % 9000 : g64();
	u8 buf[9000];
	int ret;

	if (len > sizeof(buf)) {
		if (phys + len >= phys && phys + len <= MEMPG * PG)
			return;	/* would be legal: the buffer is too small */
		ret = ual_mem_read(h[hh], phys, buf, len);
		CHECK(ret != 0, "mem_read of 0x%llx bytes into a smaller buffer succeeded",
		      (unsigned long long)len);
		return;
	}
	memset(buf, g8(), len);
	ret = (g8() & 1) ? ual_mem_write(h[hh], phys, buf, len) : ual_mem_read(h[hh], phys, buf, len);
	CHECK(!ret == (!len || (phys + len >= phys && phys + len <= MEMPG * PG)),
	      "mem_rw 0x%llx+0x%llx returned %d", (unsigned long long)phys,
	      (unsigned long long)len, ret);
}

static void op_register(void)
{
	u32 hh = pick_h();
	u64 up = g8() % ARENA_PG, n = 1 + g8() % 8, pfns[ARENA_PG + 8], k;
	void *addr = arena + up * PG;
	struct snap s;
	int ret, j;

	if (g8() % 8 == 0)
		addr = (u8 *)addr + g8();
	if (up + n > ARENA_PG)
		n = ARENA_PG - up;
	if (g8() % 4 == 0) {	/* unregister */
		bool busy;

		snapshot(&s);
		ret = ual_mem_unregister(h[hh], addr);
		for (j = 0; j < nregs; j++)
			if (regs[j].h == hh && arena + regs[j].upage * PG == addr)
				break;
		busy = j < nregs && reg_busy(&regs[j]);
		CHECK(!ret == (j < nregs && !busy) && (!busy || ret == UAL_EBUSY),
		      "unregister of %p by handle %u returned %d (registered %d, linked or granted %d)",
		      addr, hh, ret, j < nregs, busy);
		if (ret)
			check_unchanged(&s);
		else
			regs[j] = regs[--nregs];
		return;
	}
	if (nregs == (int)UAL_ARRAY_SIZE(regs))
		return;
	snapshot(&s);
	ret = ual_mem_register(h[hh], addr, n * PG, pfns);
	if (ret) {
		check_unchanged(&s);
		return;
	}
	OK();
	CHECK(!((uintptr_t)addr & (PG - 1)), "unaligned register succeeded");
	for (j = 0; j < nregs; j++)
		CHECK(regs[j].h != hh || up + n <= regs[j].upage || regs[j].upage + regs[j].npages <= up,
		      "register overlapping a buffer of the same handle succeeded");
	for (k = 0; k < n; k++) {
		CHECK(pfns[k] == pfns[0] + k && pfns[0] >= HOST_PFN, "register PFNs not contiguous host frames");
		CHECK(!reg_of_pfn(h_accel[hh], pfns[k]), "register reused live frame 0x%llx",
		      (unsigned long long)pfns[k]);
	}
	regs[nregs++] = (struct reg){ hh, up, n, pfns[0] };
}

static void op_grant(bool revoke)
{
	u32 hh = pick_h(), a = h_accel[hh], t = g8() % 8 ? a : pick_accel(), i = pick_accel();
	u64 pfn = pick_pfn(a), n = g8() % 8 ? 1 + g8() % 48 : g64(), p;
	u32 prot = pick_prot(), gid;
	bool legal, overlap = false, all = true;
	struct snap s;
	int ret, x;

	legal = t == a && i < NA && n && pfn + n > pfn && (revoke || (prot && !(prot & ~UAL_PROT_RW)));
	if (legal && n > MEMPG + 64)
		legal = false;
	for (p = 0; legal && p < n; p++) {
		gid = gid_get(t, i, pfn + p, &x);
		overlap |= gid != 0;
		all &= gid != 0;
		if (!revoke && !pfn_ok(hh, t, pfn + p))
			legal = false;
		/* Grants span device memory or one handle's host pages, not both. */
		if (!revoke && (pfn < MEMPG) != (pfn + p < MEMPG))
			legal = false;
	}
	legal = legal && (revoke ? all : !overlap);
	snapshot(&s);
	ret = revoke ? ual_revoke(h[hh], t, i, pfn, n) : ual_grant(h[hh], t, i, pfn, n, prot);
	if (ret) {
		CHECK(!legal || ret == UAL_ENOSPC || ret == UAL_ENOMEM,
		      "%s legal per the model failed: %d (t %u i %u pfn 0x%llx n 0x%llx)",
		      revoke ? "revoke" : "grant", ret, t, i, (unsigned long long)pfn,
		      (unsigned long long)n);
		check_unchanged(&s);
		return;
	}
	OK();
	CHECK(legal, "%s illegal per the model succeeded (t %u i %u pfn 0x%llx n 0x%llx)",
	      revoke ? "revoke" : "grant", t, i, (unsigned long long)pfn, (unsigned long long)n);
	if (!revoke) {
		CHECK(ngid + 1 < UAL_ARRAY_SIZE(gdesc), "too many grants for the model");
		gid = ++ngid;
		gdesc[gid] = (struct gdesc){ prot, hh };
	}
	for (p = 0; p < n; p++)
		gid_set(t, i, pfn + p, revoke ? 0 : gid);
	grants_dirty = true;
	CHECK(ual_query(h[hh], &s.info[0]) == 0 && s.info[0].grants == grant_entries(a),
	      "grant entries %llu, model %llu", (unsigned long long)s.info[0].grants,
	      (unsigned long long)grant_entries(a));
}

static void op_map_pfns(void)
{
	u32 hh = pick_h(), t = pick_accel(), prot = pick_prot(), n = 1 + g8() % 16, k;
	u64 pfns[16];
	struct ual_faddr out[16];
	int ret;

	for (k = 0; k < n; k++)
		pfns[k] = pick_pfn(t % NA);
	memset(out, 0xa5, sizeof(out));
	ret = ual_map_pfns(h[hh], t, pfns, n, prot, out);
	if (ret) {
		CHECK(out[0].rsvd == 0xa5a5a5a5u, "map_pfns wrote output on failure");
		return;
	}
	OK();
	CHECK(t < NA && (modes & UAL_MODE_PHYSICAL) && prot && !(prot & ~UAL_PROT_RW),
	      "map_pfns with bad arguments succeeded");
	for (k = 0; k < n; k++) {
		CHECK(pfn_ok(hh, t, pfns[k]), "map_pfns named PFN 0x%llx handle %u may not",
		      (unsigned long long)pfns[k], hh);
		CHECK(out[k].addr == pfns[k] << 12 && out[k].route == UAL_ROUTE(t) && !out[k].rsvd,
		      "map_pfns output wrong");
	}
}

static void op_iova_alloc(void)
{
	u32 hh = pick_h(), a = h_accel[hh], flags = g8() % 3 ? (g8() & 1) : g32();
	u64 size = pick_size(), iova = 0, align;
	struct snap s;
	int ret, k;

	if (nranges == (int)UAL_ARRAY_SIZE(ranges))
		return;
	snapshot(&s);
	ret = ual_iova_alloc(h[hh], size, flags, &iova);
	if (ret) {
		check_unchanged(&s);
		return;
	}
	OK();
	align = size >= UAL_PAGE_SIZE_2M ? UAL_PAGE_SIZE_2M : size >= UAL_PAGE_SIZE_64K ?
		UAL_PAGE_SIZE_64K : PG;
	CHECK((modes & UAL_MODE_VIRTUAL) && size && !(size & (PG - 1)) && flags <= 1,
	      "iova_alloc with bad arguments succeeded");
	CHECK(iova && !(iova & (align - 1)) && iova + size > iova &&
	      (dma_bits == 64 || (iova + size - 1) >> dma_bits == 0),
	      "iova_alloc gave 0x%llx+0x%llx", (unsigned long long)iova, (unsigned long long)size);
	for (k = 0; k < nranges; k++)
		if (h_accel[ranges[k].h] == a)
			CHECK(iova + size <= ranges[k].iova || ranges[k].iova + ranges[k].size <= iova,
			      "range 0x%llx overlaps 0x%llx", (unsigned long long)iova,
			      (unsigned long long)ranges[k].iova);
	ranges[nranges++] = (struct range){ hh, iova, size, flags };
}

static u64 pfnbuf[1024];

static void op_iova_link(void)
{
	u32 hh = pick_h(), a = h_accel[hh], t = g8() % 4 ? g8() % NA : pick_accel();
	u32 prot = pick_prot(), mode = g8();
	u64 size, iova = pick_iova(hh, &size), off, len, n, k, base, before;
	struct range *r = range_at(hh, iova);
	bool legal;
	struct snap s;
	int ret;

	pick_part(size, &off, &len);
	n = len >> 12;
	if (g8() % 16 == 0)
		n = g64();
	/* Above the buffer only counts no range can hold (refused unread). */
	if (n > UAL_ARRAY_SIZE(pfnbuf) && n < (1ull << 46))
		n = UAL_ARRAY_SIZE(pfnbuf);
	if (ltotal() + (n < (1ull << 46) ? n : 0) > MAXL)
		return;
	base = pick_pfn(t % NA);
	if ((mode & 3) == 0)	/* a 2 MiB-aligned run for large leaves */
		base &= ~511ull;
	for (k = 0; k < n && k < UAL_ARRAY_SIZE(pfnbuf); k++)
		pfnbuf[k] = (mode & 4) ? pick_pfn(t % NA) : base + k;
	legal = r && t < NA && (modes & UAL_MODE_VIRTUAL) && !(off & (PG - 1)) && n &&
		n <= UAL_ARRAY_SIZE(pfnbuf) && prot && !(prot & ~UAL_PROT_RW) &&
		off <= r->size && (r->size - off) >> 12 >= n;
	for (k = 0; legal && k < n; k++)
		legal = pfn_ok(hh, t, pfnbuf[k]) && !lfind(a, (iova + off) / PG + k);
	snapshot(&s);
	before = ual_alloc_count(h[hh]);
	ret = ual_iova_link(h[hh], iova, off, t, pfnbuf, n, prot);
	if (ret) {
		CHECK(!legal || (ret == UAL_ENOMEM && !(r->flags & UAL_IOVA_PREALLOC)),
		      "link legal per the model failed: %d", ret);
		check_unchanged(&s);
		return;
	}
	OK();
	CHECK(legal, "link illegal per the model succeeded (iova 0x%llx off 0x%llx n 0x%llx t %u)",
	      (unsigned long long)iova, (unsigned long long)off, (unsigned long long)n, t);
	if (r->flags & UAL_IOVA_PREALLOC)
		CHECK(ual_alloc_count(h[hh]) == before, "link on a PREALLOC range allocated");
	for (k = 0; k < n; k++)
		ladd(a, (iova + off) / PG + k, t, pfnbuf[k], prot);
	check_dump(a);
}

static void op_iova_unlink_sync(bool sync)
{
	u32 hh = pick_h(), a = h_accel[hh];
	u64 size, iova = pick_iova(hh, &size), off, len, k, before;
	struct range *r = range_at(hh, iova);
	bool legal, all = true;
	struct snap s;
	int ret;

	pick_part(size, &off, &len);
	legal = r && (modes & UAL_MODE_VIRTUAL) && !(off & (PG - 1)) && len && !(len & (PG - 1)) &&
		off + len > off && off <= r->size && r->size - off >= len;
	for (k = 0; legal && k < len >> 12; k++)
		all &= lfind(a, (iova + off) / PG + k) != NULL;
	snapshot(&s);
	before = ual_alloc_count(h[hh]);
	ret = sync ? ual_iova_sync(h[hh], iova, off, len) : ual_iova_unlink(h[hh], iova, off, len);
	if (ret) {
		/* Unlink may refuse to split a large leaf (EINVAL). */
		CHECK(!legal || (!sync && (!all || ret == UAL_EINVAL)), "%s legal per the model failed: %d",
		      sync ? "sync" : "unlink", ret);
		check_unchanged(&s);
		return;
	}
	OK();
	CHECK(legal && (sync || all), "%s illegal per the model succeeded", sync ? "sync" : "unlink");
	if (!sync && (r->flags & UAL_IOVA_PREALLOC))
		CHECK(ual_alloc_count(h[hh]) == before, "unlink on a PREALLOC range allocated");
	for (k = 0; k < len >> 12; k++) {
		struct link *l = lfind(a, (iova + off) / PG + k);

		if (!l)
			continue;
		if (sync)
			l->stale = false;
		else
			ldel(l);
	}
	if (!sync)
		check_dump(a);
}

static void op_iova_free(void)
{
	u32 hh = pick_h(), a = h_accel[hh];
	u64 size, iova = pick_iova(hh, &size), k;
	struct range *r = range_at(hh, iova);
	bool legal = r && (modes & UAL_MODE_VIRTUAL);
	struct snap s;
	int ret;

	for (k = 0; legal && nlinked[a] && k < LSLOTS; k++)
		if (links[k].used && links[k].accel == a && links[k].page >= iova / PG &&
		    links[k].page - iova / PG < r->size / PG)
			legal = false;
	snapshot(&s);
	ret = ual_iova_free(h[hh], iova);
	if (ret) {
		CHECK(!legal, "iova_free legal per the model failed: %d", ret);
		check_unchanged(&s);
		return;
	}
	OK();
	CHECK(legal, "iova_free illegal per the model succeeded");
	ranges[r - ranges] = ranges[--nranges];
	check_dump(a);
}

static void op_translate(void)
{
	u32 i = g8() % 16 ? g8() % NA : pick_accel(), access = g8() % 8 ? 1 + g8() % 2 : g8(), hh;
	struct ual_faddr fa;
	struct ual_xlate x;
	struct pred p;
	int ret;

	pick_faddr(i, &fa, 1 + g8() % 64);
	hh = g8() % NH;
	ret = ual_translate(h[hh], i, &fa, access, &x);
	if ((access != 1 && access != 2) || fa.rsvd ||
	    ((fa.route & UAL_ROUTE_PHYS) ? (fa.route & ~(UAL_ROUTE_PHYS | UAL_ROUTE_TARGET_MASK)) : fa.route)) {
		CHECK(ret == UAL_EINVAL, "translate with bad arguments returned %d", ret);
		return;
	}
	if (i >= NA) {
		CHECK(ret == UAL_ENODEV, "translate by accelerator %u returned %d", i, ret);
		return;
	}
	predict(hh, i, fa.addr, fa.route, access, &p);
	if (p.stale && ret == UAL_EFAULT && p.code != UAL_EFAULT) {
		st_stale++;
		/* A stale TLB entry refused it: allowed until a sync. */
		record(i, fa.addr, fa.route, access, UAL_REQ_MIN, UAL_FAULT_NOT_PRESENT,
		       UAL_ACCEL_NONE);
		return;
	}
	if (p.stale && ret == UAL_EFAULT) {
		/* Stale entry or the modelled refusal: which record is unknown. */
		rings[i].unknown = true;
		if (p.ftarget != UAL_ACCEL_NONE && p.ftarget != i)
			rings[p.ftarget].unknown = true;
		return;
	}
	CHECK(ret == p.code, "translate by %u of 0x%llx route 0x%x access %u: %d, model %d (reason %u)",
	      i, (unsigned long long)fa.addr, fa.route, access, ret, p.code, p.reason);
	if (ret) {
		st_xl_refused++;
		record(i, fa.addr, fa.route, access, UAL_REQ_MIN, p.reason, p.ftarget);
		return;
	}
	st_xl_ok++;
	CHECK(x.target == p.target && x.phys == p.phys && x.prot == p.prot,
	      "translate gave target %u phys 0x%llx prot %u, model %u 0x%llx %u", x.target,
	      (unsigned long long)x.phys, x.prot, p.target, (unsigned long long)p.phys, p.prot);
}

/* Bytes at (target, phys) through the model: device memory or the arena. */
static void model_read(u32 t, u64 phys, u8 *buf, u32 len)
{
	struct reg *r;

	if (phys >> 12 < MEMPG) {
		CHECK(ual_mem_read(h[t], phys, buf, len) == 0, "mem_read");
		return;
	}
	r = reg_of_pfn(t, phys >> 12);
	CHECK(r, "no registration at 0x%llx", (unsigned long long)phys);
	memcpy(buf, arena + (r->upage + (phys >> 12) - r->pfn) * PG + (phys & (PG - 1)), len);
}

static u32 req_len(u64 dst, u64 src, u64 left)
{
	u64 a = UAL_REQ_MAX - (dst & (UAL_REQ_MAX - 1)), b = UAL_REQ_MAX - (src & (UAL_REQ_MAX - 1));

	return (u32)(a < b ? (a < left ? a : left) : (b < left ? b : left));
}

static u8 copy_src[16384], copy_dst[16384];

static void op_copy(void)
{
	u32 i = g8() % 16 ? g8() % NA : pick_accel(), n, side, stop_side = 0, hh = g8() % NH;
	u64 len = g8() % 8 ? 64 * (1 + g8() % 64) : g64(), done, stop;
	struct ual_faddr fa[2];	/* 0 src, 1 dst */
	struct pred p[2], bad = { 0 };
	bool any_stale = false, bad_set = false, overlap = false;
	int ret, code = 0;

	pick_faddr(i, &fa[0], 64);
	pick_faddr(i, &fa[1], 64);
	if (g8() % 4 == 0)
		fa[1].addr = fa[0].addr + 64 * (g8() % 8);
	/* Arguments the call refuses before any request. */
	if (!len || len % 64 || fa[0].rsvd || fa[1].rsvd)
		code = UAL_EINVAL;
	for (side = 0; !code && side < 2; side++)
		if ((fa[side].route & UAL_ROUTE_PHYS) ?
		    (fa[side].route & ~(UAL_ROUTE_PHYS | UAL_ROUTE_TARGET_MASK)) : fa[side].route)
			code = UAL_EINVAL;
	if (!code && (fa[0].addr | fa[1].addr) % 64)
		code = UAL_EINVAL;
	if (!code && (fa[0].addr + len < fa[0].addr || fa[1].addr + len < fa[1].addr))
		code = UAL_EOVERFLOW;
	if (!code && i >= NA)
		code = UAL_ENODEV;
	if (code) {
		ret = ual_copy(h[hh], i, &fa[1], &fa[0], len);
		CHECK(ret == code, "copy with bad arguments returned %d, model %d", ret, code);
		return;
	}
	if (len > sizeof(copy_src))
		len = sizeof(copy_src);	/* longer copies cost time, not coverage */
	/* Pass 1: initiator side of every request, stop at the first fault. */
	stop = len;
	for (done = 0; done < len && !bad_set; done += n) {
		n = req_len(fa[1].addr + done, fa[0].addr + done, len - done);
		for (side = 0; side < 2; side++) {
			predict_init(i, fa[side].addr + done, fa[side].route, side ? 2 : 1, &p[side]);
			any_stale |= p[side].stale;
			if (p[side].code) {
				bad = p[side];
				bad.phys = fa[side].addr + done;	/* the request's address */
				bad.target = side;
				bad_set = true;
				stop = done;
				stop_side = side;
				break;
			}
		}
	}
	/* Pass 2: target side of the requests before the fault. */
	for (done = 0; done <= stop && done < len; done += n) {
		n = req_len(fa[1].addr + done, fa[0].addr + done, len - done);
		for (side = 0; side < 2; side++) {
			if (done == stop && side >= stop_side)
				break;
			predict_init(i, fa[side].addr + done, fa[side].route, side ? 2 : 1, &p[side]);
			predict_target(hh, i, fa[side].route, side ? 2 : 1, &p[side]);
			if (p[side].code) {
				bad = p[side];
				bad.phys = fa[side].addr + done;
				bad.target = side;
				bad_set = true;
				goto decided;
			}
		}
	}
decided:
	/* Source bytes before the copy, unless the sides overlap. */
	if (!bad_set) {
		for (done = 0; done < len; done += n) {
			n = req_len(fa[1].addr + done, fa[0].addr + done, len - done);
			predict(hh, i, fa[0].addr + done, fa[0].route, 1, &p[0]);
			predict(hh, i, fa[1].addr + done, fa[1].route, 2, &p[1]);
			if (p[0].target == p[1].target && p[0].phys >> 12 == p[1].phys >> 12)
				overlap = true;
		}
		for (done = 0; !overlap && done < len; done += n) {
			n = req_len(fa[1].addr + done, fa[0].addr + done, len - done);
			predict(hh, i, fa[0].addr + done, fa[0].route, 1, &p[0]);
			model_read(p[0].target, p[0].phys, copy_src + done, n);
		}
	}
	ret = ual_copy(h[hh], i, &fa[1], &fa[0], len);
	if (any_stale) {
		/* A stale TLB entry may refuse any request: only a success is checked. */
		if (ret) {
			CHECK(ret == UAL_EFAULT || ret == UAL_EACCES, "copy returned %d", ret);
			for (n = 0; n < NA; n++)
				rings[n].unknown = true;
			return;
		}
		CHECK(!bad_set, "copy succeeded, model refuses (reason %u)", bad.reason);
	} else {
		CHECK(ret == (bad_set ? bad.code : 0), "copy by %u (0x%llx/0x%x -> 0x%llx/0x%x, 0x%llx): %d, model %d (reason %u)",
		      i, (unsigned long long)fa[0].addr, fa[0].route, (unsigned long long)fa[1].addr,
		      fa[1].route, (unsigned long long)len, ret, bad_set ? bad.code : 0, bad.reason);
		if (ret) {
			st_copy_refused++;
			done = bad.phys - fa[bad.target].addr;
			record(i, bad.phys, fa[bad.target].route, bad.target ? 2 : 1,
			       req_len(fa[1].addr + done, fa[0].addr + done, len - done), bad.reason,
			       bad.ftarget);
			return;
		}
	}
	if (overlap)
		return;
	for (done = 0; done < len; done += n) {
		n = req_len(fa[1].addr + done, fa[0].addr + done, len - done);
		predict(hh, i, fa[1].addr + done, fa[1].route, 2, &p[1]);
		model_read(p[1].target, p[1].phys, copy_dst + done, n);
	}
	CHECK(!memcmp(copy_src, copy_dst, len), "copy did not move the source bytes");
	st_copy_ok++;
}

static void op_fault_read(void)
{
	u32 hh = pick_h(), a = h_accel[hh], max = g8() % 4 ? ring_size + g8() % 4 : g8() % 3;
	struct ual_fault out[300];
	struct ring *q = &rings[a];
	u32 nread = ~0u, k;
	u64 lost = ~0ull;
	int ret;

	if (max > UAL_ARRAY_SIZE(out))
		max = UAL_ARRAY_SIZE(out);
	ret = ual_fault_read(h[hh], out, max, &nread, &lost);
	CHECK(ret == 0 && nread <= max, "fault_read: %d, %u records", ret, nread);
	for (k = 0; k < nread; k++) {
		CHECK(!q->seq_known || out[k].seq == q->next_seq, "fault seq %llu, expected %llu",
		      (unsigned long long)out[k].seq, (unsigned long long)q->next_seq);
		q->next_seq = out[k].seq + 1;
		q->seq_known = true;
		CHECK(out[k].initiator < NA && (out[k].initiator == a) ==
		      !(out[k].flags & UAL_FAULT_F_AT_TARGET), "fault record in the wrong ring");
	}
	if (q->unknown) {
		/* Re-synchronise once drained. */
		if (nread < max) {
			q->unknown = false;
			q->count = 0;
			q->lost = 0;
		} else {
			q->head = q->count = 0;
		}
		return;
	}
	CHECK(nread == (q->count < max ? q->count : max),
	      "ring of accelerator %u gave %u records, model holds %u (max %u)", a, nread, q->count, max);
	CHECK(lost == q->lost, "ring of accelerator %u lost %llu, model %llu", a,
	      (unsigned long long)lost, (unsigned long long)q->lost);
	for (k = 0; k < nread; k++) {
		const struct frec *e = &q->q[(q->head + k) % q->size];

		CHECK(out[k].addr == e->addr && out[k].route == e->route &&
		      out[k].initiator == e->initiator && out[k].target == e->target &&
		      out[k].access == e->access && out[k].reason == e->reason &&
		      !!(out[k].flags & UAL_FAULT_F_AT_TARGET) == !!e->at_target && out[k].len == e->len,
		      "fault record %u of accelerator %u: addr 0x%llx route 0x%x init %u tgt %u acc %u reason %u len %u; model 0x%llx 0x%x %u %u %u %u %u",
		      k, a, (unsigned long long)out[k].addr, out[k].route, out[k].initiator,
		      out[k].target, out[k].access, out[k].reason, out[k].len,
		      (unsigned long long)e->addr, e->route, e->initiator, e->target, e->access,
		      e->reason, e->len);
	}
	st_records += nread;
	q->head = (q->head + nread) % q->size;
	q->count -= nread;
	q->lost = 0;
}

/* ---- driver ------------------------------------------------------------------- */
static void reset_model(void)
{
	u32 a;

	memset(mem_owner, 0xff, sizeof(mem_owner));
	memset(gid_dev, 0, sizeof(gid_dev));
	memset(links, 0, sizeof(links));
	memset(nlinked, 0, sizeof(nlinked));
	nblocks = nregs = nranges = nhgrants = 0;
	ngid = 0;
	grants_dirty = true;
	for (a = 0; a < NA; a++) {
		free(rings[a].q);
		rings[a] = (struct ring){ .size = ring_size };
		rings[a].q = calloc(ring_size, sizeof(struct frec));
	}
}

static void print_stats(void)
{
	static const char *const names[17] = { "mem_alloc", "mem_free", "mem_rw", "register",
		"grant", "revoke", "map_pfns", "iova_alloc", "link", "link", "sync", "unlink",
		"iova_free", "translate", "copy", "fault_read", "close" };
	int k;

	fprintf(stderr, "fuzz_abi stats: calls/successes:");
	for (k = 0; k < 17; k++)
		fprintf(stderr, " %s %llu/%llu", names[k], (unsigned long long)st_calls[k],
			(unsigned long long)st_ok[k]);
	fprintf(stderr, "\n  translate ok %llu refused %llu (stale TLB %llu); copy ok %llu refused %llu; fault records compared %llu\n",
		(unsigned long long)st_xl_ok, (unsigned long long)st_xl_refused,
		(unsigned long long)st_stale, (unsigned long long)st_copy_ok,
		(unsigned long long)st_copy_refused, (unsigned long long)st_records);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (getenv("UAL_FUZZ_STATS"))
		atexit(print_stats);
	arena = aligned_alloc(PG, ARENA_PG * PG);
	return arena ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const u8 *data, size_t size)
{
	static const u32 bits[] = { 21, 32, 39, 48, 57, 30, 25, 48 };
	static const u32 pools[] = { 4096, 8, 64, 4096 };
	static const u32 tlbs[] = { 512, 4, 16, 512 };
	static const u32 faults[] = { 256, 2, 8, 16 };
	static const char *const mode_s[] = { "both", "both", "virtual", "physical" };
	char uri[200];
	u8 c0, c1;
	u32 k;
	int ret;

	in_p = data;
	in_n = size;
	c0 = g8();
	c1 = g8();
	modes = (c0 & 3) == 2 ? UAL_MODE_VIRTUAL : (c0 & 3) == 3 ? UAL_MODE_PHYSICAL :
		UAL_MODE_PHYSICAL | UAL_MODE_VIRTUAL;
	dma_bits = bits[(c0 >> 2) & 7];
	ring_size = faults[(c1 >> 4) & 3];
	snprintf(uri, sizeof(uri), "fake:?accels=%u&mem=8M&mode=%s&pt_pool=%u&dma_bits=%u&tlb=%u&faults=%u",
		 NA, mode_s[c0 & 3], pools[(c0 >> 5) & 3], dma_bits, tlbs[c1 & 3], ring_size);
	op_no = 0;
	op_name = "open";
	reset_model();
	memset(arena, 0, ARENA_PG * PG);
	ret = ual_open(uri, &h[0]);
	CHECK(ret == 0, "open %s: %d", uri, ret);
	for (k = 1; k < NH; k++)
		CHECK(ual_open_peer(h[0], h_accel[k], &h[k]) == 0, "open_peer %u", k);

	for (op_no = 1; in_n && op_no <= MAXOPS; op_no++) {
		u8 op = g8();

		cur_op = op % 17;
		st_calls[cur_op]++;
		switch (op % 17) {
		case 0: op_name = "mem_alloc"; op_mem_alloc(); break;
		case 1: op_name = "mem_free"; op_mem_free(); break;
		case 2: op_name = "mem_rw"; op_mem_rw(); break;
		case 3: op_name = "register"; op_register(); break;
		case 4: op_name = "grant"; op_grant(false); break;
		case 5: op_name = "revoke"; op_grant(true); break;
		case 6: op_name = "map_pfns"; op_map_pfns(); break;
		case 7: op_name = "iova_alloc"; op_iova_alloc(); break;
		case 8: case 9: op_name = "iova_link"; op_iova_link(); break;
		case 10: op_name = "iova_sync"; op_iova_unlink_sync(true); break;
		case 11: op_name = "iova_unlink"; op_iova_unlink_sync(false); break;
		case 12: op_name = "iova_free"; op_iova_free(); break;
		case 13: op_name = "translate"; op_translate(); break;
		case 14: op_name = "copy"; op_copy(); break;
		case 15: op_name = "fault_read"; op_fault_read(); break;
		case 16:
			op_name = "close";
			if (g8() % 4 == 0) {
				close_handle(pick_h());
				for (k = 0; k < NA; k++)
					check_dump(k);
			}
			break;
		}
		check_counters();
	}
	op_name = "final";
	for (k = 0; k < NA; k++)
		check_dump(k);
	for (k = 0; k < NH; k++)
		ual_close(h[k]);
	return 0;
}
