# git run by e2e_programs with and without the shim: init, many commits, log, gc, fsck.
# Dates and identities are fixed, so object ids and output are the same in both runs.
set -e
git init -q repo
cd repo
git config user.name "E2E Test"
git config user.email e2e@example.invalid
i=1
while [ $i -le 40 ]; do
  seq 1 $((i * 50)) > "file$((i % 7)).txt"
  printf 'commit %s\n' "$i" >> history.txt
  git add -A
  git commit -q -m "commit $i"
  i=$((i + 1))
done
git log --stat --format='%H %an %s' | head -n 60
git log --oneline | wc -l
git gc -q
git count-objects -v | grep -v size
git fsck --no-progress
git rev-parse HEAD
git show HEAD~3:file3.txt | tail -n 3
git diff HEAD~10 HEAD --stat
