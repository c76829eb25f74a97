// SPDX-License-Identifier: Apache-2.0
/*
 * pod.c - shared pods: one fake fabric in a file, spanning processes.
 *
 * "fake:/PATH" maps the file PATH at the same address in every process that
 * opens it, so the core's structures (pointers included) are used as they
 * are: every core allocation made for the pod's fabric comes from a heap in
 * the file (compat_user.c routes it here by address), and every core mutex
 * in it is a robust process-shared one. Each process is one OS domain: it
 * owns the accelerators it opens handles for, and its handles live in the
 * file too, so that when it dies another process can close them for it.
 *
 * Liveness: a process holds an open-file-description lock on byte <slot> of
 * the file while attached. The kernel drops it when the process dies,
 * however it dies, and in any pid namespace (containers); F_OFD_GETLK tells
 * the others. Every call on a pod first reaps dead domains (gate()).
 *
 * Layout of the file: struct pod_hdr (with the fabric), the heap's page map
 * (one byte per heap page), the heap. The file is sparse: pages cost memory
 * once used.
 *
 * Locks: the pod lock (pod_hdr.lock) is outermost, before the core's
 * domain/target/fault locks; the heap lock is innermost of all.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../core/fabric.h"
#include "../../shim/backend.h"
#include "fake.h"

#define POD_MAGIC	"UALPOD1"
#define POD_VERSION	1
/* Where pods are mapped: far from the heap, PIE binaries (0x55..) and the
 * mmap area (top-down from 0x7f..). */
#define POD_REGION_LO	0x600000000000ull
#define POD_REGION_HI	0x700000000000ull
#define POD_MAX_BYTES	(1ull << 40)
#define POD_MAX_MAPS	16

#define SMALL_CLASSES	8	/* chunks of 16 .. 2048 bytes */
#define LARGE_ORDERS	32	/* blocks of 1 .. 2^31 pages */
#define MAP_SMALL(c)	((u8)(1 + (c)))
#define MAP_LARGE(o)	((u8)(0x80 | (o)))

enum { SLOT_FREE, SLOT_LIVE };

struct pod_slot {
	u32 state;
	int32_t pid;
	u64 cookie;		/* the domain's id: ual_accel.domain, ual_owner.domain */
	u64 attached_ns;
	u32 handles;
	u32 accels;
	char host[64];
	char comm[16];
	struct ual_list devs;	/* its handles (struct pod_dev, in the heap) */
};

struct pod_accel {
	u32 state;		/* UAL_POD_ACCEL_* */
	int32_t slot;
	int32_t pid;
	u32 handles;
};

/* A first-fit-free allocator is not needed: power-of-two classes, never
 * coalesced, bump allocation from a sparse file. */
struct shm_heap {
	ual_mutex_t lock;
	u8 *map;		/* class of each heap page (MAP_*), 0 = none */
	u64 start, end, next;	/* heap pages [start, end), bump pointer */
	u64 used;		/* bytes handed out */
	void *small[SMALL_CLASSES];
	void *large[LARGE_ORDERS];
};

struct pod_hdr {
	char magic[8];
	u32 version;
	u32 ready;
	u64 layout;		/* sizes of the shared structures */
	u64 base, size;		/* where every process maps it */
	u64 created_ns;
	u64 opts[UAL_OPT_COUNT];	/* fabric options as created */
	ual_mutex_t lock;	/* the pod lock */
	u32 poisoned;
	u32 reaped;
	char poison[128];
	u64 next_cookie;
	struct pod_slot slot[UAL_POD_MAX_DOMAINS];
	struct pod_accel accel[UAL_MAX_ACCELS];
	struct shm_heap heap;
	struct ual_fabric fab;
};

/* One handle of a pod; lives in the pod's heap. */
struct pod_dev {
	struct ual_dev base;
	struct ual_list link;	/* on its slot's devs */
	struct pod *pod;	/* this process's mapping (meaningless to others) */
	struct ual_owner owner;
};

/* This process's view of one pod file. */
struct pod {
	struct ual_list link;
	char path[UAL_NAME_MAX];
	int fd;
	struct pod_hdr *hdr;
	u32 refs;		/* handles, plus status calls in progress */
	int slot;		/* this process's slot, -1 if not attached */
};

/* Process-local registry of mapped pods (guards struct pod; outermost). */
static pthread_mutex_t pods_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ual_list pods = { &pods, &pods };

/* Address ranges of mapped pods, read without a lock by every allocation. */
static struct {
	u64 lo, hi;
} maps[POD_MAX_MAPS];

static const struct ual_host_ops no_host_ops;

