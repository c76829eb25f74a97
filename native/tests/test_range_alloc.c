// SPDX-License-Identifier: Apache-2.0
/* Range allocator: alignment, limits, exhaustion, fragmentation, lookup,
 * a randomized run against an array model, and O(log n) scaling. */
#include <time.h>

#include "test_util.h"
#include "core/range_alloc.h"

static ual_atomic64_t ctr;

static void test_basic_alloc_free(void **state)
{
	struct range_alloc ra;
	u64 a, b, c;

	(void)state;
	assert_int_equal(ra_init(&ra, 1, 1000, &ctr), 0);
	assert_int_equal(ra_alloc(&ra, 10, 1, 0, ~0ull, (void *)1, &a), 0);
	assert_int_equal(a, 1);
	assert_int_equal(ra_alloc(&ra, 10, 1, 0, ~0ull, (void *)2, &b), 0);
	assert_int_equal(b, 11);
	assert_int_equal(ra_alloc(&ra, 5, 8, 0, ~0ull, (void *)3, &c), 0);
	assert_int_equal(c, 24);	/* 21 rounded up to 8 */
	assert_int_equal(ra_nr_used(&ra), 3);
	assert_int_equal(ra_free_units(&ra), 999 - 25);
	assert_ptr_equal(ra_find(&ra, 11)->data, (void *)2);
	assert_null(ra_find(&ra, 12));
	assert_ptr_equal(ra_lookup(&ra, 15)->data, (void *)2);
	assert_ptr_equal(ra_lookup(&ra, 28)->data, (void *)3);
	assert_null(ra_lookup(&ra, 21));	/* alignment gap stays free */
	assert_null(ra_lookup(&ra, 29));
	assert_int_equal(ra_next(&ra, 12)->start, 24);
	assert_true(ra_check(&ra));
	assert_int_equal(ra_free(&ra, 11), 0);
	assert_int_equal(ra_free(&ra, 11), UAL_ENOENT);
	assert_int_equal(ra_free(&ra, 12), UAL_ENOENT);
	assert_true(ra_check(&ra));
	/* The hole [11, 24) is found first again. */
	assert_int_equal(ra_alloc(&ra, 13, 1, 0, ~0ull, NULL, &b), 0);
	assert_int_equal(b, 11);
	assert_int_equal(ra_free(&ra, 1), 0);
	assert_int_equal(ra_free(&ra, 11), 0);
	assert_int_equal(ra_free(&ra, 24), 0);
	assert_int_equal(ra_free_units(&ra), 999);
	assert_true(ra_check(&ra));
	ra_destroy(&ra);
}

static void test_bad_args(void **state)
{
	struct range_alloc ra;
	u64 a;

	(void)state;
	assert_int_equal(ra_init(&ra, 0, 100, &ctr), 0);
	assert_int_equal(ra_alloc(&ra, 0, 1, 0, ~0ull, NULL, &a), UAL_EINVAL);
	assert_int_equal(ra_alloc(&ra, 1, 3, 0, ~0ull, NULL, &a), UAL_EINVAL);
	assert_int_equal(ra_alloc(&ra, 1, 0, 0, ~0ull, NULL, &a), UAL_EINVAL);
	assert_int_equal(ra_alloc(&ra, 101, 1, 0, ~0ull, NULL, &a), UAL_ENOSPC);
	assert_int_equal(ra_reserve(&ra, 0, 0, NULL), UAL_EINVAL);
	assert_int_equal(ra_reserve(&ra, 100, 1, NULL), UAL_ERANGE);
	assert_int_equal(ra_reserve(&ra, 90, 11, NULL), UAL_ERANGE);
	assert_int_equal(ra_nr_used(&ra), 0);
	assert_true(ra_check(&ra));
	ra_destroy(&ra);
}

