# awk and sort on the generated ./input.txt, run by e2e_programs with and without the shim:
# associative arrays, growing strings, and a two-thread sort that spills to temporary files.
set -e
awk '{ n[$1]++; s[$1] += $2 } END { for (w in n) print w, n[w], s[w] }' input.txt |
  sort -k2,2nr -k1,1 | head -n 5
awk '{ a[NR % 1000] = a[NR % 1000] $1 } END { for (k in a) l += length(a[k]); print "joined", l }' input.txt
awk '{ print $2 * 3 + NR % 7, toupper($1), $3 }' input.txt |
  sort -S 1M --parallel=2 -T . -k1,1n -k2,2 | md5sum
sort -u -t ' ' -k1,1 input.txt | wc -l
awk 'length($3) > 9 { c++ } END { print "long", c }' input.txt