static u64 layout_id(void)
{
	return ((u64)sizeof(struct pod_hdr) << 40) ^ ((u64)sizeof(struct ual_accel) << 24) ^
	       ((u64)sizeof(struct ual_owner) << 12) ^ sizeof(struct pod_dev) ^
	       ((u64)UAL_ABI_VERSION << 48);
}

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (u64)ts.tv_sec * 1000000000ull + (u64)ts.tv_nsec;
}

/* ---- the heap ------------------------------------------------------------------- */

static void *heap_find(const void *addr)
{
	u64 a = (u64)(uintptr_t)addr;

	for (int i = 0; i < POD_MAX_MAPS; i++) {
		u64 lo = __atomic_load_n(&maps[i].lo, __ATOMIC_ACQUIRE);

		if (lo && a >= lo && a < maps[i].hi)
			return &((struct pod_hdr *)(uintptr_t)lo)->heap;
	}
	return NULL;
}

/* Index in the page map of the heap page holding @p. */
static u64 page_of(const struct shm_heap *h, const void *p)
{
	return ((u64)(uintptr_t)p - h->start) >> UAL_PAGE_SHIFT;
}

static unsigned int order_of(u64 pages)
{
	unsigned int o = 0;

	while ((1ull << o) < pages)
		o++;
	return o;
}

/* Heap lock held. */
static void *large_get(struct shm_heap *h, unsigned int order)
{
	u64 bytes = UAL_PAGE_SIZE << order;
	unsigned int o;
	void *p;

	if ((p = h->large[order])) {
		h->large[order] = *(void **)p;
		return p;
	}
	if (h->next + bytes <= h->end) {
		p = (void *)(uintptr_t)h->next;
		h->next += bytes;
		h->map[page_of(h, p)] = MAP_LARGE(order);
		return p;
	}
	/* Split the smallest bigger free block; its halves go to the lists. */
	for (o = order + 1; o < LARGE_ORDERS && !h->large[o]; o++)
		;
	if (o == LARGE_ORDERS)
		return NULL;
	p = h->large[o];
	h->large[o] = *(void **)p;
	while (o-- > order) {
		u8 *half = (u8 *)p + (UAL_PAGE_SIZE << o);

		h->map[page_of(h, half)] = MAP_LARGE(o);
		*(void **)half = h->large[o];
		h->large[o] = half;
	}
	h->map[page_of(h, p)] = MAP_LARGE(order);
	return p;
}

static void *heap_alloc(void *heap, size_t size)
{
	struct shm_heap *h = heap;
	unsigned int c;
	void *p;

	ual_mutex_lock(&h->lock);
	if (size <= (16u << (SMALL_CLASSES - 1))) {
		for (c = 0; (16u << c) < size; c++)
			;
		if (!h->small[c]) {
			u8 *page = large_get(h, 0);

			if (page) {
				/* Carve a page into chunks of this class. */
				h->map[page_of(h, page)] = MAP_SMALL(c);
				for (u64 off = UAL_PAGE_SIZE; off; ) {
					off -= 16u << c;
					*(void **)(page + off) = h->small[c];
					h->small[c] = page + off;
				}
			}
		}
		p = h->small[c];
		if (p) {
			h->small[c] = *(void **)p;
			h->used += 16u << c;
		}
	} else {
		c = order_of((size + UAL_PAGE_SIZE - 1) >> UAL_PAGE_SHIFT);
		p = c < LARGE_ORDERS ? large_get(h, c) : NULL;
		if (p)
			h->used += UAL_PAGE_SIZE << c;
	}
	ual_mutex_unlock(&h->lock);
	if (p)
		memset(p, 0, size);
	return p;
}

static void heap_free(void *heap, void *p)
{
	struct shm_heap *h = heap;
	u8 m;

	ual_mutex_lock(&h->lock);
	m = h->map[page_of(h, p)];
	if (m & 0x80) {
		unsigned int o = m & 0x7f;

		*(void **)p = h->large[o];
		h->large[o] = p;
		h->used -= UAL_PAGE_SIZE << o;
	} else if (m) {
		unsigned int c = m - 1;

		*(void **)p = h->small[c];
		h->small[c] = p;
		h->used -= 16u << c;
	}
	ual_mutex_unlock(&h->lock);
}

/* Names the lock a dead process held, for the poison message. */
static void lock_name(const struct pod_hdr *hdr, const void *m, char *buf, size_t n)
{
	const struct ual_fabric *fab = &hdr->fab;

	snprintf(buf, n, "a lock at offset 0x%llx of the pod",
		 (unsigned long long)((uintptr_t)m - hdr->base));
	if (m == &hdr->lock)
		snprintf(buf, n, "the pod lock");
	else if (m == &hdr->heap.lock)
		snprintf(buf, n, "the pod's heap lock");
	for (u32 i = 0; fab->accel && i < fab->cfg.accels; i++) {
		const struct ual_accel *a = &fab->accel[i];

		if (m == &a->dom.lock)
			snprintf(buf, n, "the domain lock of accelerator %u", i);
		else if (m == &a->tgt.lock)
			snprintf(buf, n, "the target lock of accelerator %u", i);
		else if (m == &a->fault_lock)
			snprintf(buf, n, "the fault lock of accelerator %u", i);
	}
}

