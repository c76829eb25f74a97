// SPDX-License-Identifier: Apache-2.0
/*
 * test_pod.c - shared pods (fake:/PATH): one fabric file, several processes.
 *
 * Domains are forked processes that open the pod themselves (a fork never
 * shares a mapping with its parent's handles). They talk through pipes.
 */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"
#include "ual.h"
#include "backends/fake/fake.h"

static char path[128];
static char uri[256];

static int setup(void **state)
{
	static int n;

	(void)state;
	snprintf(path, sizeof(path), "/dev/shm/ualtest-pod-%d-%d", getpid(), n++);
	unlink(path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static const char *pod_uri(const char *opts)
{
	snprintf(uri, sizeof(uri), "fake:%s%s%s", path, *opts ? "?" : "", opts);
	return uri;
}

static void t_create_and_join(void **state)
{
	struct ual_info info;
	ual_dev *a, *b;

	(void)state;
	assert_int_equal(ual_pod_create(pod_uri("accels=3&mem=1M"), 0), 0);
	assert_int_equal(ual_pod_create(pod_uri("accels=3&mem=1M"), 0), UAL_EEXIST);
	assert_msg_contains(ual_last_error(), "exists");
	assert_int_equal(ual_pod_create(pod_uri("accels=2"), UAL_POD_REPLACE), 0);
	assert_int_equal(ual_open(pod_uri("local=1"), &a), 0);
	assert_int_equal(ual_query(a, &info), 0);
	assert_int_equal(info.num_accels, 2);
	assert_int_equal(info.accel_id, 1);
	assert_string_equal(info.backend, "fake");
	/* Options of a join must match; local must exist. */
	assert_int_equal(ual_open(pod_uri("accels=4&local=0"), &b), UAL_EEXIST);
	assert_msg_contains(ual_last_error(), "accels=2 (asked 4)");
	assert_int_equal(ual_open(pod_uri("local=5"), &b), UAL_ENODEV);
	/* The same process may hold several handles of its accelerator. */
	assert_int_equal(ual_open(pod_uri("local=1"), &b), 0);
	ual_close(b);
	ual_close(a);
}

static void t_bad_inputs(void **state)
{
	struct ual_pod_info info;
	ual_dev *d;
	FILE *f;

	(void)state;
	assert_int_equal(ual_pod_create("fake:pod0", 0), UAL_EINVAL);
	assert_int_equal(ual_pod_create(pod_uri("local=1"), 0), UAL_EINVAL);
	assert_msg_contains(ual_last_error(), "local=");
	assert_int_equal(ual_pod_create(pod_uri("accels=1024&mem=64G"), 0), UAL_ENOMEM);
	assert_msg_contains(ual_last_error(), "address space");
	assert_int_equal(ual_pod_create("fake:/nonexistent-dir/pod", 0), UAL_ENOENT);
	assert_int_equal(ual_pod_status(path, &info, NULL, 0, NULL, 0, NULL, 0), UAL_ENOENT);
	assert_int_equal(ual_pod_status("rel/path", &info, NULL, 0, NULL, 0, NULL, 0),
			 UAL_EINVAL);
	assert_int_equal(ual_pod_status(path, NULL, NULL, 0, NULL, 0, NULL, 0), UAL_EINVAL);
	/* A file that is not a pod is refused, and left alone. */
	f = fopen(path, "w");
	fputs("not a pod", f);
	fclose(f);
	assert_int_equal(ual_open(pod_uri(""), &d), UAL_EINVAL);
	assert_msg_contains(ual_last_error(), "is not a ualbridge pod");
	assert_int_equal(ual_pod_status(path, &info, NULL, 0, NULL, 0, NULL, 0), UAL_EINVAL);
}

/* ---- two domains ------------------------------------------------------------ */

static void put(int fd, char c)
{
	assert_int_equal(write(fd, &c, 1), 1);
}

static char get(int fd)
{
	char c = 0;

	return read(fd, &c, 1) == 1 ? c : 0;
}

/* Domain B (accelerator 1): reads A's page through both modes. */
static int read_as_b(ual_dev *b, u64 pfn, u64 off, u8 *out, u32 len, bool virt)
{
	struct ual_faddr src, dst;
	u64 bpfn, iova = 0;
	bool linked = false;
	int ret;

	if (ual_mem_alloc(b, UAL_PAGE_SIZE, 0, &bpfn))
		return -1000;
	dst = (struct ual_faddr){ bpfn << UAL_PAGE_SHIFT, UAL_ROUTE(1), 0 };
	if (virt) {
		ret = ual_iova_alloc(b, UAL_PAGE_SIZE, 0, &iova);
		if (!ret)
			ret = ual_iova_link(b, iova, 0, 0, &pfn, 1, UAL_PROT_READ);
		linked = !ret;
		if (!ret)
			ret = ual_iova_sync(b, iova, 0, UAL_PAGE_SIZE);
		src = (struct ual_faddr){ iova + off, 0, 0 };
	} else {
		ret = ual_map_pfns(b, 0, &pfn, 1, UAL_PROT_READ, &src);
		src.addr += off;
	}
	if (!ret)
		ret = ual_copy(b, 1, &dst, &src, len);
	if (!ret)
		ret = ual_mem_read(b, dst.addr, out, len);
	/* Clean up with calls that succeed: ual_last_error() stays the failure's. */
	if (linked)
		ual_iova_unlink(b, iova, 0, UAL_PAGE_SIZE);
	if (iova)
		ual_iova_free(b, iova);
	ual_mem_free(b, bpfn, UAL_PAGE_SIZE);
	return ret;
}

static int write_as_b(ual_dev *b, u64 pfn)
{
	struct ual_faddr src, dst;
	u64 bpfn;
	int ret;

	if (ual_mem_alloc(b, UAL_PAGE_SIZE, 0, &bpfn))
		return -1000;
	src = (struct ual_faddr){ bpfn << UAL_PAGE_SHIFT, UAL_ROUTE(1), 0 };
	ret = ual_map_pfns(b, 0, &pfn, 1, UAL_PROT_READ, &dst);
	if (!ret)
		ret = ual_copy(b, 1, &dst, &src, 64);
	ual_mem_free(b, bpfn, UAL_PAGE_SIZE);
	return ret;
}

/* Exit codes of B: 0 ok, else the step that failed. */
static int domain_b(int from_a, int to_a, int from_test, int to_test, u64 pfn)
{
	u8 buf[256];
	struct ual_fault f[8];
	u32 n;
	u64 lost;
	ual_dev *b, *x;
	int step = 1;

	if (ual_open(pod_uri("local=1"), &b))
		return step;
	step++;	/* 2: accelerator 0 is A's */
	if (ual_open(pod_uri("local=0"), &x) != UAL_EBUSY || !strstr(ual_last_error(), "owned"))
		return step;
	step++;	/* 3: B can't issue requests as A */
	if (get(from_a) != 'g')
		return step;
	{
		struct ual_faddr fa = { pfn << UAL_PAGE_SHIFT, UAL_ROUTE(0), 0 };
		struct ual_xlate xl;

		if (ual_translate(b, 0, &fa, UAL_ACCESS_READ, &xl) != UAL_EPERM)
			return step;
	}
	for (int virt = 0; virt < 2; virt++) {
		step++;	/* 4, 5: the right bytes, both modes */
		if (read_as_b(b, pfn, 128, buf, 256, virt))
			return step;
		for (int i = 0; i < 256; i++)
			if (buf[i] != (u8)(i + 128))
				return step;
	}
	step++;	/* 6: write refused (read-only grant) */
	if (write_as_b(b, pfn) != UAL_EACCES)
		return step;
	step++;	/* 7: outside the grant refused */
	if (read_as_b(b, pfn + 1, 0, buf, 64, false) != UAL_EACCES)
		return step;
	step++;	/* 8: both refusals recorded in B's ring */
	if (ual_fault_read(b, f, 8, &n, &lost) || n != 2 || f[0].reason != UAL_FAULT_GRANT_PROT ||
	    f[1].reason != UAL_FAULT_NO_GRANT || f[0].target != 0)
		return step;
	put(to_a, 'r');
	step++;	/* 9: after A revokes, refused */
	if (get(from_a) != 'v' || read_as_b(b, pfn, 0, buf, 64, false) != UAL_EACCES)
		return step;
	put(to_test, 'k');
	step++;	/* 10: A was killed: a clear error, at once */
	if (get(from_test) != 'd')
		return step;
	if (read_as_b(b, pfn, 0, buf, 64, true) != UAL_EHOSTDOWN ||
	    !strstr(ual_last_error(), "died; its grants were revoked")) {
		fprintf(stderr, "B: %s\n", ual_last_error());
		return step;
	}
	step++;	/* 11: the dead domain's accelerator can be taken over */
	if (ual_open(pod_uri("local=0"), &x))
		return step;
	ual_close(x);
	ual_close(b);
	return 0;
}

static void t_two_domains(void **state)
{
	int a2b[2], b2a[2], t2b[2], b2t[2], hold[2], status;
	struct ual_pod_info info;
	struct ual_pod_domain doms[4];
	struct ual_pod_accel accels[2];
	struct ual_pod_grant grants[4];
	pid_t a, b;

	(void)state;
	assert_int_equal(ual_pod_create(pod_uri("accels=2&mem=4M"), 0), 0);
	assert_int_equal(pipe(a2b), 0);
	assert_int_equal(pipe(b2a), 0);
	assert_int_equal(pipe(hold), 0);
	assert_int_equal(pipe(t2b), 0);
	assert_int_equal(pipe(b2t), 0);
	a = fork();
	if (a == 0) {
		/* Domain A (accelerator 0): memory, grant, revoke, then wait to die. */
		u8 bytes[UAL_PAGE_SIZE];
		u64 pfn;
		ual_dev *d;

		if (ual_open(pod_uri("local=0"), &d) || ual_mem_alloc(d, 2 * UAL_PAGE_SIZE, 0, &pfn))
			_exit(1);
		for (int i = 0; i < (int)sizeof(bytes); i++)
			bytes[i] = (u8)i;
		if (ual_mem_write(d, pfn << UAL_PAGE_SHIFT, bytes, sizeof(bytes)) ||
		    ual_grant(d, 0, 1, pfn, 1, UAL_PROT_READ))
			_exit(2);
		if (write(hold[1], &pfn, sizeof(pfn)) != sizeof(pfn))
			_exit(3);
		put(a2b[1], 'g');
		if (get(b2a[0]) != 'r' || ual_revoke(d, 0, 1, pfn, 1))
			_exit(4);
		put(a2b[1], 'v');
		pause();	/* killed by the test */
		_exit(5);
	}
	u64 pfn;

	assert_int_equal(read(hold[0], &pfn, sizeof(pfn)), sizeof(pfn));
	/* Status, seen by a third process (this one): A attached, its grant. */
	assert_int_equal(ual_pod_status(path, &info, doms, 4, accels, 2, grants, 4), 0);
	assert_int_equal(info.ndomains, 1);
	assert_int_equal(doms[0].pid, a);
	assert_int_equal(accels[0].state, UAL_POD_ACCEL_OWNED);
	assert_int_equal(accels[0].pid, a);
	assert_int_equal(accels[0].mem_used, 2 * UAL_PAGE_SIZE);
	assert_int_equal(accels[1].state, UAL_POD_ACCEL_FREE);
	assert_int_equal(info.ngrants, 1);
	assert_int_equal(grants[0].target, 0);
	assert_int_equal(grants[0].initiator, 1);
	assert_int_equal(grants[0].pfn, pfn);
	assert_int_equal(grants[0].prot, UAL_PROT_READ);

	b = fork();
	if (b == 0)
		_exit(domain_b(a2b[0], b2a[1], t2b[0], b2t[1], pfn));
	/* B says when to kill A; B hears when A is dead. */
	assert_int_equal(get(b2t[0]), 'k');
	kill(a, SIGKILL);
	assert_int_equal(waitpid(a, &status, 0), a);
	put(t2b[1], 'd');
	assert_int_equal(waitpid(b, &status, 0), b);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* Both gone: the pod lists no domain, A's accelerator went down. */
	assert_int_equal(ual_pod_status(path, &info, doms, 4, accels, 2, grants, 4), 0);
	assert_int_equal(info.ndomains, 0);
	assert_int_equal(info.ngrants, 0);
	assert_int_equal(info.flags, 0);
	assert_true(info.reaped >= 1);
}

/*
 * Fork domain A: it owns accelerator 0 with one page allocated (*pfn), takes
 * its target lock and waits, holding it, to be killed.
 */
static pid_t fork_lock_holder(u64 *pfn)
{
	int ready[2];
	pid_t a;

	assert_int_equal(pipe(ready), 0);
	a = fork();
	if (a == 0) {
		ual_dev *d;

		if (ual_open(pod_uri("local=0"), &d) || ual_mem_alloc(d, UAL_PAGE_SIZE, 0, pfn))
			_exit(1);
		ual_pod_test_hold_target_lock(d);
		if (write(ready[1], pfn, sizeof(*pfn)) != sizeof(*pfn))
			_exit(2);
		pause();
		_exit(3);
	}
	assert_int_equal(read(ready[0], pfn, sizeof(*pfn)), sizeof(*pfn));
	close(ready[0]);
	close(ready[1]);
	return a;
}

/* A domain that dies holding a lock poisons the pod: a clear error, no hang. */
static void t_death_holding_lock(void **state)
{
	struct ual_pod_info info;
	int status;
	ual_dev *b;
	pid_t a;
	u64 pfn;

	(void)state;
	assert_int_equal(ual_pod_create(pod_uri("accels=2&mem=1M"), 0), 0);
	a = fork_lock_holder(&pfn);
	assert_int_equal(ual_open(pod_uri("local=1"), &b), 0);
	kill(a, SIGKILL);
	assert_int_equal(waitpid(a, &status, 0), a);
	assert_int_equal(ual_mem_alloc(b, UAL_PAGE_SIZE, 0, &pfn), UAL_EOWNERDEAD);
	assert_msg_contains(ual_last_error(), "target lock of accelerator 0");
	assert_int_equal(ual_mem_alloc(b, UAL_PAGE_SIZE, 0, &pfn), UAL_EOWNERDEAD);
	ual_close(b);
	assert_int_equal(ual_pod_status(path, &info, NULL, 0, NULL, 0, NULL, 0), 0);
	assert_int_equal(info.flags, UAL_POD_POISONED);
	assert_msg_contains(info.poison, "died holding the target lock of accelerator 0");
	/* Replacing the file gives a fresh pod. */
	assert_int_equal(ual_pod_create(pod_uri("accels=2&mem=1M"), UAL_POD_REPLACE), 0);
	assert_int_equal(ual_open(pod_uri("local=1"), &b), 0);
	assert_int_equal(ual_mem_alloc(b, UAL_PAGE_SIZE, 0, &pfn), 0);
	ual_close(b);
}

/* A domain dies holding a lock another one waits for: the waiter wakes with a
 * clear error (and never runs on what the dead one left). */
static void t_death_while_waiting(void **state)
{
	struct ual_faddr fa;
	int status;
	ual_dev *b;
	pid_t a, killer;
	u64 pfn;

	(void)state;
	assert_int_equal(ual_pod_create(pod_uri("accels=2&mem=1M"), 0), 0);
	a = fork_lock_holder(&pfn);
	assert_int_equal(ual_open(pod_uri("local=1"), &b), 0);
	killer = fork();
	if (killer == 0) {
		usleep(300 * 1000);
		kill(a, SIGKILL);
		_exit(0);
	}
	alarm(20);	/* a hang fails the test instead of stalling it */
	/* Blocks on accelerator 0's target lock until A dies. */
	assert_int_equal(ual_map_pfns(b, 0, &pfn, 1, UAL_PROT_READ, &fa), UAL_EOWNERDEAD);
	alarm(0);
	assert_msg_contains(ual_last_error(), "poisoned");
	assert_int_equal(waitpid(killer, &status, 0), killer);
	assert_int_equal(waitpid(a, &status, 0), a);
	/* The lock was released on the way out: the next call fails at once. */
	assert_int_equal(ual_map_pfns(b, 0, &pfn, 1, UAL_PROT_READ, &fa), UAL_EOWNERDEAD);
	ual_close(b);
}

/* Closing every handle frees the pod's heap again: no leak in the file. */
static void t_no_leak(void **state)
{
	struct ual_pod_info before, after;
	u64 pfn, iova, pfns[8];
	ual_dev *d, *p;

	(void)state;
	assert_int_equal(ual_pod_create(pod_uri("accels=2&mem=8M"), 0), 0);
	/* Round 0 warms the core's caches (node slabs, grant array, table pool),
	 * which stay with the fabric by design; later rounds must not grow it. */
	for (int round = 0; round < 4; round++) {
		if (round == 1)
			assert_int_equal(ual_pod_status(path, &before, NULL, 0, NULL, 0, NULL, 0), 0);
		assert_int_equal(ual_open(pod_uri("local=0"), &d), 0);
		assert_int_equal(ual_open_peer(d, 1, &p), 0);
		assert_int_equal(ual_mem_alloc(p, 8 * UAL_PAGE_SIZE, 0, &pfn), 0);
		for (int i = 0; i < 8; i++)
			pfns[i] = pfn + i;
		assert_int_equal(ual_grant(p, 1, 0, pfn, 8, UAL_PROT_RW), 0);
		assert_int_equal(ual_iova_alloc(d, 8 * UAL_PAGE_SIZE, UAL_IOVA_PREALLOC, &iova), 0);
		assert_int_equal(ual_iova_link(d, iova, 0, 1, pfns, 8, UAL_PROT_RW), 0);
		ual_close(p);
		ual_close(d);
	}
	assert_int_equal(ual_pod_status(path, &after, NULL, 0, NULL, 0, NULL, 0), 0);
	assert_int_equal(after.heap_used, before.heap_used);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(t_create_and_join, setup, teardown),
		cmocka_unit_test_setup_teardown(t_bad_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(t_two_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(t_death_holding_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(t_death_while_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(t_no_leak, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
