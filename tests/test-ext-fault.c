/*
 * test-ext-fault.c — block-layer I/O errors under the ext driver. The driver
 * is mounted directly on a fault device (blk_fault_new: the Nth read or
 * write, and every later one, fails with EIO) and driven through its ops
 * table: a read-only walk with read faults, and a sequence of changes with
 * write or read faults. Each case runs in a child: errors must come back as
 * return codes, never as a crash or a sanitizer report. After a case with
 * write faults that never fired the image must be e2fsck-clean.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blk.h"
#include "ext-util.h"
#include "t.h"
#include "vfs.h"

extern const struct vfs_fstype ext_fstype;

static int ext_f_fill(void *ctx, const char *name, size_t len, uint64_t ino, unsigned char dt,
                      uint64_t next)
{
    (void)ino, (void)dt, (void)next;
    char (*names)[256] = ctx;
    for (int i = 0; i < 64; i++)
        if (!names[i][0]) {
            memcpy(names[i], name, len < 255 ? len : 255);
            return 0;
        }
    return 1;
}

/* Walk DIR one level deep: lookup, getattr, read every entry. */
static void ext_f_walk(struct vfs_sb *sb, struct vfs_vnode *dir, int depth)
{
    static char names[8][64][256];
    char (*n)[256] = names[depth];
    memset(n, 0, sizeof names[0]);
    if (sb->ops->readdir(dir, 0, ext_f_fill, n) < 0) return;
    for (int i = 0; i < 64 && n[i][0]; i++) {
        struct vfs_vnode *vn;
        struct uvfs_stat st;
        char buf[65536];
        if (sb->ops->lookup(dir, n[i], &vn) < 0) continue;
        if (sb->ops->getattr(vn, &st) == 0) {
            if (S_ISREG(st.mode))
                for (uint64_t off = 0; off < st.size && off < (4u << 20); off += sizeof buf)
                    if (sb->ops->read(vn, NULL, buf, sizeof buf, off) < 0) break;
            if (S_ISLNK(st.mode)) sb->ops->readlink(vn, buf, sizeof buf);
            if (S_ISDIR(st.mode) && depth < 7) ext_f_walk(sb, vn, depth + 1);
        }
        vfs_vnode_put(vn);
    }
}

static void ext_f_changes(struct vfs_sb *sb)
{
    const struct vfs_ops *o = sb->ops;
    /* (names that gentree never makes: the core's checks are bypassed here) */
    struct vfs_vnode *root = sb->root, *d = NULL, *f = NULL, *l = NULL, *g = NULL;
    static char buf[300000];
    memset(buf, 'w', sizeof buf);
    if (o->mkdir(root, "fault-dir", 0755, 0, 0, &d) < 0) d = NULL;
    if (o->mknod(root, "fault-file", S_IFREG | 0644, 0, 0, 0, &f) < 0) f = NULL;
    if (f) {
        o->write(f, NULL, buf, sizeof buf, 0);
        o->write(f, NULL, buf, 5000, 1 << 20);
        o->setxattr(f, "user.x", buf, 500, 0);
        struct vfs_setattr sa = {.mask = VFS_SET_SIZE | VFS_SET_MODE, .size = 70000, .mode = 0600};
        o->setattr(f, &sa);
    }
    if (o->symlink(root, "fault-link", "/a/rather/long/target/that/needs/a/block/of/its/own/xxxxxxxxxxxxx",
                   0, 0, &l) < 0)
        l = NULL;
    if (d && f && o->rename(root, "fault-file", f, d, "moved", NULL) == 0) {
        if (o->link(f, root, "fault-hard") == 0) o->unlink(root, "fault-hard", f);
    }
    if (d && o->mkdir(d, "sub", 0700, 0, 0, &g) == 0) {
        o->rmdir(d, "sub", g);
        vfs_vnode_put(g);
    }
    if (l) {
        o->unlink(root, "fault-link", l);
        vfs_vnode_put(l);
    }
    if (f) vfs_vnode_put(f);
    if (d) vfs_vnode_put(d);
    if (o->sync) o->sync(sb);
}

/* One case in a child. Returns the child's exit status. */
static int ext_f_case(const char *img, unsigned mask, uint64_t nth, int rw)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct blk_dev *f;
        struct vfs_sb *sb;
        alarm(30);
        if (!(f = ext_fault_dev(img, rw, mask, nth, 1))) _exit(3);
        if (ext_fstype.mount(f, img, "", rw ? 0 : VFS_MNT_RDONLY, &sb) < 0) {
            blk_put(f);
            _exit(0);
        }
        if (rw) ext_f_changes(sb);
        ext_f_walk(sb, sb->root, 0);
        ext_direct_umount(sb, f);
        _exit(0);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

T_TEST(ext_block_faults)
{
    ext_need_tools();
    const char *tmp = t_tmpdir();
    char *tree = t_fmt("%s/tree", tmp), *base = t_fmt("%s/base.img", tmp), *img = t_fmt("%s/img", tmp);
    static const char *const opts[] = {"-t ext4", "-t ext2 -b 1024", "-t ext4 -O inline_data"};
    int failures = 0;
    ext_gentree(41, tree, "--files 10");
    for (int o = 0; o < 3; o++) {
        ext_mkimg(base, 16, opts[o], tree);
        /* a run without faults: the change sequence leaves a clean image */
        T_EQ(t_sh("cp '%s' '%s'", base, img), 0);
        T_EQ(ext_f_case(img, BLK_FAULT_WRITE, 0, 1), 0);
        if (ext_fsck(img)) T_FAIL("%s: the change sequence without faults is not e2fsck-clean", opts[o]);
        for (uint64_t nth = 1; nth <= 60; nth += (nth < 20 ? 1 : 7)) {
            static const struct {
                unsigned mask;
                int rw;
            } kinds[] = {{BLK_FAULT_READ, 0}, {BLK_FAULT_WRITE | BLK_FAULT_FLUSH, 1}, {BLK_FAULT_READ, 1}};
            for (int k = 0; k < 3; k++) {
                T_EQ(t_sh("cp '%s' '%s'", base, img), 0);
                int st = ext_f_case(img, kinds[k].mask, nth, kinds[k].rw);
                if (st != 0) {
                    fprintf(stderr, "%s: %s fault at call %llu (%s mount): status %d\n", opts[o],
                            kinds[k].mask & BLK_FAULT_WRITE ? "write" : "read",
                            (unsigned long long)nth, kinds[k].rw ? "rw" : "ro", st);
                    failures++;
                }
            }
        }
    }
    if (failures) T_FAIL("%d fault cases crashed, hung or tripped a sanitizer", failures);
    free(tree);
    free(base);
    free(img);
}
