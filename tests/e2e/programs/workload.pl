# Hash-heavy Perl run by e2e_programs with and without the shim; the output must match.
use strict;
use warnings;

my %count;
my %index;
my $seed = 42;
sub next_rand { $seed = ($seed * 1103515245 + 12345) % 2147483648; return $seed; }

for my $i (1 .. 120000) {
    my $key = join("", map { chr(97 + next_rand() % 26) } 1 .. (3 + next_rand() % 6));
    $count{$key}++;
    push @{ $index{ length $key } }, $i if $i % 3 == 0;
}
my @keys = sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count;
print "distinct ", scalar(@keys), "\n";
print "top @keys[0 .. 4]\n";
for my $len (sort { $a <=> $b } keys %index) {
    print "len $len: ", scalar(@{ $index{$len} }), "\n";
}
my %nested;
for my $k (@keys[0 .. 9999]) {
    $nested{ substr($k, 0, 2) }{$k} = [ map { $_ * 2 } 1 .. 5 ];
}
my $total = 0;
for my $p (sort keys %nested) {
    for my $k (sort keys %{ $nested{$p} }) { $total += $nested{$p}{$k}[4]; }
}
print "prefixes ", scalar(keys %nested), " total $total\n";
my $text = join(",", @keys);
my @parts = split /,/, $text;
print "roundtrip ", (scalar(@parts) == scalar(@keys) ? "ok" : "bad"), "\n";
delete $count{$_} for @keys[0 .. 999];
print "after delete ", scalar(keys %count), "\n";