static void heap_poison(void *heap, const void *m)
{
	struct pod_hdr *hdr = ual_container_of(heap, struct pod_hdr, heap);
	char what[64];

	if (__atomic_load_n(&hdr->poisoned, __ATOMIC_ACQUIRE))
		return;
	lock_name(hdr, m, what, sizeof(what));
	snprintf(hdr->poison, sizeof(hdr->poison), "a domain died holding %s", what);
	__atomic_store_n(&hdr->poisoned, 1, __ATOMIC_RELEASE);
}

static const struct ual_compat_heap pod_heap_ops = {
	.find = heap_find,
	.alloc = heap_alloc,
	.free = heap_free,
	.poison = heap_poison,
};

/* ---- mapping ---------------------------------------------------------------------- */

static int publish_map(struct pod_hdr *hdr, u64 size, struct ual_err *err)
{
	ual_compat_set_heap(&pod_heap_ops);
	for (int i = 0; i < POD_MAX_MAPS; i++) {
		if (!maps[i].lo) {
			maps[i].hi = (u64)(uintptr_t)hdr + size;
			__atomic_store_n(&maps[i].lo, (u64)(uintptr_t)hdr, __ATOMIC_RELEASE);
			return 0;
		}
	}
	return ual_err_set(err, UAL_ENOMEM, "this process has %d pods mapped already",
			   POD_MAX_MAPS);
}

static void unmap_pod(struct pod_hdr *hdr, u64 size)
{
	for (int i = 0; i < POD_MAX_MAPS; i++)
		if (maps[i].lo == (u64)(uintptr_t)hdr)
			__atomic_store_n(&maps[i].lo, 0, __ATOMIC_RELEASE);
	munmap(hdr, size);
}

/* mmap @fd at exactly @base, or fail: another mapping is there. */
static void *map_at(int fd, u64 base, u64 size)
{
	void *p = mmap((void *)(uintptr_t)base, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);

	if (p == MAP_FAILED)
		return NULL;
	if ((u64)(uintptr_t)p != base) {	/* a kernel without NOREPLACE */
		munmap(p, size);
		return NULL;
	}
	return p;
}

static int errno_code(int e)
{
	switch (e) {
	case ENOENT:	return UAL_ENOENT;
	case EACCES:
	case EPERM:
	case EROFS:	return UAL_EACCES;
	case EEXIST:	return UAL_EEXIST;
	case ENOMEM:
	case ENOSPC:
	case EFBIG:	return UAL_ENOMEM;
	default:	return UAL_EIO;
	}
}

static int sys_err(struct ual_err *err, const char *what, const char *path)
{
	int e = errno;

	return ual_err_set(err, errno_code(e), "%s '%s': %s", what, path, strerror(e));
}

static int pod_init(struct pod_hdr *hdr, u64 size, const struct ual_uri *u,
		    struct ual_err *err)
{
	struct ual_fabric_cfg cfg;
	u64 hdr_bytes = ual_align_up(sizeof(*hdr), UAL_PAGE_SIZE), pages;
	int ret;

	ual_fake_cfg(u, &cfg);
	pages = (size - hdr_bytes) / (UAL_PAGE_SIZE + 1);
	hdr->heap.map = (u8 *)hdr + hdr_bytes;
	hdr->heap.start = ual_align_up((u64)(uintptr_t)hdr->heap.map + pages, UAL_PAGE_SIZE);
	hdr->heap.end = (u64)(uintptr_t)hdr + size;
	hdr->heap.next = hdr->heap.start;
	ual_mutex_init(&hdr->heap.lock);
	ual_mutex_init(&hdr->lock);
	hdr->base = (u64)(uintptr_t)hdr;
	hdr->size = size;
	hdr->layout = layout_id();
	hdr->version = POD_VERSION;
	hdr->created_ns = now_ns();
	memcpy(hdr->opts, u->val, sizeof(hdr->opts));
	for (u32 i = 0; i < UAL_MAX_ACCELS; i++)
		hdr->accel[i].slot = -1;
	ual_atomic64_set(&hdr->fab.allocs, 0);
	/* No host ops in the file: each process brings its own (pod_dev). */
	ret = ual_fabric_init(&hdr->fab, &cfg, &no_host_ops, err);
	if (ret)
		return ret;
	memcpy(hdr->magic, POD_MAGIC, sizeof(hdr->magic));
	__atomic_store_n(&hdr->ready, 1, __ATOMIC_RELEASE);
	return 0;
}

