// SPDX-License-Identifier: Apache-2.0
/*
 * uri.c - strict parser of "scheme:[name][?k=v&k=v]".
 *
 * Unknown, duplicate, empty, malformed or out-of-range options are
 * UAL_EINVAL with a message naming the option; nothing is guessed.
 */
#include <string.h>

#include "backend.h"

#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)

const char *const ual_opt_names[UAL_OPT_COUNT] = {
	[UAL_OPT_ACCELS] = "accels",
	[UAL_OPT_MEM] = "mem",
	[UAL_OPT_MODE] = "mode",
	[UAL_OPT_PT_POOL] = "pt_pool",
	[UAL_OPT_DMA_BITS] = "dma_bits",
	[UAL_OPT_TLB] = "tlb",
	[UAL_OPT_FAULTS] = "faults",
	[UAL_OPT_LOCAL] = "local",
};

static const u64 opt_default[UAL_OPT_COUNT] = {
	[UAL_OPT_ACCELS] = 4,
	[UAL_OPT_MEM] = 64 * MiB,
	[UAL_OPT_MODE] = UAL_MODE_PHYSICAL | UAL_MODE_VIRTUAL,
	[UAL_OPT_PT_POOL] = 4096,
	[UAL_OPT_DMA_BITS] = 48,
	[UAL_OPT_TLB] = 512,
	[UAL_OPT_FAULTS] = 256,
	[UAL_OPT_LOCAL] = 0,
};

