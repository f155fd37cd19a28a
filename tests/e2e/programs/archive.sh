# tar with gzip and xz, run by e2e_programs with and without the shim on the tree the test
# wrote into ./tree: reproducible archives (sorted names, fixed times and owners), xz in two
# threads, then both unpacked and compared with the tree.
set -e
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf tree.tar tree
gzip -6 -n -c tree.tar > tree.tar.gz
xz -3 -T2 --block-size=1MiB -c tree.tar > tree.tar.xz
mkdir from-gz from-xz
tar -xzf tree.tar.gz -C from-gz
tar -xJf tree.tar.xz -C from-xz
diff -r tree from-gz/tree
diff -r tree from-xz/tree
echo "round trip ok"
tar -tvf tree.tar.xz | head -n 5
xz -l tree.tar.xz | tail -n 1
sha256sum tree.tar tree.tar.gz tree.tar.xz