static u64 pod_bytes(const struct ual_uri *u)
{
	struct ual_fabric_cfg c;
	u64 per_accel;

	ual_fake_cfg(u, &c);
	/* Device memory, a full page-table pool, TLB and ring, grants and
	 * allocator nodes; rounded up by the heap's power-of-two classes. */
	per_accel = c.mem + (u64)c.pt_pool * UAL_PAGE_SIZE + (u64)c.tlb * 64 +
		    (u64)c.faults * 64 + (4ull << 20);
	return ual_align_up(2 * (c.accels * per_accel + (64ull << 20)), 2ull << 20);
}

/*
 * Create the pod file for @u: built complete in a temporary file of the same
 * directory, then linked (or, with @replace, renamed) to its name, so no
 * process ever joins a half-built pod.
 */
static int create_file(const struct ual_uri *u, bool replace, struct ual_err *err)
{
	char tmp[UAL_NAME_MAX + 16];
	u64 size = pod_bytes(u), span = 1ull << 30, base;
	struct pod_hdr *hdr = NULL;
	unsigned int h = 0;
	int fd, ret;

	if (size > POD_MAX_BYTES)
		return ual_err_set(err, UAL_ENOMEM, "a pod of %llu accelerators with %llu MiB each "
				   "needs %llu GiB of address space; at most %llu GiB",
				   (unsigned long long)u->val[UAL_OPT_ACCELS],
				   (unsigned long long)(u->val[UAL_OPT_MEM] >> 20),
				   (unsigned long long)(size >> 30),
				   (unsigned long long)(POD_MAX_BYTES >> 30));
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", u->name);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return sys_err(err, "can't create a file next to", u->name);
	fchmod(fd, 0660);
	if (ftruncate(fd, (off_t)size)) {
		ret = sys_err(err, "can't size", tmp);
		goto out;
	}
	/* A base free here; the path's hash spreads pods over the region. */
	while (span < size)
		span <<= 1;
	for (const char *c = u->name; *c; c++)
		h = h * 31 + (u8)*c;
	base = POD_REGION_LO + (h % ((POD_REGION_HI - POD_REGION_LO) / span)) * span;
	for (u64 tries = 0; !hdr && tries < (POD_REGION_HI - POD_REGION_LO) / span; tries++) {
		hdr = map_at(fd, base, size);
		base += span;
		if (base + size > POD_REGION_HI)
			base = POD_REGION_LO;
	}
	if (!hdr) {
		ret = ual_err_set(err, UAL_ENOMEM, "no room to map a pod of %llu MiB",
				  (unsigned long long)(size >> 20));
		goto out;
	}
	ret = publish_map(hdr, size, err);
	if (ret) {
		munmap(hdr, size);
		goto out;
	}
	ret = pod_init(hdr, size, u, err);
	unmap_pod(hdr, size);
	if (ret)
		goto out;
	if (replace ? rename(tmp, u->name) : link(tmp, u->name))
		ret = errno == EEXIST ? ual_err_set(err, UAL_EEXIST, "pod '%s' exists", u->name)
				      : sys_err(err, "can't create", u->name);
out:
	if (ret || !replace)
		unlink(tmp);
	close(fd);
	return ret;
}

/* pods_lock held. Map the pod at @path (creating it from @create if given
 * and missing) or take another reference on this process's mapping. */
static int pod_get(const char *path, const struct ual_uri *create, struct pod **out,
		   struct ual_err *err)
{
	struct pod_hdr h, *hdr;
	struct stat st;
	struct pod *p;
	int fd, ret;

