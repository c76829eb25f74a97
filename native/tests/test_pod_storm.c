// SPDX-License-Identifier: Apache-2.0
/*
 * test_pod_storm.c - domains of a shared pod killed at random, mid-operation.
 *
 * Three worker processes own accelerators 0..2 of a pod and hammer it:
 * allocate, write, grant to the others, revoke, free, and read each other's
 * memory through physical-mode fabric addresses. Every 30-120 ms the test
 * SIGKILLs one at a random moment and starts a new one on its accelerator.
 * What must hold: no worker ever hangs (each runs under alarm()), crashes, or
 * sees a return code outside the contract; a read that succeeds returns the
 * bytes its owner wrote. When a kill lands while a lock is held, the pod is
 * poisoned: every worker then gets UAL_EOWNERDEAD and leaves, and the test
 * replaces the pod and goes on. UAL_POD_STORM_SECONDS sets the length (3).
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"
#include "ual.h"

#define WORKERS 3
#define BLOCK_PAGES 4

struct storm_stats {
	u64 ops, reads_ok, refused, hostdown, poisoned_calls;
};

static char path[128], uri[256];
static struct storm_stats *stats;	/* shared with the workers */

static const char *pod_uri(const char *opts)
{
	snprintf(uri, sizeof(uri), "fake:%s%s%s", path, *opts ? "?" : "", opts);
	return uri;
}

/* The byte pattern accelerator @owner writes at @pfn: readers can check it. */
static u8 pattern(u32 owner, u64 pfn, u32 i)
{
	return (u8)(owner * 67 + pfn * 13 + i);
}

static bool allowed(int ret)
{
	return ret == 0 || ret == UAL_EACCES || ret == UAL_EHOSTDOWN || ret == UAL_ENOENT ||
	       ret == UAL_EEXIST || ret == UAL_ENOMEM || ret == UAL_EOWNERDEAD;
}

#define CHECK(call)							\
	do {								\
		int r_ = (call);					\
		__atomic_add_fetch(&stats[me].ops, 1, __ATOMIC_RELAXED);	\
		if (r_ == UAL_EOWNERDEAD) {				\
			__atomic_add_fetch(&stats[me].poisoned_calls, 1, __ATOMIC_RELAXED); \
			_exit(0);					\
		}							\
		if (!allowed(r_)) {					\
			fprintf(stderr, "worker %u: %s -> %d (%s)\n", me, #call, r_, \
				ual_last_error());			\
			_exit(3);					\
		}							\
	} while (0)

/* Shared with the workers: each one's current block (for the others to read). */
static u64 *published;

static void worker(u32 me, u64 seed)
{
	u64 pfn, bounce;
	u8 buf[BLOCK_PAGES * UAL_PAGE_SIZE];
	char opts[32];
	ual_dev *d;
	int r;

	alarm(15);	/* a hang kills the worker with SIGALRM: the test sees it */
	/* (re-armed as it makes progress, for long runs) */
	snprintf(opts, sizeof(opts), "local=%u", me);
	r = ual_open(pod_uri(opts), &d);
	if (r == UAL_EOWNERDEAD)
		_exit(0);
	if (r) {
		fprintf(stderr, "worker %u: open -> %d (%s)\n", me, r, ual_last_error());
		_exit(3);
	}
	CHECK(ual_mem_alloc(d, UAL_PAGE_SIZE, 0, &bounce));
	CHECK(r = ual_mem_alloc(d, sizeof(buf), 0, &pfn));
	if (r)
		_exit(0);
	for (u32 i = 0; i < sizeof(buf); i++)
		buf[i] = pattern(me, pfn + i / UAL_PAGE_SIZE, i % UAL_PAGE_SIZE);
	CHECK(ual_mem_write(d, pfn << UAL_PAGE_SHIFT, buf, sizeof(buf)));
	__atomic_store_n(&published[me], pfn + 1, __ATOMIC_RELEASE);
	for (u64 iter = 0;; iter++) {
		u32 other = (me + 1 + (u32)(test_rand(&seed) % (WORKERS - 1))) % WORKERS;

		if (!(iter % 1024))
			alarm(15);	/* 15 s without 1024 calls done: a hang */
		u64 page = test_rand(&seed) % BLOCK_PAGES;

		switch (test_rand(&seed) % 4) {
		case 0:
			CHECK(ual_grant(d, me, other, pfn + page, 1, UAL_PROT_READ));
			break;
		case 1:
			CHECK(ual_revoke(d, me, other, pfn + page, 1));
			break;
		case 2: {
			/* Read another's page: refused, or exactly its pattern. */
			u64 theirs = __atomic_load_n(&published[other], __ATOMIC_ACQUIRE);
			struct ual_faddr src, dst = { bounce << UAL_PAGE_SHIFT, UAL_ROUTE(me), 0 };
			u8 got[256];

			if (!theirs--)
				break;
			r = ual_map_pfns(d, other, &(u64){ theirs + page }, 1, UAL_PROT_READ, &src);
			CHECK(r);
			if (r)
				break;
			r = ual_copy(d, me, &dst, &src, sizeof(got));
			CHECK(r);
			if (r) {
				__atomic_add_fetch(r == UAL_EHOSTDOWN ? &stats[me].hostdown :
						   &stats[me].refused, 1, __ATOMIC_RELAXED);
				break;
			}
			CHECK(ual_mem_read(d, dst.addr, got, sizeof(got)));
			for (u32 i = 0; i < sizeof(got); i++) {
				if (got[i] != pattern(other, theirs + page, i)) {
					fprintf(stderr, "worker %u: byte %u of accelerator %u PFN 0x%llx "
						"is 0x%x, not 0x%x\n", me, i, other,
						(unsigned long long)(theirs + page), got[i],
						pattern(other, theirs + page, i));
					_exit(6);
				}
			}
			__atomic_add_fetch(&stats[me].reads_ok, 1, __ATOMIC_RELAXED);
			break;
		}
		default: {
			struct ual_fault f[16];
			u32 n;

			CHECK(ual_fault_read(d, f, 16, &n, NULL));
			break;
		}
		}
	}
}

