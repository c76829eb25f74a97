// SPDX-License-Identifier: Apache-2.0
/* URI parsing: every option, every error, through ual_uri_parse() and
 * through ual_open(). */
#include "test_util.h"
#include "shim/backend.h"

static int parse(const char *s, struct ual_uri *u, char *msg)
{
	struct ual_err err = { .op = "open" };
	int ret = ual_uri_parse(s, u, &err);

	strcpy(msg, err.msg);
	return ret;
}

static void test_defaults(void **state)
{
	struct ual_uri u;
	char msg[UAL_ERR_MSG_MAX];

	(void)state;
	assert_int_equal(parse("fake:", &u, msg), 0);
	assert_string_equal(u.scheme, "fake");
	assert_string_equal(u.name, "");
	assert_int_equal(u.set, 0);
	assert_int_equal(u.val[UAL_OPT_ACCELS], 4);
	assert_int_equal(u.val[UAL_OPT_MEM], MiB(64));
	assert_int_equal(u.val[UAL_OPT_MODE], UAL_MODE_PHYSICAL | UAL_MODE_VIRTUAL);
	assert_int_equal(u.val[UAL_OPT_PT_POOL], 4096);
	assert_int_equal(u.val[UAL_OPT_DMA_BITS], 48);
	assert_int_equal(u.val[UAL_OPT_TLB], 512);
	assert_int_equal(u.val[UAL_OPT_FAULTS], 256);
	assert_int_equal(u.val[UAL_OPT_LOCAL], 0);
}

static void test_every_option(void **state)
{
	struct ual_uri u;
	char msg[UAL_ERR_MSG_MAX];

	(void)state;
	assert_int_equal(parse("fake:my-fab.1_x?accels=1024&mem=64G&mode=virtual&pt_pool=16K"
			       "&dma_bits=57&tlb=0x400&faults=1&local=1023", &u, msg), 0);
	assert_string_equal(u.name, "my-fab.1_x");
	assert_int_equal(u.set, (1u << UAL_OPT_COUNT) - 1);
	assert_int_equal(u.val[UAL_OPT_ACCELS], 1024);
	assert_int_equal(u.val[UAL_OPT_MEM], GiB(64));
	assert_int_equal(u.val[UAL_OPT_MODE], UAL_MODE_VIRTUAL);
	assert_int_equal(u.val[UAL_OPT_PT_POOL], 16384);
	assert_int_equal(u.val[UAL_OPT_DMA_BITS], 57);
	assert_int_equal(u.val[UAL_OPT_TLB], 1024);
	assert_int_equal(u.val[UAL_OPT_FAULTS], 1);
	assert_int_equal(u.val[UAL_OPT_LOCAL], 1023);
	assert_int_equal(parse("fake:?mode=physical&mem=4k&dma_bits=21", &u, msg), 0);
	assert_int_equal(u.val[UAL_OPT_MODE], UAL_MODE_PHYSICAL);
	assert_int_equal(u.val[UAL_OPT_MEM], 4096);
	assert_int_equal(parse("fake:?mode=both&mem=2m", &u, msg), 0);
	assert_int_equal(u.val[UAL_OPT_MEM], MiB(2));
}

static void test_errors(void **state)
{
	static const struct {
		const char *uri, *msg;
	} bad[] = {
		{ "fake", "has no scheme" },
		{ ":x", "has no scheme" },
		{ "FAKE:", "bad scheme" },
		{ "fake:a/b", "bad character '/' in fabric name" },
		{ "fake:?", "empty option" },
		{ "fake:?tlb=4&", "empty option" },
		{ "fake:?tlb=4&&mem=1M", "empty option" },
		{ "fake:?tlb", "option 'tlb' has no '='" },
		{ "fake:?bogus=1", "unknown option 'bogus'" },
		{ "fake:?tlb=4&tlb=4", "duplicate option 'tlb'" },
		{ "fake:?tlb=", "option 'tlb' has no value" },
		{ "fake:?accels=0", "option 'accels': 0 outside [1, 1024]" },
		{ "fake:?accels=1025", "option 'accels': 1025 outside [1, 1024]" },
		{ "fake:?accels=-1", "option 'accels': bad number '-1'" },
		{ "fake:?accels=1x", "option 'accels': bad number '1x'" },
		{ "fake:?accels=K", "option 'accels': bad number 'K'" },
		{ "fake:?accels=0x", "option 'accels': bad number '0x'" },
		{ "fake:?accels=99999999999999999999", "bad number" },
		{ "fake:?mem=18446744073709551615K", "bad number" },
		{ "fake:?mem=65G", "option 'mem': 69793218560 outside" },
		{ "fake:?mem=0", "option 'mem': 0 outside" },
		{ "fake:?mem=5000", "option 'mem': 5000 is not a multiple of 4 KiB" },
		{ "fake:?mode=fast", "option 'mode': 'fast' is not physical, virtual or both" },
		{ "fake:?pt_pool=0", "option 'pt_pool': 0 outside" },
		{ "fake:?dma_bits=20", "option 'dma_bits': 20 outside [21, 57]" },
		{ "fake:?dma_bits=58", "option 'dma_bits': 58 outside [21, 57]" },
		{ "fake:?tlb=3", "option 'tlb': 3 is not a power of two" },
		{ "fake:?tlb=0", "option 'tlb': 0 outside" },
		{ "fake:?faults=6", "option 'faults': 6 is not a power of two" },
		{ "fake:?local=1024", "option 'local': 1024 outside [0, 1023]" },
	};
	struct ual_uri u;
	char msg[UAL_ERR_MSG_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < UAL_ARRAY_SIZE(bad); i++) {
		if (parse(bad[i].uri, &u, msg) != UAL_EINVAL)
			fail_msg("'%s' was accepted", bad[i].uri);
		assert_msg_contains(msg, bad[i].msg);
		assert_msg_contains(msg, "open: ");
	}
}

static void test_open_dispatch(void **state)
{
	ual_dev *d = (ual_dev *)0x1;

	(void)state;
	assert_int_equal(ual_open("fake:?tlb=3", &d), UAL_EINVAL);
	assert_string_equal(ual_last_error(), "open: option 'tlb': 3 is not a power of two");
	assert_ptr_equal(d, (ual_dev *)0x1);	/* untouched */
	assert_int_equal(ual_open("kmod:/nonexistent/ualmock", &d), UAL_ENODEV);
	assert_msg_contains(ual_last_error(), "cannot open /nonexistent/ualmock");
	assert_int_equal(ual_open("kmod:dev/ualmock", &d), UAL_EINVAL);
	assert_msg_contains(ual_last_error(), "device path 'dev/ualmock' is not absolute");
	assert_int_equal(ual_open("vfio:x", &d), UAL_EINVAL);
	assert_msg_contains(ual_last_error(), "'x' is not a PCI address");
	assert_int_equal(ual_open("nope:", &d), UAL_ENODEV);
	assert_string_equal(ual_last_error(), "open: unknown backend 'nope'");
	assert_int_equal(ual_open("fake:?accels=2&local=2", &d), UAL_ENODEV);
	assert_msg_contains(ual_last_error(), "local=2 but the fabric has 2 accelerators");
	assert_int_equal(ual_open(NULL, &d), UAL_EINVAL);
	assert_int_equal(ual_open("fake:", NULL), UAL_EINVAL);
	assert_string_equal(ual_last_error(), "open: out is NULL");
	assert_int_equal(ual_open("fake:?accels=1024&mem=64G", &d), 0);
	ual_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_open_dispatch),
	};

	return cmocka_run_group_tests_name("uri", tests, NULL, NULL);
}
