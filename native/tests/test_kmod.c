// SPDX-License-Identifier: Apache-2.0
/*
 * test_kmod.c - the kmod backend against the real ualmock module.
 *
 * The URI cases run anywhere. The device cases need /dev/ualmock (a guest
 * with the module loaded, as root: scripts/guest/run-in-guest.sh) and are
 * skipped without it; UAL_TEST_URI picks another device ("kmod:/dev/x").
 * They check what only a kernel backend has: real PFNs of pinned pages
 * (against /proc/self/pagemap), raw PFNs refused, per-file isolation,
 * release on close and on SIGKILL (against the module's debugfs state),
 * batches above UALM_MAX_BATCH, and raw ioctls with bad input.
 *
 * Load the module with mem=1G (at least 70000 pages) for the batch test.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"
#include "include/uapi/ualmock.h"
#include "shim/backend.h"

#define SZ_4K 4096ull
#define HOST_PFN0 (UAL_HOST_BASE >> 12)
#define STATE "/sys/kernel/debug/ualmock/state"

static char uri[128] = "kmod:" UALM_DEVICE;
static char path[128] = UALM_DEVICE;

/* ---- helpers ------------------------------------------------------------- */

/* Device tests are skipped where the module is not loaded (the host). */
static void need_device(void)
{
	if (access(path, R_OK | W_OK))
		skip();
}

/* The fabric cases use both addressing modes (the module's default). */
static void need_both_modes(void)
{
	ual_dev *d;
	struct ual_info i;

	need_device();
	assert_int_equal(ual_open(uri, &d), 0);
	assert_int_equal(ual_query(d, &i), 0);
	ual_close(d);
	if (i.modes != (UAL_MODE_PHYSICAL | UAL_MODE_VIRTUAL))
		skip();
}

static ual_dev *open_dev(const char *opts)
{
	char u[256];
	ual_dev *d = NULL;

	snprintf(u, sizeof(u), "%s%s", uri, opts);
	if (ual_open(u, &d))
		fail_msg("open %s: %s", u, ual_last_error());
	return d;
}

static struct ual_info info_of(ual_dev *d)
{
	struct ual_info i;

	assert_int_equal(ual_query(d, &i), 0);
	return i;
}

/* A value of the module's debugfs state ("key value" lines). */
static long long state_of(const char *key)
{
	char line[128], k[64];
	long long v, found = -1;
	FILE *f = fopen(STATE, "r");

	if (!f)
		fail_msg("cannot read %s: %s", STATE, strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", k, &v) == 2 && !strcmp(k, key))
			found = v;
	fclose(f);
	if (found < 0)
		fail_msg("no '%s' in %s", key, STATE);
	return found;
}

/* The physical frame of a (present, locked) page of ours; needs root. */
static u64 pagemap_pfn(const void *p)
{
	u64 e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &e, 8, (off_t)((uintptr_t)p / SZ_4K * 8)), 8);
	close(fd);
	assert_true(e >> 63);			/* present */
	return e & ((1ull << 55) - 1);
}