static void test_limit_and_lower_bound(void **state)
{
	struct range_alloc ra;
	u64 a;

	(void)state;
	assert_int_equal(ra_init(&ra, 0, 1 << 20, &ctr), 0);
	/* Only below hi. */
	assert_int_equal(ra_alloc(&ra, 64, 64, 0, 128, NULL, &a), 0);
	assert_int_equal(a, 0);
	assert_int_equal(ra_alloc(&ra, 64, 64, 0, 128, NULL, &a), 0);
	assert_int_equal(a, 64);
	assert_int_equal(ra_alloc(&ra, 64, 64, 0, 128, NULL, &a), UAL_ENOSPC);
	assert_int_equal(ra_alloc(&ra, 1, 1, 0, 128, NULL, &a), UAL_ENOSPC);
	/* At or above lo. */
	assert_int_equal(ra_alloc(&ra, 10, 1, 1000, ~0ull, NULL, &a), 0);
	assert_int_equal(a, 1000);
	assert_int_equal(ra_alloc(&ra, 10, 16, 1000, ~0ull, NULL, &a), 0);
	assert_int_equal(a, 1024);
	assert_true(ra_check(&ra));
	ra_destroy(&ra);
}

static void test_reserve(void **state)
{
	struct range_alloc ra;
	u64 a;

	(void)state;
	assert_int_equal(ra_init(&ra, 0, 100, &ctr), 0);
	assert_int_equal(ra_reserve(&ra, 40, 20, (void *)7), 0);
	assert_int_equal(ra_reserve(&ra, 50, 1, NULL), UAL_EEXIST);
	assert_int_equal(ra_reserve(&ra, 30, 11, NULL), UAL_EEXIST);
	assert_int_equal(ra_reserve(&ra, 59, 2, NULL), UAL_EEXIST);
	assert_int_equal(ra_reserve(&ra, 60, 40, NULL), 0);
	assert_int_equal(ra_alloc(&ra, 41, 1, 0, ~0ull, NULL, &a), UAL_ENOSPC);
	assert_int_equal(ra_alloc(&ra, 40, 1, 0, ~0ull, NULL, &a), 0);
	assert_int_equal(a, 0);
	assert_int_equal(ra_free_units(&ra), 0);
	assert_ptr_equal(ra_lookup(&ra, 45)->data, (void *)7);
	assert_true(ra_check(&ra));
	ra_destroy(&ra);
}

static void test_exhaustion_and_fragmentation(void **state)
{
	struct range_alloc ra;
	u64 a, i;

	(void)state;
	assert_int_equal(ra_init(&ra, 0, 1024, &ctr), 0);
	for (i = 0; i < 1024; i++) {
		assert_int_equal(ra_alloc(&ra, 1, 1, 0, ~0ull, NULL, &a), 0);
		assert_int_equal(a, i);
	}
	assert_int_equal(ra_alloc(&ra, 1, 1, 0, ~0ull, NULL, &a), UAL_ENOSPC);
	/* Free every other unit: 512 free units, no two adjacent. */
	for (i = 0; i < 1024; i += 2)
		assert_int_equal(ra_free(&ra, i), 0);
	assert_true(ra_check(&ra));
	assert_int_equal(ra_free_units(&ra), 512);
	assert_int_equal(ra_alloc(&ra, 2, 1, 0, ~0ull, NULL, &a), UAL_ENOSPC);
	/* Freeing the odd unit 5 merges [4, 7). */
	assert_int_equal(ra_free(&ra, 5), 0);
	assert_int_equal(ra_alloc(&ra, 3, 1, 0, ~0ull, NULL, &a), 0);
	assert_int_equal(a, 4);
	/* Aligned: [8, 10) has a free 8 and 9 is used; need 2 aligned to 2. */
	assert_int_equal(ra_free(&ra, 9), 0);
	assert_int_equal(ra_alloc(&ra, 2, 2, 0, ~0ull, NULL, &a), 0);
	assert_int_equal(a, 8);
	assert_true(ra_check(&ra));
	ra_destroy(&ra);
}

/* Many misaligned holes before the only aligned fit: the budgeted first
 * fit must still find it. */
static void test_alignment_fallback(void **state)
{
	struct range_alloc ra;
	u64 a, i;

	(void)state;
	assert_int_equal(ra_init(&ra, 0, 1 << 16, &ctr), 0);
	for (i = 0; i < (1 << 16); i++)
		assert_int_equal(ra_alloc(&ra, 1, 1, 0, ~0ull, NULL, &a), 0);
	/* Holes of 16 units starting at 8 mod 64: none 16-aligned... */
	for (i = 0; i < (1 << 16) - 64; i += 64) {
		u64 j;

		for (j = 0; j < 16; j++)
			assert_int_equal(ra_free(&ra, i + 8 + j), 0);
	}
	/* ...except one 32-unit hole near the end, which holds an aligned 16. */
	for (i = (1 << 16) - 40; i < (1 << 16) - 8; i++)
		assert_int_equal(ra_free(&ra, i), 0);
	assert_int_equal(ra_alloc(&ra, 16, 16, 0, ~0ull, NULL, &a), 0);
	assert_int_equal(a, (1 << 16) - 32);
	assert_true(ra_check(&ra));
	ra_destroy(&ra);
}

