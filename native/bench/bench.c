// SPDX-License-Identifier: Apache-2.0
/*
 * bench.c - C baseline for the ualbridge benchmarks (scripts/bench).
 *
 * Calls libual.so exactly as the Java side does (through the dynamic
 * library, never the core objects), so the Java/C ratios measure the cost of
 * crossing from Java and nothing else. Every operation mirrors one JMH
 * benchmark of java/bench (same URI, same PFN pattern, same sizes).
 *
 * Output: one JSON document on stdout (ns per operation, median of several
 * timed runs), plus the page-table memory figures read from ual_query()'s
 * pool counters, each with the 1-minute load average it ran under.
 * Usage: bench [--quick] [--only NAME[,NAME...]] [--single-thread]
 *              [--pod PATH [--other-domain]]
 * --pod runs the table on a shared pod (created at PATH, removed after);
 * --other-domain attaches a second process to it, so every call also
 * checks that domain's liveness, as in a real multi-domain pod.
 * (scripts/bench runs it op by op around the matching JMH forks, so that C
 * and Java figures of one operation are taken under the same load).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ual.h"

#define PAGE 4096ull
/* Must match java/bench (io.ualbridge.bench.Params). */
#define URI "fake:?accels=2&mem=256M&pt_pool=8192"
#define POD_OPTS "?accels=2&mem=256M&pt_pool=8192"
#define LINK_PAGES 4096		/* size of the link range, in pages */

static int reps = 7;
static double run_ms = 60;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench: %s failed: %s (%d): %s\n", what, ual_strerror(rc), rc,
		ual_last_error());
	exit(1);
}

#define CHECK(call) do { int rc_ = (call); if (rc_) die(#call, rc_); } while (0)

/* An operation under test: runs @iters times. */
typedef void (*op_fn)(void *ctx, uint64_t iters);

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median ns per call of @fn over @reps runs of about run_ms each. */
static double measure(op_fn fn, void *ctx)
{
	uint64_t iters = 1;
	double t, samples[32];
	int i;

	/* Calibrate (and warm up) until one run takes >= 10 ms. */
	for (;;) {
		t = now_ns();
		fn(ctx, iters);
		t = now_ns() - t;
		if (t >= 10e6)
			break;
		iters *= t < 1e6 ? 10 : 2;
	}
	iters = (uint64_t)(iters * (run_ms * 1e6 / t)) + 1;
	for (i = 0; i < reps; i++) {
		t = now_ns();
		fn(ctx, iters);
		samples[i] = (now_ns() - t) / iters;
	}
	qsort(samples, reps, sizeof(double), cmp_double);
	return samples[reps / 2];
}

static int first = 1;
static const char *only;	/* --only NAME[,NAME...]: run these operations */