	for (struct ual_list *l = pods.next; l != &pods; l = l->next) {
		p = ual_container_of(l, struct pod, link);
		if (!strcmp(p->path, path)) {
			p->refs++;
			*out = p;
			return 0;
		}
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		ret = create_file(create, false, err);
		if (ret && ret != UAL_EEXIST)	/* EEXIST: another process won */
			return ret;
		fd = open(path, O_RDWR | O_CLOEXEC);
	}
	if (fd < 0)
		return sys_err(err, "can't open pod", path);
	ret = UAL_EINVAL;
	if (fstat(fd, &st) || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, POD_MAGIC, sizeof(h.magic)) || !h.ready) {
		ual_err_set(err, ret, "'%s' is not a ualbridge pod", path);
		goto fail;
	}
	if (h.version != POD_VERSION || h.layout != layout_id()) {
		ual_err_set(err, ret, "pod '%s' was made by another libual (version %u, layout "
			    "0x%llx; this one %u, 0x%llx)", path, h.version,
			    (unsigned long long)h.layout, POD_VERSION,
			    (unsigned long long)layout_id());
		goto fail;
	}
	if ((u64)st.st_size < h.size) {
		ual_err_set(err, ret, "pod '%s' is truncated (%llu of %llu bytes)", path,
			    (unsigned long long)st.st_size, (unsigned long long)h.size);
		goto fail;
	}
	hdr = map_at(fd, h.base, h.size);
	if (!hdr) {
		ret = ual_err_set(err, UAL_EBUSY, "can't map pod '%s' at 0x%llx in this process: "
				  "the address is in use (another pod?)", path,
				  (unsigned long long)h.base);
		goto fail;
	}
	ret = publish_map(hdr, h.size, err);
	if (ret) {
		munmap(hdr, h.size);
		goto fail;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		unmap_pod(hdr, h.size);
		ret = ual_err_set(err, UAL_ENOMEM, "out of memory");
		goto fail;
	}
	snprintf(p->path, sizeof(p->path), "%s", path);
	p->fd = fd;
	p->hdr = hdr;
	p->refs = 1;
	p->slot = -1;
	ual_list_add_tail(&p->link, &pods);
	*out = p;
	return 0;
fail:
	close(fd);
	return ret;
}

/* pods_lock held. */
static void pod_put(struct pod *p)
{
	if (--p->refs)
		return;
	ual_list_del(&p->link);
	unmap_pod(p->hdr, p->hdr->size);
	close(p->fd);	/* drops this process's liveness lock, if any */
	free(p);
}

/* ---- domains ---------------------------------------------------------------------- */

static bool slot_alive(const struct pod *p, u32 s)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = s, .l_len = 1 };

	if (fcntl(p->fd, F_OFD_GETLK, &fl))
		return true;	/* can't tell: never reap a live domain */
	return fl.l_type != F_UNLCK;
}

static bool lock_slot(const struct pod *p, u32 s, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = s, .l_len = 1 };

	return !fcntl(p->fd, F_OFD_SETLK, &fl);
}

static int poisoned(const struct pod *p, struct ual_err *err)
{
	return ual_err_set(err, UAL_EOWNERDEAD, "pod '%s' is poisoned (%s); re-create it",
			   p->path, p->hdr->poison);
}

/*
 * Pod lock held. Did a dead process hold a lock of the fabric? Then it may
 * have died mid-update: poison the pod rather than walk what it left.
 */
static bool dead_lock_holder(struct pod_hdr *hdr)
{
	ual_mutex_t *held = NULL;

	if (ual_mutex_probe_dead(&hdr->heap.lock))
		held = &hdr->heap.lock;
	for (u32 i = 0; !held && i < hdr->fab.cfg.accels; i++) {
		struct ual_accel *a = &hdr->fab.accel[i];

		if (ual_mutex_probe_dead(&a->dom.lock))
			held = &a->dom.lock;
		else if (ual_mutex_probe_dead(&a->tgt.lock))
			held = &a->tgt.lock;
		else if (ual_mutex_probe_dead(&a->fault_lock))
			held = &a->fault_lock;
	}
	if (held)
		heap_poison(&hdr->heap, held);
	return held;
}

/* Pod lock held. Close a dead domain's handles for it; its accelerators go down. */
static void reap_slot(struct pod *p, u32 s)
{
	struct pod_hdr *hdr = p->hdr;
	struct pod_slot *slot = &hdr->slot[s];

	if (dead_lock_holder(hdr))
		return;
	while (!ual_list_empty(&slot->devs)) {
		struct pod_dev *d = ual_container_of(slot->devs.next, struct pod_dev, link);

		ual_list_del(&d->link);
		d->owner.host_ops = &no_host_ops;	/* its pointers were its own */
		ual_owner_release(&d->owner);
		ual_free(d);
	}
	for (u32 i = 0; i < hdr->fab.cfg.accels; i++) {
		struct pod_accel *pa = &hdr->accel[i];
		struct ual_accel *a = &hdr->fab.accel[i];

		if (pa->state != UAL_POD_ACCEL_OWNED || pa->slot != (int32_t)s)
			continue;
		ual_mutex_lock(&a->tgt.lock);
		snprintf(a->tgt.down, sizeof(a->tgt.down),
			 "accelerator %u's domain (pid %d on %s) died; its grants were revoked",
			 i, slot->pid, slot->host);
		a->domain = 0;
		ual_mutex_unlock(&a->tgt.lock);
		pa->state = UAL_POD_ACCEL_DOWN;
		pa->slot = -1;
		pa->handles = 0;
	}
	slot->state = SLOT_FREE;
	hdr->reaped++;
}

