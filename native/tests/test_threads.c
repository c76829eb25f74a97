// SPDX-License-Identifier: Apache-2.0
/* Concurrency: threads linking, unlinking, translating, copying,
 * granting/revoking and opening/closing on one shared fabric. Each checks
 * what it can prove, and the end state must be clean. */
#include <pthread.h>

#include "test_util.h"
#include "ual.h"

#define THREADS 4
#define ROUNDS 300

struct worker {
	ual_dev *dev;	/* own handle, accelerator = index % 2 */
	int idx;
	int errors;
	char first[UAL_ERR_MSG_MAX];	/* the first problem seen */
};

#define BAD(w, what)								\
	do {									\
		if (!(w)->errors++)						\
			snprintf((w)->first, sizeof((w)->first), "%s: %s",	\
				 what, ual_last_error());			\
	} while (0)

static int stop;

static void *mapper(void *arg)
{
	struct worker *w = arg;
	u64 pfn, iova, pfns[32], i;
	int r;

	if (ual_mem_alloc(w->dev, 32 * 4096, 65536, &pfn))
		BAD(w, "mem_alloc");
	for (i = 0; i < 32; i++)
		pfns[i] = pfn + i;
	for (r = 0; r < ROUNDS; r++) {
		struct ual_faddr fa;
		struct ual_xlate x;
		u32 flags = (r & 1) ? UAL_IOVA_PREALLOC : 0;

		if (ual_iova_alloc(w->dev, 32 * 4096, flags, &iova)) {
			BAD(w, "iova_alloc");
			continue;
		}
		if (ual_iova_link(w->dev, iova, 0, (u32)w->idx % 2, pfns, 32, UAL_PROT_RW) ||
		    ual_iova_sync(w->dev, iova, 0, 32 * 4096))
			BAD(w, "link/sync");
		fa = (struct ual_faddr){ iova + 4096 * (r % 32), 0, 0 };
		if (ual_translate(w->dev, (u32)w->idx % 2, &fa, UAL_ACCESS_WRITE, &x) ||
		    x.phys != (pfn + r % 32) << 12)
			BAD(w, "translate");
		if (ual_iova_unlink(w->dev, iova, 0, 32 * 4096))
			BAD(w, "unlink");
		/* After unlink nothing reaches the page (checked before the
		 * free: then another thread may reuse the IOVA). */
		if (ual_translate(w->dev, (u32)w->idx % 2, &fa, UAL_ACCESS_READ, &x) != UAL_EFAULT)
			BAD(w, "translate after unlink");
		if (ual_iova_free(w->dev, iova))
			BAD(w, "free");
	}
	if (ual_mem_free(w->dev, pfn, 32 * 4096))
		BAD(w, "mem_free");
	return NULL;
}

/* Copies through a grant that another thread keeps revoking and granting:
 * every copy is all or nothing, so the destination always holds either
 * the old pattern or the new one, never a mix. */
struct granter {
	ual_dev *a1;
	u64 pfn;
};

static void *granter(void *arg)
{
	struct granter *g = arg;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		ual_grant(g->a1, 1, 0, g->pfn, 4, UAL_PROT_READ);
		ual_revoke(g->a1, 1, 0, g->pfn, 4);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct worker w[THREADS];
	pthread_t t[THREADS], gt;
	struct granter g;
	ual_dev *a0, *a1, *h;
	struct ual_info i;
	u64 src, dst, lost;
	u8 pat[4 * 4096], buf[4 * 4096];
	int k, copies = 0, refused = 0;
	struct ual_fault f[16];
	u32 n;

	(void)state;
	assert_int_equal(ual_open("fake:threads?accels=2&faults=16", &a0), 0);
	assert_int_equal(ual_open("fake:threads?local=1", &a1), 0);
	for (k = 0; k < THREADS; k++) {
		w[k].idx = k;
		w[k].errors = 0;
		w[k].first[0] = 0;
		assert_int_equal(ual_open(k % 2 ? "fake:threads?local=1" : "fake:threads", &w[k].dev), 0);
		assert_int_equal(pthread_create(&t[k], NULL, mapper, &w[k]), 0);
	}

	assert_int_equal(ual_mem_alloc(a1, sizeof(pat), 0, &src), 0);
	assert_int_equal(ual_mem_alloc(a0, sizeof(pat), 0, &dst), 0);
	memset(pat, 0xc3, sizeof(pat));
	assert_int_equal(ual_mem_write(a1, src << 12, pat, sizeof(pat)), 0);
	g.a1 = a1;
	g.pfn = src;
	stop = 0;
	assert_int_equal(pthread_create(&gt, NULL, granter, &g), 0);
	for (k = 0; k < 2000; k++) {
		struct ual_faddr d = { dst << 12, UAL_ROUTE(0), 0 };
		struct ual_faddr s = { src << 12, UAL_ROUTE(1), 0 };
		int ret;

		memset(buf, 0, sizeof(buf));
		assert_int_equal(ual_mem_write(a0, dst << 12, buf, sizeof(buf)), 0);
		ret = ual_copy(a0, 0, &d, &s, sizeof(pat));
		assert_int_equal(ual_mem_read(a0, dst << 12, buf, sizeof(buf)), 0);
		if (ret == 0) {
			copies++;
			assert_memory_equal(buf, pat, sizeof(pat));
		} else {
			assert_int_equal(ret, UAL_EACCES);
			refused++;
			assert_int_equal(buf[0], 0);
			assert_int_equal(buf[sizeof(buf) - 1], 0);
		}
		/* Opening and closing handles while others work. */
		if (k % 100 == 0) {
			assert_int_equal(ual_open("fake:threads", &h), 0);
			ual_close(h);
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(gt, NULL);
	for (k = 0; k < THREADS; k++) {
		pthread_join(t[k], NULL);
		if (w[k].errors)
			fail_msg("worker %d: %d errors, first %s", k, w[k].errors, w[k].first);
		ual_close(w[k].dev);
	}
	print_message("copies: %d done, %d refused\n", copies, refused);
	assert_int_equal(copies + refused, 2000);

	i = (struct ual_info){ 0 };
	assert_int_equal(ual_query(a0, &i), 0);
	assert_int_equal(i.iova_ranges, 0);
	assert_int_equal(i.mapped_pages, 0);
	assert_int_equal(i.mem_free, MiB(64) - sizeof(pat));
	assert_int_equal(ual_fault_read(a0, f, 16, &n, &lost), 0);
	/* Refused copies plus the mappers' post-unlink checks on accel 0. */
	assert_int_equal(n + lost, (u64)refused + (THREADS / 2) * ROUNDS);
	ual_close(a1);
	ual_close(a0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
