#!/usr/bin/perl
# Writes a tiny MaxMind-format country database for the GeoIP tests:
#   203.0.113.0/24 -> country DE, 198.51.100.0/24 -> continent EU only,
#   2001:db8::/32 -> country JP.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: make_mmdb.pl OUT\n";
my %types = (country => 'map', continent => 'map', iso_code => 'utf8_string', code => 'utf8_string');
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 6, record_size => 24, database_type => 'Lotus-Test-Country',
    languages => ['en'], description => { en => 'Lotus test database' },
    map_key_type_callback => sub { $types{ $_[0] } },
    alias_ipv6_to_ipv4 => 1,
    remove_reserved_networks => 0,  # the test ranges are documentation (reserved) networks
);
$tree->insert_network('203.0.113.0/24', { country => { iso_code => 'DE' }, continent => { code => 'EU' } });
$tree->insert_network('198.51.100.0/24', { continent => { code => 'EU' } });
$tree->insert_network('2001:db8::/32', { country => { iso_code => 'JP' } });
open my $fh, '>:raw', $out or die "cannot write $out: $!\n";
$tree->write_tree($fh);
close $fh;