/* Another process attached slot @s and has died since. */
static bool slot_dead(const struct pod *p, u32 s)
{
	return __atomic_load_n(&p->hdr->slot[s].state, __ATOMIC_ACQUIRE) == SLOT_LIVE &&
	       (int)s != p->slot && !slot_alive(p, s);
}

static bool any_dead(const struct pod *p)
{
	for (u32 s = 0; s < UAL_POD_MAX_DOMAINS; s++)
		if (slot_dead(p, s))
			return true;
	return false;
}

/* Pod lock held. Every taker of the pod lock calls it first: a dead
 * domain's leftovers, or the poison it left, are seen before anything. */
static void reap_dead(struct pod *p)
{
	for (u32 s = 0; s < UAL_POD_MAX_DOMAINS && !p->hdr->poisoned; s++)
		if (slot_dead(p, s))
			reap_slot(p, s);
}

/* Take the pod lock and clean up dead domains; fails if the pod is poisoned. */
static int pod_lock(struct pod *p, struct ual_err *err)
{
	ual_mutex_lock(&p->hdr->lock);
	reap_dead(p);
	if (p->hdr->poisoned) {
		ual_mutex_unlock(&p->hdr->lock);
		ual_compat_take_poison();	/* reported here, not again by the shim */
		return poisoned(p, err);
	}
	return 0;
}

/* Pod lock held: give this process a slot (and its liveness lock). */
static int attach(struct pod *p, struct ual_err *err)
{
	struct pod_hdr *hdr = p->hdr;

	if (p->slot >= 0)
		return 0;
	for (u32 s = 0; s < UAL_POD_MAX_DOMAINS; s++) {
		struct pod_slot *slot = &hdr->slot[s];

		if (slot->state != SLOT_FREE || !lock_slot(p, s, F_WRLCK))
			continue;
		memset(slot, 0, sizeof(*slot));
		slot->pid = getpid();
		slot->cookie = ++hdr->next_cookie;
		slot->attached_ns = now_ns();
		gethostname(slot->host, sizeof(slot->host) - 1);
		prctl(PR_GET_NAME, slot->comm);
		ual_list_init(&slot->devs);
		__atomic_store_n(&slot->state, SLOT_LIVE, __ATOMIC_RELEASE);
		p->slot = (int)s;
		return 0;
	}
	return ual_err_set(err, UAL_EBUSY, "pod '%s' has %d domains attached already", p->path,
			   UAL_POD_MAX_DOMAINS);
}

/* Pod lock held: the slot has no handles left. */
static void detach(struct pod *p)
{
	p->hdr->slot[p->slot].state = SLOT_FREE;
	lock_slot(p, (u32)p->slot, F_UNLCK);
	p->slot = -1;
}

/* ---- handles ------------------------------------------------------------------------ */

static struct pod_dev *to_pdev(struct ual_dev *dev)
{
	return ual_container_of(dev, struct pod_dev, base);
}

/* Before every call on a pod handle (ual.c): poisoned? anyone dead? */
static int gate(struct ual_dev *dev, struct ual_err *err)
{
	struct pod *p = to_pdev(dev)->pod;
	int ret = 0;

	if (!__atomic_load_n(&p->hdr->poisoned, __ATOMIC_ACQUIRE) && !any_dead(p))
		return 0;
	ret = pod_lock(p, err);
	if (!ret)
		ual_mutex_unlock(&p->hdr->lock);
	return ret;
}