/* Random operations against a bitmap model. */
static void test_randomized(void **state)
{
	enum { SPACE = 4096, OPS = 20000, MAXR = 512 };
	static u8 model[SPACE];
	static u64 starts[MAXR], lens[MAXR];
	struct range_alloc ra;
	u64 seed = 0x1234567, a;
	int live = 0, op;

	(void)state;
	memset(model, 0, sizeof(model));
	assert_int_equal(ra_init(&ra, 0, SPACE, &ctr), 0);
	for (op = 0; op < OPS; op++) {
		u64 r = test_rand(&seed);

		if (live < MAXR && (r & 1)) {
			u64 len = 1 + (r >> 8) % 64, align = 1ull << ((r >> 20) % 5);
			u64 lo = (r >> 30) % 64 == 0 ? (r >> 40) % SPACE : 0;
			u64 s, expect = ~0ull;
			int ret;

			/* Model: lowest aligned start >= lo with len free units. */
			for (s = ual_align_up(lo, align); s + len <= SPACE; s += align) {
				u64 k;

				for (k = 0; k < len && !model[s + k]; k++)
					;
				if (k == len) {
					expect = s;
					break;
				}
			}
			ret = ra_alloc(&ra, len, align, lo, ~0ull, NULL, &a);
			if (expect == ~0ull) {
				assert_int_equal(ret, UAL_ENOSPC);
			} else {
				assert_int_equal(ret, 0);
				assert_int_equal(a, expect);
				memset(model + a, 1, len);
				starts[live] = a;
				lens[live++] = len;
			}
		} else if (live) {
			int i = (int)((r >> 8) % live);

			assert_int_equal(ra_free(&ra, starts[i]), 0);
			memset(model + starts[i], 0, lens[i]);
			starts[i] = starts[--live];
			lens[i] = lens[live];
		}
		if (op % 1000 == 0)
			assert_true(ra_check(&ra));
	}
	assert_true(ra_check(&ra));
	ra_destroy(&ra);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ns per alloc+free pair with @live ranges in place (size 1, align 1, and
 * size 16 align 16 mixed, like the IOVA space). */
static double pair_cost(u64 live)
{
	struct range_alloc ra;
	u64 i, a, seed = 99;
	const u64 pairs = 200000;
	double t;

	assert_int_equal(ra_init(&ra, 1, 1ull << 36, &ctr), 0);
	for (i = 0; i < live; i++)
		assert_int_equal(ra_alloc(&ra, (i & 1) ? 16 : 1, (i & 1) ? 16 : 1, 0, ~0ull,
					  NULL, &a), 0);
	t = now();
	for (i = 0; i < pairs; i++) {
		u64 len = (test_rand(&seed) & 1) ? 16 : 1;

		assert_int_equal(ra_alloc(&ra, len, len, 0, ~0ull, NULL, &a), 0);
		assert_int_equal(ra_free(&ra, a), 0);
	}
	t = now() - t;
	assert_int_equal(ra_nr_used(&ra), live);
	ra_destroy(&ra);
	return t * 1e9 / pairs;
}

static void test_scaling(void **state)
{
	double small, big;

	(void)state;
	small = pair_cost(1000);
	big = pair_cost(1000000);
	print_message("alloc+free: %.0f ns with 1K live ranges, %.0f ns with 1M\n", small, big);
	/* O(log n): 1M is 2x the depth of 1K; allow cache effects. */
	assert_true(big <= small * 4 + 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_alloc_free),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_limit_and_lower_bound),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_exhaustion_and_fragmentation),
		cmocka_unit_test(test_alignment_fallback),
		cmocka_unit_test(test_randomized),
		cmocka_unit_test(test_scaling),
	};

	return cmocka_run_group_tests_name("range_alloc", tests, NULL, NULL);
}
