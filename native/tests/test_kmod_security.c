// SPDX-License-Identifier: Apache-2.0
/*
 * test_kmod_security.c - security of the ualmock module, run in the QEMU
 * guest (UAL_TEST_URI=kmod:/dev/ualmock, as root; skipped without the
 * device, i.e. on the host):
 *
 *  - an unprivileged user (uid/gid 65534, in a forked child) cannot open
 *    /dev/ualmock, neither with open(2) nor through ual_open();
 *  - no handle reaches a host page it did not pin: another handle (another
 *    open file, another owner) cannot map, link or grant the PFNs of a
 *    buffer it did not register (EPERM), nor a host PFN nobody registered
 *    (ENOENT), and cannot unregister it;
 *  - after an unregister the pinned page is released; when the kernel hands
 *    the same physical page to another handle's registration, the first
 *    handle's stale link and stale grant must not reach it. This case
 *    depends on page reuse, which the test provokes (free, then pin many
 *    fresh pages) and reports; it runs only with UAL_KMOD_STALE_PFN=1.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#include "ual.h"

#define PG 4096ull

static char uri[128] = "kmod:/dev/ualmock";
static char path[128] = "/dev/ualmock";

static void need_device(void)
{
	if (access(path, R_OK | W_OK))
		skip();
}

static void test_unprivileged_open_refused(void **state)
{
	pid_t pid;
	int st;

	(void)state;
	need_device();
	if (geteuid() != 0)
		skip();	/* the check needs root to drop to nobody */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		ual_dev *d = NULL;
		int fd;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(10);
		fd = open(path, O_RDWR);
		if (fd >= 0 || errno != EACCES)
			_exit(11);
		fd = open(path, O_RDONLY);
		if (fd >= 0)
			_exit(12);
		if (ual_open(uri, &d) == 0)
			_exit(13);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (WEXITSTATUS(st))
		fail_msg("unprivileged child: step %d failed (10 setuid, 11 open O_RDWR not EACCES, "
			 "12 open O_RDONLY succeeded, 13 ual_open succeeded)", WEXITSTATUS(st));
}

static void test_foreign_host_pages_refused(void **state)
{
	ual_dev *a, *b;
	u8 *buf;
	u64 pfns[4], blk, iova, nobody;
	struct ual_faddr out[4];

	(void)state;
	need_device();
	assert_int_equal(ual_open(uri, &a), 0);
	assert_int_equal(ual_open(uri, &b), 0);	/* another owner, same accelerator */
	buf = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		   -1, 0);
	assert_true(buf != MAP_FAILED);
	memset(buf, 0x42, 4 * PG);
	assert_int_equal(ual_mem_register(a, buf, 4 * PG, pfns), 0);
	assert_int_equal(ual_mem_alloc(b, PG, 0, &blk), 0);
	assert_int_equal(ual_iova_alloc(b, 4 * PG, 0, &iova), 0);

	assert_int_equal(ual_map_pfns(b, 0, pfns, 4, UAL_PROT_READ, out), UAL_EPERM);
	assert_int_equal(ual_iova_link(b, iova, 0, 0, pfns, 4, UAL_PROT_RW), UAL_EPERM);
	assert_int_equal(ual_grant(b, 0, 1, pfns[0], 1, UAL_PROT_READ), UAL_EPERM);
	assert_int_equal(ual_mem_unregister(b, buf), UAL_ENOENT);
	/* A host PFN nobody registered. */
	nobody = (UAL_HOST_BASE >> 12) + 1;
	if (nobody == pfns[0])
		nobody++;
	assert_int_not_equal(ual_map_pfns(b, 0, &nobody, 1, UAL_PROT_READ, out), 0);
	assert_int_not_equal(ual_iova_link(b, iova, 0, 0, &nobody, 1, UAL_PROT_READ), 0);
	/* Registering memory it does not have: an unmapped address. */
	assert_int_not_equal(ual_mem_register(b, (void *)(uintptr_t)0x1000, PG, pfns), 0);

	ual_close(b);
	ual_close(a);
	for (u64 k = 0; k < 4 * PG; k++)
		assert_int_equal(buf[k], 0x42);
	munmap(buf, 4 * PG);
}

/*
 * A links and grants its page, unregisters it and unmaps it; B pins fresh
 * pages until one is A's old physical page (or gives up). A's stale link
 * and A's stale grant to accelerator 1 must then reach nothing of B.
 */