/* pods_lock and pod lock held. */
static int new_pdev(struct pod *p, u32 accel, struct ual_dev **out, struct ual_err *err)
{
	struct pod_hdr *hdr = p->hdr;
	struct pod_accel *pa;
	struct pod_slot *slot;
	struct pod_dev *d;
	int ret;

	if (accel >= hdr->fab.cfg.accels)
		return ual_err_set(err, UAL_ENODEV, "no accelerator %u in pod '%s' (%u)", accel,
				   p->path, hdr->fab.cfg.accels);
	pa = &hdr->accel[accel];
	if (pa->state == UAL_POD_ACCEL_OWNED && pa->slot != p->slot)
		return ual_err_set(err, UAL_EBUSY, "accelerator %u of pod '%s' is owned by another "
				   "domain (pid %d on %s)", accel, p->path, pa->pid,
				   hdr->slot[pa->slot].host);
	ret = attach(p, err);
	if (ret)
		return ret;
	slot = &hdr->slot[p->slot];
	d = ual_zalloc(&hdr->fab.allocs, sizeof(*d));
	if (!d) {
		if (!slot->handles)
			detach(p);
		return ual_err_set(err, UAL_ENOMEM, "pod '%s' is out of memory for a handle",
				   p->path);
	}
	if (pa->state != UAL_POD_ACCEL_OWNED) {
		struct ual_accel *a = &hdr->fab.accel[accel];

		ual_mutex_lock(&a->tgt.lock);
		a->tgt.down[0] = '\0';
		a->domain = slot->cookie;
		ual_mutex_unlock(&a->tgt.lock);
		if (ual_compat_take_poison()) {
			/* Its last holder died in it: no handle on a poisoned pod. */
			ual_free(d);
			if (!slot->handles)
				detach(p);
			return poisoned(p, err);
		}
		pa->state = UAL_POD_ACCEL_OWNED;
		pa->slot = p->slot;
		pa->pid = slot->pid;
		pa->handles = 0;
		slot->accels++;
	}
	pa->handles++;
	slot->handles++;
	d->base.magic = UAL_DEV_MAGIC;
	d->base.ops = &ual_pod_ops;
	d->base.core = &d->owner;
	d->base.gate = gate;
	d->pod = p;
	ual_owner_init(&d->owner, &hdr->fab, accel);
	d->owner.domain = slot->cookie;
	d->owner.host_ops = &ual_fake_host_ops;
	ual_list_add_tail(&d->link, &slot->devs);
	p->refs++;
	*out = &d->base;
	return 0;
}

static bool opts_differ(const struct pod *p, const struct ual_uri *u, struct ual_err *err)
{
	for (int o = 0; o < UAL_OPT_COUNT; o++) {
		if (o == UAL_OPT_LOCAL || !(u->set & (1u << o)) || u->val[o] == p->hdr->opts[o])
			continue;
		ual_err_set(err, UAL_EEXIST, "pod '%s' exists with %s=%llu (asked %llu)", p->path,
			    ual_opt_names[o], (unsigned long long)p->hdr->opts[o],
			    (unsigned long long)u->val[o]);
		return true;
	}
	return false;
}

int ual_pod_open(const struct ual_uri *u, struct ual_dev **out, struct ual_err *err)
{
	struct pod *p;
	int ret;

	pthread_mutex_lock(&pods_lock);
	ret = pod_get(u->name, u, &p, err);
	if (ret)
		goto out;
	if (opts_differ(p, u, err))
		ret = UAL_EEXIST;
	else
		ret = pod_lock(p, err);
	if (!ret) {
		ret = new_pdev(p, (u32)u->val[UAL_OPT_LOCAL], out, err);
		ual_mutex_unlock(&p->hdr->lock);
	}
	pod_put(p);	/* the handle took its own reference */
out:
	pthread_mutex_unlock(&pods_lock);
	return ret;
}

static int pod_open_peer(struct ual_dev *dev, u32 accel, struct ual_dev **out,
			 struct ual_err *err)
{
	struct pod *p = to_pdev(dev)->pod;
	int ret;

	pthread_mutex_lock(&pods_lock);
	ret = pod_lock(p, err);
	if (!ret) {
		ret = new_pdev(p, accel, out, err);
		ual_mutex_unlock(&p->hdr->lock);
	}
	pthread_mutex_unlock(&pods_lock);
	return ret;
}

static void pod_close(struct ual_dev *dev)
{
	struct pod_dev *d = to_pdev(dev);
	struct pod *p = d->pod;
	struct pod_hdr *hdr = p->hdr;
	u32 accel = d->owner.accel;
	struct pod_accel *pa = &hdr->accel[accel];
	struct pod_slot *slot = &hdr->slot[p->slot];

	pthread_mutex_lock(&pods_lock);
	ual_mutex_lock(&hdr->lock);
	/* A dead domain may hold a lock the release below needs: find out
	 * (poisoning the pod) rather than walk what it left. */
	reap_dead(p);
	ual_list_del(&d->link);
	/* A poisoned pod's structures can't be trusted: leave them be. */
	if (!hdr->poisoned) {
		ual_owner_release(&d->owner);
		ual_free(d);
	}
	if (!--pa->handles) {
		struct ual_accel *a = &hdr->fab.accel[accel];

		pa->state = UAL_POD_ACCEL_FREE;
		pa->slot = -1;
		a->domain = 0;
		slot->accels--;
	}
	if (!--slot->handles)
		detach(p);
	ual_mutex_unlock(&hdr->lock);
	ual_compat_take_poison();	/* close reports nothing */
	pod_put(p);
	pthread_mutex_unlock(&pods_lock);
}

/* ---- create and status -------------------------------------------------------------- */