static u8 *page_buf(u64 pages)
{
	u8 *b = mmap(NULL, pages * SZ_4K, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(b != MAP_FAILED);
	memset(b, 0x5a, pages * SZ_4K);	/* fault every page in */
	return b;
}

struct leak_snapshot {
	long long open_files, pinned, regs, ranges, mapped, blocks, grants;
};

static struct leak_snapshot snapshot(void)
{
	return (struct leak_snapshot){
		state_of("open_files"), state_of("pinned_pages"), state_of("host_regs"),
		state_of("iova_ranges"), state_of("mapped_pages"), state_of("mem_blocks"),
		state_of("grants"),
	};
}

static void assert_same_state(struct leak_snapshot a, struct leak_snapshot b)
{
	assert_int_equal(a.open_files, b.open_files);
	assert_int_equal(a.pinned, b.pinned);
	assert_int_equal(a.regs, b.regs);
	assert_int_equal(a.ranges, b.ranges);
	assert_int_equal(a.mapped, b.mapped);
	assert_int_equal(a.blocks, b.blocks);
	assert_int_equal(a.grants, b.grants);
}

/* Creates one of everything on @d (accelerator 0): @pages pinned. */
static void create_everything(ual_dev *d, u8 *buf, u64 pages)
{
	u64 pfn, iova, hp[16];

	assert_true(pages <= 16);
	assert_int_equal(ual_mem_alloc(d, 4 * SZ_4K, 0, &pfn), 0);
	assert_int_equal(ual_mem_register(d, buf, pages * SZ_4K, hp), 0);
	assert_int_equal(ual_grant(d, 0, 1, pfn, 4, UAL_PROT_RW), 0);
	assert_int_equal(ual_grant(d, 0, 1, hp[0], 1, UAL_PROT_READ), 0);
	assert_int_equal(ual_iova_alloc(d, pages * SZ_4K, UAL_IOVA_PREALLOC, &iova), 0);
	assert_int_equal(ual_iova_link(d, iova, 0, 0, hp, pages, UAL_PROT_RW), 0);
}

/* ---- URI (no device needed) ------------------------------------------------ */

static void test_uri(void **state)
{
	struct ual_err err = { .op = "open" };
	struct ual_uri u;

	(void)state;
	assert_int_equal(ual_uri_parse("kmod:", &u, &err), 0);
	assert_string_equal(u.name, "/dev/ualmock");
	assert_int_equal(ual_uri_parse("kmod:/dev/other_dev-1?local=3&accels=8", &u, &err), 0);
	assert_string_equal(u.name, "/dev/other_dev-1");
	assert_int_equal(u.val[UAL_OPT_LOCAL], 3);
	assert_true(u.set & (1u << UAL_OPT_ACCELS));
	assert_int_equal(ual_uri_parse("kmod:?local=1", &u, &err), 0);
	assert_string_equal(u.name, "/dev/ualmock");
	assert_int_equal(ual_uri_parse("kmod:ualmock", &u, &err), UAL_EINVAL);
	assert_msg_contains(err.msg, "device path 'ualmock' is not absolute");
	assert_int_equal(ual_uri_parse("kmod:/dev/a b", &u, &err), UAL_EINVAL);
	assert_msg_contains(err.msg, "bad character ' ' in device path");
	/* '/' is refused in fake fabric names; an absolute path names a pod. */
	assert_int_equal(ual_uri_parse("fake:a/b", &u, &err), UAL_EINVAL);
	assert_msg_contains(err.msg, "bad character '/' in fabric name");
	assert_int_equal(ual_uri_parse("fake:/dev/shm/pod0?local=1", &u, &err), 0);
	assert_string_equal(u.name, "/dev/shm/pod0");
}

/* ---- device ------------------------------------------------------------------- */

static void test_open_and_options(void **state)
{
	char opt[256];
	struct ual_info i;
	ual_dev *d, *p, *x = (ual_dev *)0x1;

	(void)state;
	need_device();
	d = open_dev("");
	i = info_of(d);
	assert_string_equal(i.backend, "kmod");
	assert_int_equal(i.accel_id, 0);
	assert_int_equal(i.abi_version, UAL_ABI_VERSION);
	assert_true(i.num_accels >= 2);
	/* Options equal to the module's are accepted, others refused. */
	snprintf(opt, sizeof(opt), "?accels=%u&local=1", i.num_accels);
	p = open_dev(opt);
	assert_int_equal(info_of(p).accel_id, 1);
	ual_close(p);
	snprintf(opt, sizeof(opt), "%s?accels=%u", uri, i.num_accels + 1);
	assert_int_equal(ual_open(opt, &x), UAL_EEXIST);
	assert_msg_contains(ual_last_error(), "the module's fabric has accels=");
	snprintf(opt, sizeof(opt), "%s?faults=2", uri);
	assert_int_equal(ual_open(opt, &x), UAL_EEXIST);
	assert_msg_contains(ual_last_error(), "faults=");
	snprintf(opt, sizeof(opt), "%s?local=%u", uri, i.num_accels);
	assert_int_equal(ual_open(opt, &x), UAL_ENODEV);
	assert_msg_contains(ual_last_error(), "no accelerator");
	assert_ptr_equal(x, (ual_dev *)0x1);
	assert_int_equal(ual_open("kmod:/dev/null", &x), UAL_EIO);	/* not ualmock */
	assert_int_equal(ual_open_peer(d, i.num_accels - 1, &p), 0);
	assert_int_equal(info_of(p).accel_id, i.num_accels - 1);
	ual_close(p);
	assert_int_equal(ual_open_peer(d, i.num_accels, &p), UAL_ENODEV);
	ual_close(d);
}

/* Registered PFNs are the real frames of the pinned pages. */
static void test_real_pfns_and_bytes(void **state)
{
	const u64 pages = 8;
	u8 *buf, back[256];
	struct ual_faddr dst, src, fa[8];
	u64 hp[8], pfn, iova, i;
	ual_dev *d;

	(void)state;
	need_both_modes();
	buf = page_buf(pages);
	d = open_dev("");
	for (i = 0; i < pages * SZ_4K; i++)
		buf[i] = (u8)(i * 13 + 1);
	assert_int_equal(ual_mem_register(d, buf, pages * SZ_4K, hp), 0);
	for (i = 0; i < pages; i++) {
		u64 real = pagemap_pfn(buf + i * SZ_4K);

		assert_true(real != 0);
		assert_int_equal(hp[i], HOST_PFN0 + real);
	}
	assert_int_equal(ual_map_pfns(d, 0, hp, pages, UAL_PROT_RW, fa), 0);
	assert_int_equal(fa[3].addr, hp[3] << 12);
	assert_int_equal(fa[3].route, UAL_ROUTE(0));

	/* host -> device memory, physical route, local: the module read the page. */
	assert_int_equal(ual_mem_alloc(d, 2 * SZ_4K, 0, &pfn), 0);
	src = (struct ual_faddr){ (hp[5] << 12) + 0x100, UAL_ROUTE(0), 0 };
	dst = (struct ual_faddr){ (pfn << 12) + 0x40, UAL_ROUTE(0), 0 };
	assert_int_equal(ual_copy(d, 0, &dst, &src, 256), 0);
	assert_int_equal(ual_mem_read(d, (pfn << 12) + 0x40, back, 256), 0);
	assert_memory_equal(back, buf + 5 * SZ_4K + 0x100, 256);
	/* device -> host through an IOVA of the host pages: the module wrote them. */
	memset(back, 0xc3, sizeof(back));
	assert_int_equal(ual_mem_write(d, pfn << 12, back, 256), 0);
	assert_int_equal(ual_iova_alloc(d, pages * SZ_4K, 0, &iova), 0);
	assert_int_equal(ual_iova_link(d, iova, 0, 0, hp, pages, UAL_PROT_RW), 0);
	dst = (struct ual_faddr){ iova + 2 * SZ_4K + 0x200, 0, 0 };
	src = (struct ual_faddr){ pfn << 12, UAL_ROUTE(0), 0 };
	assert_int_equal(ual_copy(d, 0, &dst, &src, 256), 0);
	for (i = 0; i < 256; i++)
		assert_int_equal(buf[2 * SZ_4K + 0x200 + i], 0xc3);
	assert_int_equal(buf[2 * SZ_4K + 0x1ff], (u8)((2 * SZ_4K + 0x1ff) * 13 + 1));
	assert_int_equal(ual_iova_unlink(d, iova, 0, pages * SZ_4K), 0);
	assert_int_equal(ual_iova_free(d, iova), 0);
	assert_int_equal(ual_mem_unregister(d, buf), 0);
	assert_int_equal(ual_mem_unregister(d, buf), UAL_ENOENT);
	ual_close(d);
	munmap(buf, pages * SZ_4K);
}

/* "A caller may map only pages it pinned itself." */
static void test_unpinned_and_foreign_pfns_refused(void **state)
{
	u8 *buf, *other;
	u64 hp[2], raw, iova, pfn;
	struct ual_faddr fa;
	ual_dev *a, *b;
	pid_t child;
	int status;

	(void)state;
	need_both_modes();
	buf = page_buf(2);
	other = page_buf(1);
	a = open_dev("");
	b = open_dev("");
	assert_int_equal(ual_mem_register(a, buf, 2 * SZ_4K, hp), 0);
	/* A real frame nobody pinned: not in the aperture. */
	raw = HOST_PFN0 + pagemap_pfn(other);
	assert_int_equal(ual_map_pfns(a, 0, &raw, 1, UAL_PROT_READ, &fa), UAL_ENOENT);
	assert_msg_contains(ual_last_error(), "is not registered");
	assert_int_equal(ual_iova_alloc(a, SZ_4K, UAL_IOVA_PREALLOC, &iova), 0);
	assert_int_equal(ual_iova_link(a, iova, 0, 0, &raw, 1, UAL_PROT_RW), UAL_ENOENT);
	assert_int_equal(ual_grant(a, 0, 1, raw, 1, UAL_PROT_READ), UAL_ENOENT);
	/* Pinned through another file: refused for b. */
	assert_int_equal(ual_map_pfns(b, 0, hp, 2, UAL_PROT_READ, &fa), UAL_EPERM);
	assert_msg_contains(ual_last_error(), "was not registered through this handle");
	assert_int_equal(ual_grant(b, 0, 1, hp[0], 2, UAL_PROT_READ), UAL_EPERM);
	assert_int_equal(ual_iova_alloc(b, SZ_4K, 0, &iova), 0);
	assert_int_equal(ual_iova_link(b, iova, 0, 0, &hp[1], 1, UAL_PROT_RW), UAL_EPERM);
	assert_int_equal(info_of(b).mapped_pages, 0);
	assert_int_equal(ual_mem_unregister(b, buf), UAL_ENOENT);
	/* The same frames cannot be registered twice in one aperture; the
	 * failed call leaves its output alone. */
	raw = hp[0];
	assert_int_equal(ual_mem_register(b, buf, SZ_4K, hp), UAL_EEXIST);
	assert_int_equal(hp[0], raw);
	/* Device memory stays shared between files. */
	assert_int_equal(ual_mem_alloc(a, SZ_4K, 0, &pfn), 0);
	assert_int_equal(ual_iova_link(b, iova, 0, 0, &pfn, 1, UAL_PROT_RW), 0);
	assert_int_equal(ual_iova_unlink(b, iova, 0, SZ_4K), 0);

	/* Another process: same user address, its own (copied-on-write) page. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		ual_dev *c;
		u64 cp;
		int code = 0;

		if (ual_open(uri, &c))
			_exit(2);
		if (ual_mem_register(c, buf, SZ_4K, &cp))
			code = 3;
		else if (cp == hp[0] || cp != HOST_PFN0 + pagemap_pfn(buf))
			code = 4;
		else if (ual_map_pfns(c, 0, hp, 1, UAL_PROT_READ, &fa) != UAL_EPERM)
			code = 5;
		if (code)
			fprintf(stderr, "child: step %d: %s\n", code, ual_last_error());
		ual_close(c);
		_exit(code);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	ual_close(b);
	ual_close(a);
	munmap(buf, 2 * SZ_4K);
	munmap(other, SZ_4K);
}

static void test_release_on_close(void **state)
{
	struct leak_snapshot before;
	u8 *buf;
	ual_dev *d;

	(void)state;
	need_both_modes();
	before = snapshot();
	buf = page_buf(4);
	d = open_dev("");
	create_everything(d, buf, 4);
	assert_int_equal(state_of("open_files"), before.open_files + 1);
	assert_int_equal(state_of("pinned_pages"), before.pinned + 4);
	assert_int_equal(state_of("mapped_pages"), before.mapped + 4);
	assert_int_equal(state_of("grants"), before.grants + 2);
	ual_close(d);
	assert_same_state(before, snapshot());
	munmap(buf, 4 * SZ_4K);
}

/* A process killed while holding everything: the file's release cleans up. */
static void test_release_after_kill(void **state)
{
	struct leak_snapshot before;
	int ready[2], status;
	char c;
	pid_t child;

	(void)state;
	need_both_modes();
	before = snapshot();
	assert_int_equal(pipe(ready), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		ual_dev *d;

		if (ual_open(uri, &d))
			_exit(2);
		create_everything(d, page_buf(16), 16);
		if (write(ready[1], "r", 1) != 1)
			_exit(3);
		for (;;)
			pause();
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(state_of("pinned_pages"), before.pinned + 16);
	assert_int_equal(state_of("open_files"), before.open_files + 1);
	kill(child, SIGKILL);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status));
	close(ready[0]);
	assert_same_state(before, snapshot());
}

/* Reclaim-safe: link and unlink on a preallocated range allocate nothing. */
static void test_prealloc_allocates_nothing(void **state)
{
	u64 pfn, iova, pfns[64], before, i;
	ual_dev *d;

	(void)state;
	need_both_modes();
	d = open_dev("");
	assert_int_equal(ual_mem_alloc(d, 64 * SZ_4K, 0, &pfn), 0);
	for (i = 0; i < 64; i++)
		pfns[i] = pfn + 63 - i;	/* scattered: 4 KiB leaves */
	assert_int_equal(ual_iova_alloc(d, 64 * SZ_4K, UAL_IOVA_PREALLOC, &iova), 0);
	before = ual_alloc_count(d);
	assert_true(before > 0);
	for (i = 0; i < 10; i++) {
		assert_int_equal(ual_iova_link(d, iova, 0, 0, pfns, 64, UAL_PROT_RW), 0);
		assert_int_equal(ual_iova_unlink(d, iova, 0, 64 * SZ_4K), 0);
	}
	assert_int_equal(ual_alloc_count(d), before);
	ual_close(d);
}

/* Batches above UALM_MAX_BATCH are split; a failing chunk rolls back. */
static void test_big_batches(void **state)
{
	const u64 n = UALM_MAX_BATCH + 4500;
	struct ual_mapping *m;
	struct ual_faddr *fa;
	u64 pfn, iova, cnt, i, *pfns;
	ual_dev *d;

	(void)state;
	need_both_modes();
	d = open_dev("");
	if (info_of(d).mem_free < n * SZ_4K) {
		ual_close(d);
		skip();	/* load the module with mem=1G */
	}
	pfns = calloc(n, sizeof(*pfns));
	fa = calloc(n, sizeof(*fa));
	m = calloc(n, sizeof(*m));
	assert_int_equal(ual_mem_alloc(d, n * SZ_4K, 1ull << 21, &pfn), 0);
	for (i = 0; i < n; i++)
		pfns[i] = pfn + (i ^ 1);	/* pairs swapped: only 4 KiB leaves */
	assert_int_equal(ual_map_pfns(d, 0, pfns, n, UAL_PROT_READ, fa), 0);
	assert_int_equal(fa[n - 1].addr, pfns[n - 1] << 12);
	assert_int_equal(ual_iova_alloc(d, n * SZ_4K, 0, &iova), 0);
	/* The last page is bad: the first chunk went in and must come out. */
	pfns[n - 1] = ~0ull >> 13;
	assert_int_equal(ual_iova_link(d, iova, 0, 0, pfns, n, UAL_PROT_RW), UAL_ERANGE);
	assert_msg_contains(ual_last_error(), "iova_link: PFN");
	assert_int_equal(info_of(d).mapped_pages, 0);
	assert_int_equal(ual_dump(d, iova, 0, NULL, 0, &cnt), 0);
	assert_int_equal(cnt, 0);
	pfns[n - 1] = pfn + ((n - 1) ^ 1);
	assert_int_equal(ual_iova_link(d, iova, 0, 0, pfns, n, UAL_PROT_RW), 0);
	assert_int_equal(info_of(d).mapped_pages, n);
	assert_int_equal(ual_dump(d, iova, n * SZ_4K, m, n, &cnt), 0);
	assert_int_equal(cnt, n);
	for (i = 0; i < n; i++)
		if (m[i].iova != iova + i * SZ_4K || m[i].phys != pfns[i] << 12)
			fail_msg("dump entry %llu: iova 0x%llx phys 0x%llx", (unsigned long long)i,
				 (unsigned long long)m[i].iova, (unsigned long long)m[i].phys);
	assert_int_equal(ual_iova_unlink(d, iova, 0, n * SZ_4K), 0);
	assert_int_equal(ual_iova_free(d, iova), 0);
	/* Contiguous and 2 MiB aligned: the same 2 MiB leaves as one call would make. */
	assert_int_equal(ual_iova_alloc(d, n * SZ_4K, 0, &iova), 0);
	for (i = 0; i < n; i++)
		pfns[i] = pfn + i;
	assert_int_equal(ual_iova_link(d, iova, 0, 0, pfns, n, UAL_PROT_RW), 0);
	assert_int_equal(ual_dump(d, iova, n * SZ_4K, m, n, &cnt), 0);
	assert_int_equal(cnt, n / 512 + (n % 512) / 16 + n % 16);
	ual_close(d);
	free(pfns);
	free(fa);
	free(m);
}

/* Threads hammering the module: own handles, one shared handle, opens. */
struct worker {
	ual_dev *shared;	/* or NULL: open an own handle */
	u32 local;
	int failures;
	char why[256];
};

#define WORKER_FAIL(w, ...) do { snprintf((w)->why, sizeof((w)->why), __VA_ARGS__); \
				 (w)->failures++; goto out; } while (0)

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	u8 *buf = page_buf(4), back[64];
	u64 hp[4], pfn = 0, iova = 0, pfns[4], i;
	struct ual_faddr dst, src;
	struct ual_xlate x;
	ual_dev *d = w->shared;
	char u[160];
	int round;

	if (!d) {
		snprintf(u, sizeof(u), "%s?local=%u", uri, w->local);
		if (ual_open(u, &d))
			WORKER_FAIL(w, "open: %s", ual_last_error());
	}
	if (ual_mem_alloc(d, 4 * SZ_4K, 0, &pfn) ||
	    ual_iova_alloc(d, 8 * SZ_4K, UAL_IOVA_PREALLOC, &iova))
		WORKER_FAIL(w, "setup: %s", ual_last_error());
	for (round = 0; round < 200; round++) {
		memset(buf, round, 4 * SZ_4K);
		if (ual_mem_register(d, buf, 4 * SZ_4K, hp))
			WORKER_FAIL(w, "register: %s", ual_last_error());
		for (i = 0; i < 4; i++)
			pfns[i] = pfn + i;
		if (ual_iova_link(d, iova, 0, w->local, hp, 4, UAL_PROT_RW) ||
		    ual_iova_link(d, iova, 4 * SZ_4K, w->local, pfns, 4, UAL_PROT_RW))
			WORKER_FAIL(w, "link: %s", ual_last_error());
		dst = (struct ual_faddr){ iova + 4 * SZ_4K, 0, 0 };
		src = (struct ual_faddr){ iova + SZ_4K, 0, 0 };
		if (ual_iova_sync(d, iova, 0, 8 * SZ_4K) ||
		    ual_translate(d, w->local, &src, UAL_ACCESS_READ, &x) ||
		    ual_copy(d, w->local, &dst, &src, 64) ||
		    ual_mem_read(d, pfn << 12, back, 64))
			WORKER_FAIL(w, "copy: %s", ual_last_error());
		for (i = 0; i < 64; i++)
			if (back[i] != (u8)round)
				WORKER_FAIL(w, "round %d: byte %llu is 0x%x", round,
					    (unsigned long long)i, back[i]);
		if (ual_iova_unlink(d, iova, 0, 8 * SZ_4K) || ual_mem_unregister(d, buf))
			WORKER_FAIL(w, "unlink: %s", ual_last_error());
	}