static void test_stale_pfn_after_unregister(void **state)
{
	const char *on = getenv("UAL_KMOD_STALE_PFN");
	ual_dev *a, *b, *a1;
	u8 *pa, *pb;
	u64 pfn, iova, blk, mine, bp[256];
	struct ual_faddr src, dst;
	struct ual_xlate x;
	struct ual_info info;
	int hit = -1, round, k, ret_link, ret_grant;
	u8 got[256];

	(void)state;
	need_device();
	if (!on || strcmp(on, "1"))
		skip();
	assert_int_equal(ual_open(uri, &a), 0);
	assert_int_equal(ual_query(a, &info), 0);
	assert_int_equal(ual_open(uri, &b), 0);
	assert_int_equal(ual_mem_alloc(a, PG, 0, &blk), 0);
	for (round = 0; round < 20 && hit < 0; round++) {
		pa = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
			  -1, 0);
		assert_true(pa != MAP_FAILED);
		memset(pa, 0xaa, PG);
		assert_int_equal(ual_mem_register(a, pa, PG, &pfn), 0);
		assert_int_equal(ual_iova_alloc(a, PG, 0, &iova), 0);
		assert_int_equal(ual_iova_link(a, iova, 0, info.accel_id, &pfn, 1, UAL_PROT_RW), 0);
		assert_int_equal(ual_iova_sync(a, iova, 0, PG), 0);
		if (info.num_accels > 1)
			assert_int_equal(ual_grant(a, info.accel_id, (info.accel_id + 1) % info.num_accels,
						   pfn, 1, UAL_PROT_READ), 0);
		assert_int_equal(ual_mem_unregister(a, pa), 0);
		munmap(pa, PG);	/* the page goes back to the kernel */

		pb = mmap(NULL, 256 * PG, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		assert_true(pb != MAP_FAILED);
		memset(pb, 0xbb, 256 * PG);
		assert_int_equal(ual_mem_register(b, pb, 256 * PG, bp), 0);
		for (k = 0; k < 256; k++)
			if (bp[k] == pfn)
				hit = k;
		if (hit >= 0)
			break;
		assert_int_equal(ual_mem_unregister(b, pb), 0);
		munmap(pb, 256 * PG);
		if (info.num_accels > 1)
			ual_revoke(a, info.accel_id, (info.accel_id + 1) % info.num_accels, pfn, 1);
		assert_int_equal(ual_iova_unlink(a, iova, 0, PG), 0);
		assert_int_equal(ual_iova_free(a, iova), 0);
	}
	if (hit < 0) {
		printf("  stale PFN: the kernel did not reuse the page in 20 rounds: inconclusive\n");
		ual_close(b);
		ual_close(a);
		skip();
	}
	printf("  stale PFN: host PFN 0x%llx of A's unregistered page is now B's page %d\n",
	       (unsigned long long)pfn, hit);
	/* A's stale IOVA: translate and copy into A's own device memory. */
	src = (struct ual_faddr){ iova, 0, 0 };
	mine = blk;
	dst = (struct ual_faddr){ mine * PG, UAL_ROUTE(info.accel_id), 0 };
	ret_link = ual_translate(a, info.accel_id, &src, UAL_ACCESS_READ, &x);
	if (!ret_link) {
		ual_copy(a, info.accel_id, &dst, &src, 256);
		ual_mem_read(a, mine * PG, got, 256);
	}
	/* A's stale grant, used by the next accelerator. */
	ret_grant = UAL_EFAULT;
	if (info.num_accels > 1) {
		u32 other = (info.accel_id + 1) % info.num_accels;
		struct ual_faddr fa = { pfn * PG, UAL_ROUTE(info.accel_id), 0 };

		assert_int_equal(ual_open_peer(a, other, &a1), 0);
		ret_grant = ual_translate(a1, other, &fa, UAL_ACCESS_READ, &x);
		ual_close(a1);
	}
	ual_mem_unregister(b, pb);
	munmap(pb, 256 * PG);
	ual_close(b);
	ual_close(a);
	if (!ret_link)
		fail_msg("A's stale link reaches B's pinned page (PFN 0x%llx, first byte read 0x%02x)",
			 (unsigned long long)pfn, got[0]);
	if (!ret_grant)
		fail_msg("A's stale grant lets accelerator %u reach B's pinned page (PFN 0x%llx)",
			 (info.accel_id + 1) % info.num_accels, (unsigned long long)pfn);
}

int main(void)
{
	const char *env = getenv("UAL_TEST_URI");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unprivileged_open_refused),
		cmocka_unit_test(test_foreign_host_pages_refused),
		cmocka_unit_test(test_stale_pfn_after_unregister),
	};

	if (env && !strncmp(env, "kmod:", 5) && env[5] == '/') {
		snprintf(uri, sizeof(uri), "%s", env);
		snprintf(path, sizeof(path), "%.*s", (int)strcspn(env + 5, "?"), env + 5);
	}
	return cmocka_run_group_tests_name("kmod_security", tests, NULL, NULL);
}