int ual_fake_pod_create(const struct ual_uri *u, u32 flags, struct ual_err *err)
{
	if (u->set & (1u << UAL_OPT_LOCAL))
		return ual_err_set(err, UAL_EINVAL, "local= names a handle's accelerator; "
				   "a pod is created without one");
	return create_file(u, flags & UAL_POD_REPLACE, err);
}

static u32 fill_grants(const struct pod_hdr *hdr, struct ual_pod_grant *out, u32 max)
{
	u32 n = 0;

	for (u32 i = 0; i < hdr->fab.cfg.accels; i++) {
		struct ual_accel *a = &hdr->fab.accel[i];

		ual_mutex_lock(&a->tgt.lock);
		for (u32 g = 0; g < a->tgt.grants.count; g++, n++) {
			const struct grant *e = &a->tgt.grants.g[g];

			if (n < max)
				out[n] = (struct ual_pod_grant){ .target = (u16)i,
					.initiator = e->initiator, .prot = e->prot,
					.pfn = e->pfn, .npages = e->npages };
		}
		ual_mutex_unlock(&a->tgt.lock);
	}
	return n;
}

int ual_fake_pod_status(const char *path, struct ual_pod_info *info,
			struct ual_pod_domain *domains, u32 max_domains,
			struct ual_pod_accel *accels, u32 max_accels,
			struct ual_pod_grant *grants, u32 max_grants, struct ual_err *err)
{
	struct pod_hdr *hdr;
	struct pod *p;
	u32 n = 0;
	int ret;

	if (path[0] != '/')
		return ual_err_set(err, UAL_EINVAL, "pod path '%s' is not absolute", path);
	pthread_mutex_lock(&pods_lock);
	ret = pod_get(path, NULL, &p, err);
	if (ret)
		goto out;
	hdr = p->hdr;
	ual_mutex_lock(&hdr->lock);
	reap_dead(p);
	memset(info, 0, sizeof(*info));
	info->num_accels = hdr->fab.cfg.accels;
	info->modes = hdr->fab.cfg.modes;
	info->mem_size = hdr->fab.cfg.mem;
	info->heap_size = hdr->heap.end - hdr->heap.start;
	info->heap_used = hdr->heap.used;
	info->reaped = hdr->reaped;
	info->created_ns = hdr->created_ns;
	if (hdr->poisoned) {
		info->flags |= UAL_POD_POISONED;
		snprintf(info->poison, sizeof(info->poison), "%s", hdr->poison);
	}
	for (u32 s = 0; s < UAL_POD_MAX_DOMAINS; s++) {
		const struct pod_slot *slot = &hdr->slot[s];

		if (slot->state != SLOT_LIVE)
			continue;
		if (n < max_domains) {
			domains[n] = (struct ual_pod_domain){ .slot = s, .pid = slot->pid,
				.handles = slot->handles, .accels = slot->accels,
				.attached_ns = slot->attached_ns };
			memcpy(domains[n].host, slot->host, sizeof(domains[n].host));
			memcpy(domains[n].comm, slot->comm, sizeof(domains[n].comm));
		}
		n++;
	}
	info->ndomains = n;
	for (u32 i = 0; i < hdr->fab.cfg.accels && i < max_accels; i++) {
		struct ual_accel *a = &hdr->fab.accel[i];

		accels[i] = (struct ual_pod_accel){ .accel = i, .state = hdr->accel[i].state,
			.slot = hdr->accel[i].slot, .pid = hdr->accel[i].pid };
		if (hdr->accel[i].state == UAL_POD_ACCEL_FREE)
			accels[i].pid = 0;
		if (!hdr->poisoned) {
			ual_mutex_lock(&a->tgt.lock);
			accels[i].mem_used = (a->tgt.mem.pages - devmem_free_pages(&a->tgt.mem))
					     << UAL_PAGE_SHIFT;
			accels[i].grants = grant_count(&a->tgt.grants);
			ual_mutex_unlock(&a->tgt.lock);
		}
	}
	if (!hdr->poisoned)
		info->ngrants = fill_grants(hdr, grants, max_grants);
	ual_mutex_unlock(&hdr->lock);
	ual_compat_take_poison();	/* status reports poisoning in @info */
	pod_put(p);
out:
	pthread_mutex_unlock(&pods_lock);
	return ret;
}

const struct ual_backend_ops ual_pod_ops = {
	.name = "fake",
	.open = ual_pod_open,
	.open_peer = pod_open_peer,
	.close = pod_close,
	UAL_FAKE_CORE_OPS,
};

/* Test hook: take @dev's target lock and keep it (a test then dies holding it). */
void ual_pod_test_hold_target_lock(struct ual_dev *dev)
{
	ual_mutex_lock(&dev->core->fab->accel[dev->core->accel].tgt.lock);
}