out:
	if (d && !w->shared)
		ual_close(d);	/* releases whatever is left */
	else if (d) {
		ual_iova_unlink(d, iova, 0, 8 * SZ_4K);
		ual_iova_free(d, iova);
		ual_mem_unregister(d, buf);
		ual_mem_free(d, pfn, 4 * SZ_4K);
	}
	munmap(buf, 4 * SZ_4K);
	return NULL;
}

static void *opener_run(void *arg)
{
	struct worker *w = arg;
	ual_dev *d;
	u64 pfn;
	int i;

	for (i = 0; i < 300; i++) {
		if (ual_open(uri, &d) || ual_mem_alloc(d, SZ_4K, 0, &pfn)) {
			snprintf(w->why, sizeof(w->why), "open %d: %s", i, ual_last_error());
			w->failures++;
			return NULL;
		}
		ual_close(d);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct worker w[7];
	pthread_t th[7];
	struct leak_snapshot before;
	ual_dev *shared;
	u32 accels;
	int i;

	(void)state;
	need_both_modes();
	before = snapshot();
	shared = open_dev("");
	accels = info_of(shared).num_accels;
	memset(w, 0, sizeof(w));
	for (i = 0; i < 7; i++) {
		w[i].local = i < 4 ? (u32)i % accels : 0;
		w[i].shared = i >= 4 && i < 6 ? shared : NULL;
		assert_int_equal(pthread_create(&th[i], NULL, i == 6 ? opener_run : worker_run,
						&w[i]), 0);
	}
	for (i = 0; i < 7; i++) {
		pthread_join(th[i], NULL);
		if (w[i].failures)
			fail_msg("thread %d: %s", i, w[i].why);
	}
	ual_close(shared);
	assert_same_state(before, snapshot());
}

/* ---- raw ioctls: every bad input is an errno with a message, nothing changes. */

static int raw_fd(void)
{
	int fd = open(path, O_RDWR);

	assert_true(fd >= 0);
	return fd;
}

#define RAW_HDR(s) ((s).hdr = (struct ualm_hdr){ .argsz = sizeof(s) })

static void test_raw_bad_input(void **state)
{
	struct ualm_iova v;
	struct ualm_link l;
	struct ualm_attach at;
	struct ualm_mem m;
	struct ualm_register r;
	struct ualm_dump dm;
	struct {
		struct ualm_iova v;
		u64 extra;
	} big;
	u64 bad_pfn = 1;
	long long ranges, pinned;
	int fd;

	(void)state;
	need_device();
	fd = raw_fd();
	ranges = state_of("iova_ranges");
	pinned = state_of("pinned_pages");
	/* argsz smaller than the struct */
	memset(&v, 0, sizeof(v));
	RAW_HDR(v);
	v.size = SZ_4K;
	v.hdr.argsz = sizeof(v) - 8;
	assert_int_equal(ioctl(fd, UALM_IOC_IOVA_ALLOC, &v), -1);
	assert_int_equal(errno, EINVAL);
	assert_msg_contains(v.hdr.msg, "iova_alloc: argsz");
	/* flags */
	RAW_HDR(v);
	v.hdr.flags = 1;
	assert_int_equal(ioctl(fd, UALM_IOC_IOVA_ALLOC, &v), -1);
	assert_int_equal(errno, EINVAL);
	assert_msg_contains(v.hdr.msg, "hdr.flags must be 0");
	/* reserved field */
	RAW_HDR(v);
	v.rsvd = 7;
	assert_int_equal(ioctl(fd, UALM_IOC_IOVA_ALLOC, &v), -1);
	assert_msg_contains(v.hdr.msg, "rsvd must be 0");
	/* a larger struct: zeros past the module's are fine, anything else not */
	memset(&big, 0, sizeof(big));
	RAW_HDR(big.v);
	big.v.hdr.argsz = sizeof(big);
	big.v.size = SZ_4K;
	big.extra = 1;
	assert_int_equal(ioctl(fd, UALM_IOC_IOVA_ALLOC, &big), -1);
	assert_msg_contains(big.v.hdr.msg, "are not zero");
	big.extra = 0;
	assert_int_equal(ioctl(fd, UALM_IOC_IOVA_ALLOC, &big), 0);
	assert_int_equal(state_of("iova_ranges"), ranges + 1);
	/* unknown command, bad struct pointer */
	assert_int_equal(ioctl(fd, _IOWR(UALM_IOC_MAGIC, 0x7f, struct ualm_hdr), &v), -1);
	assert_int_equal(errno, ENOTTY);
	assert_int_equal(ioctl(fd, UALM_IOC_QUERY, (void *)8), -1);
	assert_int_equal(errno, EFAULT);
	/* free needs size 0 */
	memset(&v, 0, sizeof(v));
	RAW_HDR(v);
	v.iova = big.v.iova;
	v.size = SZ_4K;
	assert_int_equal(ioctl(fd, UALM_IOC_IOVA_FREE, &v), -1);
	assert_msg_contains(v.hdr.msg, "size must be 0");
	/* link: too many, NULL, unreadable PFN arrays; nothing linked */
	memset(&l, 0, sizeof(l));
	RAW_HDR(l);
	l.iova = big.v.iova;
	l.prot = UAL_PROT_RW;
	l.n = UALM_MAX_BATCH + 1;
	l.pfns = (u64)(uintptr_t)&bad_pfn;
	assert_int_equal(ioctl(fd, UALM_IOC_IOVA_LINK, &l), -1);
	assert_msg_contains(l.hdr.msg, "at most 65536 per call");
	l.n = 1;
	l.pfns = 0;
	assert_int_equal(ioctl(fd, UALM_IOC_IOVA_LINK, &l), -1);
	assert_msg_contains(l.hdr.msg, "pfns is NULL");
	l.pfns = 16;
	assert_int_equal(ioctl(fd, UALM_IOC_IOVA_LINK, &l), -1);
	assert_int_equal(errno, EFAULT);
	l.pfns = (u64)(uintptr_t)&bad_pfn;	/* PFN 1 is not allocated */
	assert_int_equal(ioctl(fd, UALM_IOC_IOVA_LINK, &l), -1);
	assert_int_equal(errno, ENOENT);
	/* a file that created something cannot attach elsewhere */
	memset(&at, 0, sizeof(at));
	RAW_HDR(at);
	at.abi = UALM_ABI_VERSION;
	at.accel = 1;
	assert_int_equal(ioctl(fd, UALM_IOC_ATTACH, &at), -1);
	assert_int_equal(errno, EBUSY);
	at.abi = 99;
	assert_int_equal(ioctl(fd, UALM_IOC_ATTACH, &at), -1);
	assert_msg_contains(at.hdr.msg, "uapi version 99");
	/* register: unaligned, too large, unwritable output */
	memset(&r, 0, sizeof(r));
	RAW_HDR(r);
	r.addr = 0x1001;
	r.len = SZ_4K;
	assert_int_equal(ioctl(fd, UALM_IOC_MEM_REGISTER, &r), -1);
	assert_int_equal(errno, EINVAL);
	r.addr = 0x10000;
	r.len = (UALM_MAX_BATCH + 1) * SZ_4K;
	assert_int_equal(ioctl(fd, UALM_IOC_MEM_REGISTER, &r), -1);
	assert_msg_contains(r.hdr.msg, "per registration");
	r.addr = (u64)(uintptr_t)page_buf(1);
	r.len = SZ_4K;
	r.pfns = (u64)(uintptr_t)"read-only";
	assert_int_equal(ioctl(fd, UALM_IOC_MEM_REGISTER, &r), -1);
	assert_int_equal(errno, EFAULT);
	r.addr = 0x10000;	/* nothing mapped there */
	r.pfns = (u64)(uintptr_t)&bad_pfn;
	assert_int_equal(ioctl(fd, UALM_IOC_MEM_REGISTER, &r), -1);
	assert_msg_contains(r.hdr.msg, "cannot pin");
	/* mem: bad op, unknown block; dump with a NULL array */
	memset(&m, 0, sizeof(m));
	RAW_HDR(m);
	m.size = SZ_4K;
	m.pfn = 12345;
	assert_int_equal(ioctl(fd, UALM_IOC_MEM_FREE, &m), -1);
	assert_int_equal(errno, ENOENT);
	memset(&dm, 0, sizeof(dm));
	RAW_HDR(dm);
	dm.max = 4;
	assert_int_equal(ioctl(fd, UALM_IOC_DUMP, &dm), -1);
	assert_msg_contains(dm.hdr.msg, "out is NULL");
	assert_int_equal(state_of("pinned_pages"), pinned);
	assert_int_equal(state_of("iova_ranges"), ranges + 1);
	close(fd);
	assert_int_equal(state_of("iova_ranges"), ranges);
}

int main(void)
{
	const char *env = getenv("UAL_TEST_URI");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_open_and_options),
		cmocka_unit_test(test_real_pfns_and_bytes),
		cmocka_unit_test(test_unpinned_and_foreign_pfns_refused),
		cmocka_unit_test(test_release_on_close),
		cmocka_unit_test(test_release_after_kill),
		cmocka_unit_test(test_prealloc_allocates_nothing),
		cmocka_unit_test(test_big_batches),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_raw_bad_input),
	};

	if (env && !strncmp(env, "kmod:", 5)) {
		const char *q = strchr(env, '?');
		size_t n = q ? (size_t)(q - env - 5) : strlen(env + 5);

		snprintf(uri, sizeof(uri), "kmod:%.*s", (int)n, env + 5);
		if (n)
			snprintf(path, sizeof(path), "%.*s", (int)n, env + 5);
	}
	return cmocka_run_group_tests_name("kmod", tests, NULL, NULL);
}
