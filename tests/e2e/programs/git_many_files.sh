# git run by e2e_programs with and without the shim on a tree of many files that the test
# wrote into ./repo: add, commit, rename, remove, edit, log, gc, fsck, grep, archive, blame.
# Dates and identities are fixed, so object ids and output are the same in every run.
set -e
git init -q repo
cd repo
git config user.name "E2E Test"
git config user.email e2e@example.invalid
git add -A
git commit -q -m "many files"
git ls-files | wc -l
git mv d00 moved
git rm -q -r d01
sed -i 's/7/seven/g' d02/*.txt
git commit -q -am "rename, remove, edit"
git log --stat --format='%H %s' | tail -n 4
git diff --shortstat HEAD~1 HEAD
git grep -c seven | tail -n 3
git gc -q --aggressive
git count-objects -v | grep -v size
git fsck --no-progress --full
git archive HEAD | tar -tf - | wc -l
git rev-parse HEAD 'HEAD^{tree}'
git blame -s d02/f0.txt | head -n 3
