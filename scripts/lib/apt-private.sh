# Sourced by scripts that fetch from Debian suites the host's apt does not list
# (scripts/libbpf-source.sh: libbpf's source from forky and sid; scripts/vm-test.sh:
# bullseye's kernels). Such an apt keeps a sources list, lists and a cache of its
# own under one directory, so the host's apt configuration is never touched and
# every download is still checked against the signed Release with Debian's key.

# apt_private_opts DIR: apt's -o options for the state under DIR, one word per line
# (mapfile -t opts < <(apt_private_opts DIR)).
apt_private_opts() {
	printf '%s\n' -o "Dir::Etc::SourceList=$1/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o "Dir::State::Lists=$1/lists" -o "Dir::Cache=$1/cache"
}

# apt_private_sources DIR TYPE URI SUITE [URI SUITE]...: the directories apt needs
# under DIR and a sources list of each suite's main component, of TYPE (deb or deb-src).
apt_private_sources() {
	local dir=$1 type=$2 key='signed-by=/usr/share/keyrings/debian-archive-keyring.gpg'
	shift 2
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	: > "$dir/sources.list"
	while (($# >= 2)); do
		printf '%s [%s] %s %s main\n' "$type" "$key" "$1" "$2" >> "$dir/sources.list"
		shift 2
	done
}
