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
 *  - nor through a forged local address: a request from the accelerator
 *    itself to another handle's pinned PFN is refused (EACCES);
 *  - a buffer cannot be unregistered while linked or granted (EBUSY); after
 *    unlink, revoke and unregister the pinned page is released, and when the
 *    kernel hands the same physical page to another handle's registration,
 *    the first handle's old IOVA, its forged address and the old grantee
 *    reach nothing of it. Page reuse is provoked (free, then pin many fresh
 *    pages) and reported; the checks run either way.
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
 * A forged local address: B pins a page, A (another open file of the same
 * accelerator: in a real system another process) issues local requests to
 * B's real host PFN. Refused at the target (EACCES, fault NO_GRANT recorded),
 * no byte moves either way.
 */
static void test_forged_local_address(void **state)
{
	ual_dev *a, *b;
	u8 *buf, got[256];
	u64 pfn, blk;
	struct ual_faddr fa, mine;
	struct ual_xlate x;
	struct ual_fault f[4];
	struct ual_info info;
	u32 n;

	(void)state;
	need_device();
	assert_int_equal(ual_open(uri, &a), 0);
	assert_int_equal(ual_open(uri, &b), 0);
	assert_int_equal(ual_query(a, &info), 0);
	buf = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		   -1, 0);
	assert_true(buf != MAP_FAILED);
	memset(buf, 0x42, PG);
	assert_int_equal(ual_mem_register(b, buf, PG, &pfn), 0);
	assert_int_equal(ual_mem_alloc(a, PG, 0, &blk), 0);
	fa = (struct ual_faddr){ pfn * PG + 0x40, UAL_ROUTE(info.accel_id), 0 };
	mine = (struct ual_faddr){ blk * PG, UAL_ROUTE(info.accel_id), 0 };
	assert_int_equal(ual_fault_read(a, f, 4, &n, NULL), 0);

	assert_int_equal(ual_translate(a, info.accel_id, &fa, UAL_ACCESS_READ, &x), UAL_EACCES);
	if (!strstr(ual_last_error(), "was registered through another handle"))
		fail_msg("message: %s", ual_last_error());
	assert_int_equal(ual_copy(a, info.accel_id, &mine, &fa, 256), UAL_EACCES);
	assert_int_equal(ual_copy(a, info.accel_id, &fa, &mine, 256), UAL_EACCES);
	assert_int_equal(ual_fault_read(a, f, 4, &n, NULL), 0);
	assert_int_equal(n, 3);
	for (u32 k = 0; k < n; k++) {
		assert_int_equal(f[k].reason, UAL_FAULT_NO_GRANT);
		assert_int_equal(f[k].target, info.accel_id);
	}
	assert_int_equal(ual_mem_read(a, blk * PG, got, sizeof(got)), 0);
	for (u32 k = 0; k < sizeof(got); k++)
		assert_int_equal(got[k], 0);
	for (u64 k = 0; k < PG; k++)
		assert_int_equal(buf[k], 0x42);
	/* The owner itself gets through. */
	assert_int_equal(ual_translate(b, info.accel_id, &fa, UAL_ACCESS_READ, &x), 0);
	ual_close(b);
	ual_close(a);
	munmap(buf, PG);
}

/*
 * A links and grants its page; unregistering it is refused while either
 * lasts (UAL_EBUSY), so A unlinks, revokes and unregisters, and unmaps the
 * page. B pins fresh pages until one is A's old physical page (reported;
 * the checks run either way). A's old IOVA, A's forged local address to the
 * old PFN and accelerator 1's request to it must reach nothing of B.
 */