/* Is @op in the --only list (exact names, comma separated)? */
static int want(const char *op)
{
	size_t n = strlen(op);
	const char *p = only;

	if (!only)
		return 1;
	while ((p = strstr(p, op))) {
		if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

/* The 1-minute load average: every figure is recorded with the load it ran under. */
static double load1(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

static void emit(const char *op, uint64_t pages, double ns)
{
	if (ns < 0)
		return;
	printf("%s\n    {\"op\": \"%s\", \"pages\": %" PRIu64 ", \"ns_per_op\": %.3f, \"load1\": %.2f}",
	       first ? "" : ",", op, pages, ns, load1());
	first = 0;
	fflush(stdout);
	fprintf(stderr, "  %-28s %12.1f ns/op\n", op, ns);
}

/* ---- operations ---------------------------------------------------------- */

struct ctx {
	ual_dev *dev;
	uint64_t iova;		/* a PREALLOC range of LINK_PAGES pages */
	uint64_t n;		/* pages per link */
	const uint64_t *pfns;
	struct ual_faddr *addrs;
	struct ual_faddr fa;
	uint64_t *iovas;	/* translate-miss cycle */
	uint64_t cycle;
};

static volatile uint32_t sink;

static void op_trivial(void *c, uint64_t iters)
{
	uint32_t s = 0;

	(void)c;
	while (iters--)
		s += ual_abi_version();
	sink = s;
}

static void op_link_unlink(void *p, uint64_t iters)
{
	struct ctx *c = p;

	while (iters--) {
		CHECK(ual_iova_link(c->dev, c->iova, 0, 0, c->pfns, c->n, UAL_PROT_RW));
		CHECK(ual_iova_unlink(c->dev, c->iova, 0, c->n * PAGE));
	}
}

static void op_map(void *p, uint64_t iters)
{
	struct ctx *c = p;

	while (iters--)
		CHECK(ual_map_pfns(c->dev, 0, c->pfns, c->n, UAL_PROT_RW, c->addrs));
}

static void op_translate_hit(void *p, uint64_t iters)
{
	struct ctx *c = p;
	struct ual_xlate x;
	uint64_t s = 0;

	while (iters--) {
		CHECK(ual_translate(c->dev, 0, &c->fa, UAL_ACCESS_READ, &x));
		s += x.phys;
	}
	sink = (uint32_t)s;
}

static void op_translate_miss(void *p, uint64_t iters)
{
	struct ctx *c = p;
	struct ual_faddr fa = { 0 };
	struct ual_xlate x;
	uint64_t s = 0, i = 0;

	while (iters--) {
		fa.addr = c->iovas[i];
		if (++i == c->cycle)
			i = 0;
		CHECK(ual_translate(c->dev, 0, &fa, UAL_ACCESS_READ, &x));
		s += x.phys;
	}
	sink = (uint32_t)s;
}

static void op_alloc_free(void *p, uint64_t iters)
{
	struct ctx *c = p;
	uint64_t iova;

	while (iters--) {
		CHECK(ual_iova_alloc(c->dev, PAGE, 0, &iova));
		CHECK(ual_iova_free(c->dev, iova));
	}
}

/* Scattered PFNs of a block: 2*i, never contiguous, so every page is a 4 KiB
 * leaf (the worst case). Same pattern as the Java side. */
static uint64_t *scattered(uint64_t base, uint64_t n)
{
	uint64_t *p = malloc(n * sizeof(*p)), i;

	for (i = 0; i < n; i++)
		p[i] = base + 2 * i;
	return p;
}

static uint64_t pool_used(ual_dev *dev)
{
	struct ual_info info;

	CHECK(ual_query(dev, &info));
	return info.pt_pool_pages - info.pt_pool_free;
}

/* ---- page-table memory --------------------------------------------------- */

/* First 1 GiB-aligned IOVA of a range (ual_iova_alloc() aligns to 2 MiB). */
static uint64_t gib_aligned(uint64_t iova)
{
	return (iova + (1ull << 30) - 1) & ~((1ull << 30) - 1);
}

static void pt_memory(void)
{
	ual_dev *dev;
	uint64_t pfn, iova, off, before, used, i, pages, *p, first_gib = 0;
	const uint64_t gib = 1ull << 30, chunk = 512, runs_gib = 512;

	/* Dense 4 KiB mapping of 1 GiB (1 GiB aligned): every leaf is a 4 KiB
	 * entry (PFNs swapped in pairs, so no 64 KiB or 2 MiB run exists). */
	CHECK(ual_open("fake:?accels=1&mem=1G&pt_pool=4096", &dev));
	CHECK(ual_mem_alloc(dev, gib, 0, &pfn));
	CHECK(ual_iova_alloc(dev, 2 * gib, 0, &iova));
	off = gib_aligned(iova) - iova;
	pages = gib / PAGE;
	p = malloc(chunk * sizeof(*p));
	before = pool_used(dev);
	for (i = 0; i < pages; i += chunk) {
		uint64_t j;

		for (j = 0; j < chunk; j++)
			p[j] = pfn + ((i + j) ^ 1);
		CHECK(ual_iova_link(dev, iova, off + i * PAGE, 0, p, chunk, UAL_PROT_RW));
	}
	used = pool_used(dev) - before;
	printf(",\n  \"pt_dense_4k\": {\"mapped_bytes\": %" PRIu64 ", \"table_pages\": %" PRIu64
	       ", \"leaf_level_tables\": %" PRIu64 ", \"bytes_per_page\": %.4f}",
	       gib, used, pages / 512, (double)used * PAGE / pages);
	fprintf(stderr, "  dense 4K, 1 GiB: %" PRIu64 " table pages = %.4f B per 4 KiB page\n",
		used, (double)used * PAGE / pages);
	ual_close(dev);

	/* 2 MiB-aligned runs over 512 GiB of IOVA (1 GiB aligned): one 1 GiB
	 * block mapped 512 times; each 2 MiB piece becomes a level-2 leaf. */
	CHECK(ual_open("fake:?accels=1&mem=1G&pt_pool=4096", &dev));
	CHECK(ual_mem_alloc(dev, gib, 2ull << 20, &pfn));
	CHECK(ual_iova_alloc(dev, (runs_gib + 1) * gib, 0, &iova));
	off = gib_aligned(iova) - iova;
	before = pool_used(dev);
	for (i = 0; i < runs_gib * gib / PAGE; i += chunk) {
		uint64_t j;

		if (i == gib / PAGE)	/* the first GiB: its table plus the upper levels */
			first_gib = pool_used(dev) - before;
		for (j = 0; j < chunk; j++)
			p[j] = pfn + (i % (gib / PAGE)) + j;
		CHECK(ual_iova_link(dev, iova, off + i * PAGE, 0, p, chunk, UAL_PROT_RW));
	}
	used = pool_used(dev) - before;
	/* Total per GiB carries the fixed upper-level tables; the marginal
	 * figure (each further GiB) is what a larger mapping converges to. */
	printf(",\n  \"pt_2m_runs\": {\"mapped_bytes\": %" PRIu64 ", \"table_pages\": %" PRIu64
	       ", \"leaf_level_tables\": %" PRIu64 ", \"table_pages_first_gib\": %" PRIu64
	       ", \"table_pages_per_gib\": %.4f, \"marginal_table_pages_per_gib\": %.4f}",
	       runs_gib * gib, used, runs_gib, first_gib, (double)used / runs_gib,
	       (double)(used - first_gib) / (runs_gib - 1));
	fprintf(stderr, "  2M runs, %" PRIu64 " GiB: %" PRIu64 " table pages = %.4f per GiB, "
		"%.4f per further GiB\n", runs_gib, used, (double)used / runs_gib,
		(double)(used - first_gib) / (runs_gib - 1));
	ual_close(dev);
	free(p);
}

/* ---- main ------------------------------------------------------------------ */

/*
 * glibc (2.34+) takes a mutex without an atomic operation while a process
 * has a single thread, which a JVM never has, nor does any real user of a
 * driver library. An idle second thread, created before the first call,
 * makes the C baseline pay what every caller pays (about 10 ns per locked
 * call here); --single-thread skips it to show the difference.
 */
static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void become_multithreaded(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, idle_thread, NULL)) {
		fprintf(stderr, "bench: pthread_create failed\n");
		exit(1);
	}
	pthread_detach(t);
}

static void alloc_free(uint64_t live, const char *name)
{
	struct ctx c = { 0 };
	uint64_t i, iova;

	CHECK(ual_open("fake:?accels=1", &c.dev));
	for (i = 0; i < live; i++)
		CHECK(ual_iova_alloc(c.dev, PAGE, 0, &iova));
	emit(name, 0, want(name) ? measure(op_alloc_free, &c) : -1);
	ual_close(c.dev);
}

int main(int argc, char **argv)
{
	static const uint64_t batches[] = { 1, 16, 512, 4096 };
	struct ctx c = { 0 };
	struct ual_info info;
	uint64_t pfn, cpfn, i, *pfns, *contig, h0, m0;
	char name[64], uri[320] = URI;
	const char *pod = NULL;
	int single = 0, other = 0, hold[2];
	pid_t peer = 0;

	for (i = 1; i < (uint64_t)argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			reps = 3;
			run_ms = 20;
		} else if (!strcmp(argv[i], "--only") && i + 1 < (uint64_t)argc) {
			only = argv[++i];
		} else if (!strcmp(argv[i], "--single-thread")) {
			single = 1;
		} else if (!strcmp(argv[i], "--pod") && i + 1 < (uint64_t)argc) {
			pod = argv[++i];
		} else if (!strcmp(argv[i], "--other-domain")) {
			other = 1;
		} else {
			fprintf(stderr, "usage: bench [--quick] [--only NAME[,NAME...]] [--single-thread] "
				"[--pod PATH [--other-domain]]\n"
				"  NAME: an operation of the table, or pt_memory\n");
			return 2;
		}
	}
	if (pod) {
		snprintf(uri, sizeof(uri), "fake:%s%s", pod, POD_OPTS);
		CHECK(ual_pod_create(uri, UAL_POD_REPLACE));
		snprintf(uri, sizeof(uri), "fake:%s", pod);
	}
	if (pod && other) {
		/* Another OS domain: owns accelerator 1 until stdin of the pipe closes. */
		CHECK(pipe(hold) ? -1 : 0);
		peer = fork();
		if (peer == 0) {
			char o[340], c;
			ual_dev *d;

			snprintf(o, sizeof(o), "%s?local=1", uri);
			close(hold[1]);
			if (ual_open(o, &d))
				_exit(1);
			while (read(hold[0], &c, 1) > 0)
				;
			_exit(0);
		}
		close(hold[0]);
		usleep(200 * 1000);
	}
	if (!single)
		become_multithreaded();
	CHECK(ual_open(uri, &c.dev));
	/* 2 * LINK_PAGES pages for the scattered PFNs, 2 MiB aligned. */
	CHECK(ual_mem_alloc(c.dev, 2 * LINK_PAGES * PAGE, 2ull << 20, &pfn));
	CHECK(ual_mem_alloc(c.dev, 2ull << 20, 2ull << 20, &cpfn));
	CHECK(ual_iova_alloc(c.dev, LINK_PAGES * PAGE, UAL_IOVA_PREALLOC, &c.iova));
	pfns = scattered(pfn, LINK_PAGES);
	contig = malloc(512 * sizeof(*contig));
	for (i = 0; i < 512; i++)
		contig[i] = cpfn + i;
	c.addrs = calloc(LINK_PAGES, sizeof(*c.addrs));

	printf("{\n  \"tool\": \"native/bench\",\n  \"results\": [");
	fprintf(stderr, "C baseline (libual.so):\n");
	emit("trivial_call", 0, want("trivial_call") ? measure(op_trivial, NULL) : -1);

	c.pfns = pfns;
	for (i = 0; i < (sizeof(batches) / sizeof(batches[0])); i++) {
		c.n = batches[i];
		snprintf(name, sizeof(name), "link_unlink_%" PRIu64, c.n);
		emit(name, c.n, want(name) ? measure(op_link_unlink, &c) : -1);
	}
	c.pfns = contig;
	c.n = 512;
	emit("link_unlink_512_2m", 512, want("link_unlink_512_2m") ? measure(op_link_unlink, &c) : -1);

	c.pfns = pfns;
	for (i = 0; i < (sizeof(batches) / sizeof(batches[0])); i++) {
		c.n = batches[i];
		snprintf(name, sizeof(name), "map_pfns_%" PRIu64, c.n);
		emit(name, c.n, want(name) ? measure(op_map, &c) : -1);
	}

	/* Translate: link the whole range, then hit one page / cycle through
	 * all 4096 (8x the 512-entry TLB, so every lookup misses). */
	CHECK(ual_iova_link(c.dev, c.iova, 0, 0, pfns, LINK_PAGES, UAL_PROT_RW));
	c.fa.addr = c.iova + 5 * PAGE + 64;
	c.iovas = malloc(LINK_PAGES * sizeof(*c.iovas));
	for (i = 0; i < LINK_PAGES; i++)	/* stride 7 pages: spread over sets */
		c.iovas[i] = c.iova + ((i * 7) % LINK_PAGES) * PAGE;
	c.cycle = LINK_PAGES;
	emit("translate_hit", 0, want("translate_hit") ? measure(op_translate_hit, &c) : -1);
	CHECK(ual_query(c.dev, &info));
	h0 = info.tlb_hits;
	m0 = info.tlb_misses;
	emit("translate_miss", 0, want("translate_miss") ? measure(op_translate_miss, &c) : -1);
	CHECK(ual_query(c.dev, &info));
	fprintf(stderr, "  (translate_miss: %" PRIu64 " hits, %" PRIu64 " misses)\n",
		info.tlb_hits - h0, info.tlb_misses - m0);
	if ((info.tlb_hits - h0) * 100 > info.tlb_misses - m0) {
		fprintf(stderr, "bench: translate_miss hit the TLB too often\n");
		return 1;
	}
	CHECK(ual_iova_unlink(c.dev, c.iova, 0, LINK_PAGES * PAGE));
	ual_close(c.dev);
	if (peer) {
		close(hold[1]);
		waitpid(peer, NULL, 0);
	}
	if (pod)
		unlink(pod);

	if (want("iova_alloc_free_1k"))
		alloc_free(1000, "iova_alloc_free_1k");
	if (want("iova_alloc_free_1m"))
		alloc_free(1000000, "iova_alloc_free_1m");
	printf("\n  ]");
	if (want("pt_memory"))
		pt_memory();
	printf("\n}\n");
	free(pfns);
	free(contig);
	free(c.addrs);
	free(c.iovas);
	return 0;
}
