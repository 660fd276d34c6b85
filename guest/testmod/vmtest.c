// SPDX-License-Identifier: GPL-2.0
/*
 * vmtest: a tiny module used by guest/selftest.py to check that guest/vm.py
 * notices kernel problems.  mode=ok loads cleanly; the other modes provoke
 * a WARN, a SLUB redzone overwrite (caught by slub_debug=Z), a
 * use-after-free write (caught by slub_debug=P) or an oops.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *mode = "ok";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "ok | warn | redzone | uaf | oops | fail");

static noinline void vmtest_redzone(void)
{
	/* exactly a kmalloc-32 object, so p[32] is the first redzone byte */
	char *p = kmalloc(32, GFP_KERNEL);

	if (!p)
		return;
	OPTIMIZER_HIDE_VAR(p);
	p[32] = 0x5a;
	kfree(p);
}

static noinline void vmtest_uaf(void)
{
	char *p = kmalloc(64, GFP_KERNEL);

	if (!p)
		return;
	kfree(p);
	OPTIMIZER_HIDE_VAR(p);
	p[8] = 0x5a;	/* write after free: breaks the poison pattern */
	/* allocate from the same cache again so SLUB checks the poison */
	kfree(kmalloc(64, GFP_KERNEL));
}

static int __init vmtest_init(void)
{
	pr_info("vmtest: loaded, mode=%s\n", mode);
	if (!strcmp(mode, "warn"))
		WARN_ON(1);
	else if (!strcmp(mode, "redzone"))
		vmtest_redzone();
	else if (!strcmp(mode, "uaf"))
		vmtest_uaf();
	else if (!strcmp(mode, "oops"))
		*(volatile int *)NULL = 1;
	else if (!strcmp(mode, "fail"))
		return -EINVAL;
	return 0;
}

static void __exit vmtest_exit(void)
{
	pr_info("vmtest: unloaded\n");
}

module_init(vmtest_init);
module_exit(vmtest_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("guest/vm.py self-test module");