static void test_stale_pfn_after_unregister(void **state)
{
	ual_dev *a, *b, *a1;
	u8 *pa, *pb = NULL;
	u64 pfn, iova = 0, blk, bp[256];
	struct ual_faddr src, dst, fa;
	struct ual_xlate x;
	struct ual_info info;
	int hit = -1, round, k, ret;
	u32 other;
	u8 got[256];

	(void)state;
	need_device();
	assert_int_equal(ual_open(uri, &a), 0);
	assert_int_equal(ual_query(a, &info), 0);
	assert_int_equal(ual_open(uri, &b), 0);
	assert_int_equal(ual_mem_alloc(a, PG, 0, &blk), 0);
	other = (info.accel_id + 1) % info.num_accels;
	for (round = 0; round < 20 && hit < 0; round++) {
		if (round) {
			assert_int_equal(ual_mem_unregister(b, pb), 0);
			munmap(pb, 256 * PG);
			assert_int_equal(ual_iova_free(a, iova), 0);
		}
		pa = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
			  -1, 0);
		assert_true(pa != MAP_FAILED);
		memset(pa, 0xaa, PG);
		assert_int_equal(ual_mem_register(a, pa, PG, &pfn), 0);
		assert_int_equal(ual_iova_alloc(a, PG, 0, &iova), 0);
		assert_int_equal(ual_iova_link(a, iova, 0, info.accel_id, &pfn, 1, UAL_PROT_RW), 0);
		assert_int_equal(ual_iova_sync(a, iova, 0, PG), 0);
		if (info.num_accels > 1)
			assert_int_equal(ual_grant(a, info.accel_id, other, pfn, 1, UAL_PROT_READ), 0);
		/* The stale link / stale grant cannot be made: busy. */
		assert_int_equal(ual_mem_unregister(a, pa), UAL_EBUSY);
		assert_int_equal(ual_iova_unlink(a, iova, 0, PG), 0);
		if (info.num_accels > 1) {
			assert_int_equal(ual_mem_unregister(a, pa), UAL_EBUSY);
			assert_int_equal(ual_revoke(a, info.accel_id, other, pfn, 1), 0);
		}
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
	}
	if (hit >= 0)
		printf("  stale PFN: host PFN 0x%llx of A's unregistered page is now B's page %d\n",
		       (unsigned long long)pfn, hit);
	else
		printf("  stale PFN: the kernel did not reuse the page in 20 rounds: checking the "
		       "unregistered PFN only\n");
	/* A's old IOVA (its range is still allocated): not present. */
	src = (struct ual_faddr){ iova, 0, 0 };
	dst = (struct ual_faddr){ blk * PG, UAL_ROUTE(info.accel_id), 0 };
	ret = ual_translate(a, info.accel_id, &src, UAL_ACCESS_READ, &x);
	if (ret != UAL_EFAULT)
		fail_msg("A's old IOVA: %d (%s), want UAL_EFAULT", ret, ual_last_error());
	assert_int_equal(ual_copy(a, info.accel_id, &dst, &src, 256), UAL_EFAULT);
	/* A's forged local address to the old PFN: B's page, or nothing. */
	fa = (struct ual_faddr){ pfn * PG, UAL_ROUTE(info.accel_id), 0 };
	ret = ual_copy(a, info.accel_id, &dst, &fa, 256);
	if (ret != (hit >= 0 ? UAL_EACCES : UAL_EFAULT))
		fail_msg("A's copy from the old PFN 0x%llx: %d (%s)", (unsigned long long)pfn, ret,
			 ual_last_error());
	assert_int_equal(ual_mem_read(a, blk * PG, got, sizeof(got)), 0);
	for (k = 0; k < (int)sizeof(got); k++)
		assert_int_equal(got[k], 0);
	/* The revoked grant: accelerator @other reaches nothing. */
	if (info.num_accels > 1) {
		assert_int_equal(ual_open_peer(a, other, &a1), 0);
		ret = ual_translate(a1, other, &fa, UAL_ACCESS_READ, &x);
		ual_close(a1);
		if (ret != (hit >= 0 ? UAL_EACCES : UAL_EFAULT))
			fail_msg("accelerator %u to the old PFN: %d (%s)", other, ret, ual_last_error());
	}
	for (k = 0; k < 256 * (int)PG; k++)
		assert_int_equal(pb[k], 0xbb);
	assert_int_equal(ual_mem_unregister(b, pb), 0);
	munmap(pb, 256 * PG);
	ual_close(b);
	ual_close(a);
}

int main(void)
{
	const char *env = getenv("UAL_TEST_URI");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unprivileged_open_refused),
		cmocka_unit_test(test_foreign_host_pages_refused),
		cmocka_unit_test(test_forged_local_address),
		cmocka_unit_test(test_stale_pfn_after_unregister),
	};

	if (env && !strncmp(env, "kmod:", 5) && env[5] == '/') {
		snprintf(uri, sizeof(uri), "%s", env);
		snprintf(path, sizeof(path), "%.*s", (int)strcspn(env + 5, "?"), env + 5);
	}
	return cmocka_run_group_tests_name("kmod_security", tests, NULL, NULL);
}