static pid_t spawn(u32 me, u64 seed)
{
	pid_t p = fork();

	if (p == 0)
		worker(me, seed);
	return p;
}

/* Reap a worker; a crash, a hang (SIGALRM) or a contract break fails the test. */
static void reaped(pid_t p, int status, bool killed_by_us)
{
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && killed_by_us)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	fail_msg("worker %d ended with %s %d", (int)p,
		 WIFSIGNALED(status) ? "signal" : "exit code",
		 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

static void t_kill_storm(void **state)
{
	const char *env = getenv("UAL_POD_STORM_SECONDS");
	double seconds = env ? atof(env) : 3.0;
	pid_t pids[WORKERS];
	u64 seed = 0x5eed, kills = 0, pods = 1;
	struct timespec t0, t;
	int status;

	(void)state;
	snprintf(path, sizeof(path), "/dev/shm/ualtest-storm-%d", getpid());
	stats = mmap(NULL, sizeof(*stats) * WORKERS + sizeof(u64) * WORKERS,
		     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(stats != MAP_FAILED);
	published = (u64 *)(stats + WORKERS);
	assert_int_equal(ual_pod_create(pod_uri("accels=3&mem=1M"), UAL_POD_REPLACE), 0);
	for (u32 i = 0; i < WORKERS; i++)
		pids[i] = spawn(i, test_rand(&seed));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		u32 victim = (u32)(test_rand(&seed) % WORKERS);
		pid_t p;

		usleep(30000 + test_rand(&seed) % 90000);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 > seconds)
			break;
		/* Workers that left (the pod was poisoned) or broke the contract. */
		while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
			reaped(p, status, false);
			for (u32 i = 0; i < WORKERS; i++)
				if (pids[i] == p)
					pids[i] = 0;
		}
		if (!pids[0] && !pids[1] && !pids[2]) {
			/* All left: the pod was poisoned. A new one. */
			assert_int_equal(ual_pod_create(pod_uri("accels=3&mem=1M"),
							UAL_POD_REPLACE), 0);
			memset(published, 0, sizeof(u64) * WORKERS);
			pods++;
			for (u32 i = 0; i < WORKERS; i++)
				pids[i] = spawn(i, test_rand(&seed));
			continue;
		}
		if (!pids[victim])
			continue;
		kill(pids[victim], SIGKILL);
		assert_int_equal(waitpid(pids[victim], &status, 0), pids[victim]);
		reaped(pids[victim], status, true);
		kills++;
		__atomic_store_n(&published[victim], 0, __ATOMIC_RELEASE);
		pids[victim] = spawn(victim, test_rand(&seed));
	}
	for (u32 i = 0; i < WORKERS; i++) {
		if (!pids[i])
			continue;
		kill(pids[i], SIGKILL);
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		reaped(pids[i], status, true);
	}
	{
		struct storm_stats sum = { 0 };

		for (u32 i = 0; i < WORKERS; i++) {
			sum.ops += stats[i].ops;
			sum.reads_ok += stats[i].reads_ok;
			sum.refused += stats[i].refused;
			sum.hostdown += stats[i].hostdown;
			sum.poisoned_calls += stats[i].poisoned_calls;
		}
		printf("pod storm: %.1f s, %llu kills, %llu pods (%llu poisoned), %llu calls, "
		       "%llu verified reads, %llu refused, %llu EHOSTDOWN, 0 hangs, 0 crashes\n",
		       seconds, (unsigned long long)kills, (unsigned long long)pods,
		       (unsigned long long)(pods - 1), (unsigned long long)sum.ops,
		       (unsigned long long)sum.reads_ok, (unsigned long long)sum.refused,
		       (unsigned long long)sum.hostdown);
		assert_true(kills > 0 && sum.reads_ok > 0 && sum.refused > 0);
	}
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_kill_storm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
