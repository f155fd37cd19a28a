# Regular-expression-heavy Perl run by e2e_programs with and without the shim: global
# matches, substitutions, named captures, look-around splits and many compiled patterns.
use strict;
use warnings;

my $seed = 7;
sub next_rand { $seed = ($seed * 1103515245 + 12345) % 2147483648; return $seed >> 16; }
my $text = join "", map { chr(97 + next_rand() % 26) x (1 + next_rand() % 3) } 1 .. 150000;
my %pairs;
$pairs{ $1 . substr($2, 0, 2) }++ while $text =~ /([a-e]+)([f-z]{2,})/g;
my @top = (sort { $pairs{$b} <=> $pairs{$a} || $a cmp $b } keys %pairs)[0 .. 9];
print "pairs ", scalar(keys %pairs), " top @top\n";

(my $swapped = $text) =~ s/(a+)(b+)/$2$1/g;
(my $numbered = substr($text, 0, 100000)) =~ s/([xyz])\1+/sprintf("<%s%d>", $1, length $&)/ge;
print "substituted ", length($swapped), " ", ($swapped =~ tr/a//), " ", length($numbered), "\n";

my @parts = split /(?<=[xyz])(?=[abc])/, $text;
my $alternations = () = $text =~ /(?:abc|xyz|q[^u])/g;
my %vowels;
$vowels{ $+{run} } += length $+{rest} while $text =~ /(?<run>[aeiou]{2,})(?<rest>[^aeiou]{3,})/g;
print "parts ", scalar(@parts), " alternations $alternations vowel runs ", scalar(keys %vowels), "\n";

my $matches = 0;
for my $i (1 .. 1500) {
    my ($letter, $k) = (chr(97 + $i % 26), 1 + $i % 3);
    my $re = qr/(?:$letter){2}[^$letter]{$k}/;
    $matches += () = substr($text, $i * 100, 3000) =~ /$re/g;
}
print "compiled patterns matched $matches\n";