/* Accepted ranges; pow2 options must also be powers of two. */
static const struct {
	u64 min, max;
	bool pow2;
	bool page_multiple;
} opt_range[UAL_OPT_COUNT] = {
	[UAL_OPT_ACCELS] = { 1, UAL_MAX_ACCELS, false, false },
	[UAL_OPT_MEM] = { 4 * KiB, 64 * GiB, false, true },
	[UAL_OPT_PT_POOL] = { 1, 1u << 24, false, false },
	[UAL_OPT_DMA_BITS] = { 21, UAL_PHYS_BITS, false, false },
	[UAL_OPT_TLB] = { 1, 1u << 20, true, false },
	[UAL_OPT_FAULTS] = { 1, 1u << 20, true, false },
	[UAL_OPT_LOCAL] = { 0, UAL_MAX_ACCELS - 1, false, false },
};

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* Parse [s, e) as a number: decimal or 0x hex, optional K/M/G suffix. */
static int parse_number(const char *s, const char *e, u64 *out)
{
	u64 v = 0, mul = 1, base = 10;
	bool any = false;

	if (e > s && (e[-1] == 'K' || e[-1] == 'k'))
		mul = KiB, e--;
	else if (e > s && (e[-1] == 'M' || e[-1] == 'm'))
		mul = MiB, e--;
	else if (e > s && (e[-1] == 'G' || e[-1] == 'g'))
		mul = GiB, e--;
	if (e - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	for (; s < e; s++) {
		u64 d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -1;
		if (v > (~0ull - d) / base)
			return -1;
		v = v * base + d;
		any = true;
	}
	if (!any || v > ~0ull / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int parse_option(const char *k, const char *ke, const char *v, const char *ve,
			struct ual_uri *uri, struct ual_err *err)
{
	int klen = (int)(ke - k), vlen = (int)(ve - v);
	u64 val;
	int i;

	for (i = 0; i < UAL_OPT_COUNT; i++)
		if (strlen(ual_opt_names[i]) == (size_t)klen &&
		    !memcmp(ual_opt_names[i], k, klen))
			break;
	if (i == UAL_OPT_COUNT)
		return ual_err_set(err, UAL_EINVAL, "unknown option '%.*s'", klen, k);
	if (uri->set & (1u << i))
		return ual_err_set(err, UAL_EINVAL, "duplicate option '%s'", ual_opt_names[i]);
	if (!vlen)
		return ual_err_set(err, UAL_EINVAL, "option '%s' has no value", ual_opt_names[i]);
	if (i == UAL_OPT_MODE) {
		if (vlen == 8 && !memcmp(v, "physical", 8))
			val = UAL_MODE_PHYSICAL;
		else if (vlen == 7 && !memcmp(v, "virtual", 7))
			val = UAL_MODE_VIRTUAL;
		else if (vlen == 4 && !memcmp(v, "both", 4))
			val = UAL_MODE_PHYSICAL | UAL_MODE_VIRTUAL;
		else
			return ual_err_set(err, UAL_EINVAL,
					   "option 'mode': '%.*s' is not physical, virtual or both",
					   vlen, v);
	} else {
		if (parse_number(v, ve, &val))
			return ual_err_set(err, UAL_EINVAL, "option '%s': bad number '%.*s'",
					   ual_opt_names[i], vlen, v);
		if (val < opt_range[i].min || val > opt_range[i].max)
			return ual_err_set(err, UAL_EINVAL,
					   "option '%s': %llu outside [%llu, %llu]",
					   ual_opt_names[i], (unsigned long long)val,
					   (unsigned long long)opt_range[i].min,
					   (unsigned long long)opt_range[i].max);
		if (opt_range[i].pow2 && !ual_is_pow2(val))
			return ual_err_set(err, UAL_EINVAL,
					   "option '%s': %llu is not a power of two",
					   ual_opt_names[i], (unsigned long long)val);
		if (opt_range[i].page_multiple && (val & (UAL_PAGE_SIZE - 1)))
			return ual_err_set(err, UAL_EINVAL,
					   "option '%s': %llu is not a multiple of 4 KiB",
					   ual_opt_names[i], (unsigned long long)val);
	}
	uri->set |= 1u << i;
	uri->val[i] = val;
	return 0;
}

int ual_uri_parse(const char *s, struct ual_uri *uri, struct ual_err *err)
{
	const char *colon = strchr(s, ':'), *p, *q;
	bool is_path, is_pod, is_bdf;
	const char *what;
	size_t n;
	int ret;

	memset(uri, 0, sizeof(*uri));
	memcpy(uri->val, opt_default, sizeof(uri->val));
	if (!colon || colon == s)
		return ual_err_set(err, UAL_EINVAL, "URI '%s' has no scheme", s);
	n = colon - s;
	if (n >= sizeof(uri->scheme))
		return ual_err_set(err, UAL_EINVAL, "scheme of '%s' is too long", s);
	for (p = s; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
			return ual_err_set(err, UAL_EINVAL, "bad scheme in '%s'", s);
	memcpy(uri->scheme, s, n);

	p = colon + 1;
	q = strchr(p, '?');
	n = q ? (size_t)(q - p) : strlen(p);
	/* kmod: names a device path, not a fabric; fake:/PATH names a shared
	 * pod's file. */
	is_pod = !strcmp(uri->scheme, "fake") && *p == '/';
	is_path = !strcmp(uri->scheme, "kmod") || is_pod;
	/* vfio: names a PCI address (0000:00:03.0); the backend checks its form. */
	is_bdf = !strcmp(uri->scheme, "vfio");
	what = is_pod ? "pod path" : is_path ? "device path" : is_bdf ? "PCI address" : "fabric name";
	if (n >= sizeof(uri->name))
		return ual_err_set(err, UAL_EINVAL, "%s longer than %d characters",
				   is_path ? what : "fabric name", UAL_NAME_MAX - 1);
	for (size_t i = 0; i < n; i++)
		if (!is_name_char(p[i]) && !(is_path && p[i] == '/') && !(is_bdf && p[i] == ':'))
			return ual_err_set(err, UAL_EINVAL, "bad character '%c' in %s", p[i], what);
	if (is_path && n && p[0] != '/')
		return ual_err_set(err, UAL_EINVAL, "device path '%.*s' is not absolute",
				   (int)n, p);
	if (is_path && !n)
		strcpy(uri->name, UAL_KMOD_DEFAULT_PATH);
	else
		memcpy(uri->name, p, n);
	if (!q)
		return 0;

	for (p = q + 1;;) {
		const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
		const char *eq = memchr(p, '=', end - p);

		if (end == p)
			return ual_err_set(err, UAL_EINVAL, "empty option in '%s'", s);
		if (!eq)
			return ual_err_set(err, UAL_EINVAL, "option '%.*s' has no '='",
					   (int)(end - p), p);
		ret = parse_option(p, eq, eq + 1, end, uri, err);
		if (ret)
			return ret;
		if (!amp)
			return 0;
		p = amp + 1;
	}
}
