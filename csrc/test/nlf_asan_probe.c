// SPDX-License-Identifier: MIT
/*
 * Test-only: compiled into the AddressSanitizer build of the extension and
 * nowhere else (csrc/build_ffi.py, NLFAST_ASAN=1), so tests/test_asan.py can
 * prove that the harness sees a one-byte overread.
 */
#include <stddef.h>

int nlf_test_peek(const unsigned char *buf, size_t idx);

/* Reads buf[idx], in bounds or not: that is the point. */
int nlf_test_peek(const unsigned char *buf, size_t idx)
{
	return buf[idx];
}
