//! The closed lists of options of the programs judged read-only.
//!
//! Why it exists: the lists are data, kept apart from the code that reads
//! them (`readers`) so that adding a program or an option is one entry here.
//! What it must not do: list an option that writes a file, runs a program or
//! loads configuration or code; such options belong in `refused`, with what
//! they would do.

use crate::opts::listed;

/// The options of one program (or a family of programs with the same ones).
pub(crate) struct Tool {
    /// The programs, separated by spaces.
    pub names: &'static str,
    /// Options without a value; `-#` allows `-NUM` (`head -20`).
    pub flags: &'static str,
    /// Options that take a value (the next word, or attached).
    pub values: &'static str,
    /// Options refused with a known reason.
    pub refused: &'static [(&'static str, &'static str)],
    /// Options are whole words after one dash (`xxd -cols 8`), not clusters.
    pub single_dash: bool,
    /// No option of the program, listed or not, writes, runs a program or
    /// loads code: a word that could expand to an option (`xargs cat`,
    /// `cat $f`) is then allowed.
    pub any_option: bool,
}

/// Options of `values` whose value is optional and, when given, attached
/// (`date -Iseconds`, `date -I`).
pub(crate) const OPTIONAL_VALUES: &str = "-I";

const WRITES: &str = "it writes a file";
const RUNS: &str = "it runs another program";
const CONFIG: &str = "it loads a configuration file";
const NAMES: &str = "it reads the names of the files to read from a file";
const ENDLESS: &str = "it repeats until stopped";

const GREP: Tool = Tool {
    names: "grep egrep fgrep zgrep",
    flags: "-E -F -G -P -i -y -v -w -x -c -l -L -o -q -s -b -H -h -n -T -Z -z -a -I -r -R -U -# --extended-regexp --fixed-strings --basic-regexp --perl-regexp --ignore-case --no-ignore-case --invert-match --word-regexp --line-regexp --count --files-with-matches --files-without-match --only-matching --quiet --silent --no-messages --byte-offset --with-filename --no-filename --line-number --initial-tab --null --null-data --text --recursive --dereference-recursive --line-buffered --binary --color --colour",
    values: "-e -f -m -A -B -C -d -D --regexp --file --max-count --after-context --before-context --context --label --include --exclude --exclude-dir --exclude-from --directories --devices --binary-files --group-separator",
    refused: &[],
    single_dash: false,
    any_option: true,
};

pub(crate) const TOOLS: &[Tool] = &[
    GREP,
    Tool {
        names: "cat",
        flags: "-A -b -e -E -n -s -t -T -u -v --show-all --number-nonblank --number --squeeze-blank --show-ends --show-tabs --show-nonprinting",
        values: "",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "tac",
        flags: "-b -r --before --regex",
        values: "-s --separator",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "nl",
        flags: "-p --no-renumber",
        values: "-b -d -f -h -i -l -n -s -v -w --body-numbering --section-delimiter --footer-numbering --header-numbering --line-increment --join-blank-lines --number-format --number-separator --starting-line-number --number-width",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "head tail",
        flags: "-q -v -z -f -F -# --quiet --silent --verbose --zero-terminated --follow --retry",
        values: "-n -c -s --lines --bytes --sleep-interval --pid --max-unchanged-stats",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "ls",
        flags: "-a -A -l -h -t -r -S -R -d -1 -i -s -F -p -n -g -o -G -L -H -c -u -U -X -v -x -C -m -b -B -k -Q -q -N -Z --all --almost-all --human-readable --recursive --directory --reverse --inode --size --classify --numeric-uid-gid --no-group --dereference --full-time --si --group-directories-first --color --escape --literal --author --context --dired --hide-control-chars --show-control-chars --quote-name --file-type --kibibytes",
        values: "-I -w -T --time-style --sort --time --format --indicator-style --hide --ignore --width --block-size --quoting-style --tabsize",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "stat",
        flags: "-L -f -t --dereference --file-system --terse",
        values: "-c --format --printf --cached",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "wc",
        flags: "-c -m -l -w -L --bytes --chars --lines --words --max-line-length",
        values: "--total",
        refused: &[("--files0-from", NAMES)],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "zcat",
        flags: "-f -q -v -l --force --quiet --verbose --list",
        values: "",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "du",
        flags: "-a -b -c -h -H -k -l -L -m -P -s -S -x -D -0 --all --apparent-size --bytes --total --human-readable --si --summarize --separate-dirs --one-file-system --dereference --dereference-args --no-dereference --count-links --inodes --null --time",
        values: "-d -t -B -X --max-depth --threshold --block-size --exclude --exclude-from --time-style",
        refused: &[("--files0-from", NAMES)],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "df",
        flags: "-a -h -H -i -k -l -P -T --all --human-readable --si --inodes --local --portability --print-type --total --sync --no-sync --output",
        values: "-t -x -B --type --exclude-type --block-size",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "free",
        flags: "-b -k -m -g -h -w -t -l -v --bytes --kilo --mega --giga --tera --human --wide --total --lohi --si --kibi --mebi --gibi --committed",
        values: "-s -c --seconds --count",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "uptime",
        flags: "-p -s --pretty --since",
        values: "",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "pgrep",
        flags: "-l -a -f -x -n -o -v -c -i -w --list-name --list-full --full --exact --newest --oldest --inverse --count --ignore-case --lightweight",
        values: "-u -U -g -G -P -s -t -d -F -r --euid --uid --group --parent --session --terminal --delimiter --pidfile --runstates --ns --nslist --older",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "uname",
        flags: "-a -s -n -r -v -m -p -i -o --all --kernel-name --nodename --kernel-release --kernel-version --machine --processor --hardware-platform --operating-system",
        values: "",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "whoami groups pwd nproc tty",
        flags: "-L -P -s --all --silent --quiet",
        values: "--ignore",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "id",
        flags: "-u -g -G -n -r -z -a -Z --user --group --groups --name --real --zero --context",
        values: "",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "which type",
        flags: "-a -s -f -p -P -t",
        values: "",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "basename dirname",
        flags: "-a -z --multiple --zero",
        values: "-s --suffix",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "realpath readlink",
        flags: "-e -f -m -n -L -P -q -s -v -z --canonicalize --canonicalize-existing --canonicalize-missing --logical --physical --quiet --silent --strip --no-symlinks --no-newline --verbose --zero",
        values: "--relative-to --relative-base",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "seq",
        flags: "-w -# --equal-width",
        values: "-f -s --format --separator",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "cut",
        flags: "-s -n -z --complement --only-delimited --zero-terminated",
        values: "-b -c -f -d --bytes --characters --fields --delimiter --output-delimiter",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "tr",
        flags: "-c -C -d -s -t --complement --delete --squeeze-repeats --truncate-set1",
        values: "",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "column",
        flags: "-t -x -n -e -J -L --table --fillrows --json --keep-empty-lines --table-noextreme",
        values: "-s -o -c -N -R -H -E -W -l -d --separator --output-separator --output-width --table-columns --table-right --table-hide --table-name --table-wrap",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "paste comm fold",
        flags: "-s -z -b -1 -2 -3 -# --serial --zero-terminated --check-order --nocheck-order --total --bytes --spaces",
        values: "-d -w --delimiters --output-delimiter --width",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "diff",
        flags: "-u -c -q -s -r -N -a -b -B -w -i -y -p -E -Z -t -T -l -d -P --brief --unified --context --recursive --new-file --text --ignore-space-change --ignore-blank-lines --ignore-all-space --ignore-case --side-by-side --show-c-function --report-identical-files --color --strip-trailing-cr --suppress-common-lines --no-dereference --expand-tabs --initial-tab --minimal --speed-large-files --unidirectional-new-file --ignore-tab-expansion --ignore-trailing-space --left-column --normal",
        values: "-U -C -W -x -X -I -L -F --width --exclude --exclude-from --ignore-matching-lines --label --show-function-line --tabsize --starting-file",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "cmp",
        flags: "-b -l -s --print-bytes --verbose --quiet --silent",
        values: "-i -n --ignore-initial --bytes",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "base64 base32",
        flags: "-d -i --decode --ignore-garbage",
        values: "-w --wrap",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "sha256sum sha1sum sha512sum sha224sum sha384sum md5sum b2sum cksum",
        flags: "-b -t -z --binary --text --tag --untagged --zero --raw --base64",
        values: "-a -l --algorithm --length",
        refused: &[("-c", NAMES), ("--check", NAMES)],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "od",
        flags: "-a -b -c -d -f -i -l -o -s -x -v --output-duplicates --traditional",
        values: "-A -j -N -t -S -w --address-radix --skip-bytes --read-bytes --format --strings --width --endian",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "hexdump hd",
        flags: "-b -c -C -d -o -x -v --canonical --one-byte-octal --one-byte-char --two-bytes-decimal --two-bytes-octal --two-bytes-hex --no-squeezing",
        values: "-n -s -e -f --length --skip --format --format-file",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "strings",
        flags: "-a -d -f -w -# --all --data --print-file-name --include-all-whitespace",
        values: "-n -t -e -s -T --bytes --radix --encoding --output-separator --target",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "lsblk",
        flags: "-a -b -d -D -f -J -l -m -n -O -p -P -r -S -t -z -A -M --all --bytes --nodeps --discard --fs --json --list --perms --noheadings --output-all --paths --pairs --raw --scsi --topology --merge --tree --zoned",
        values: "-e -I -o -x -E -w --exclude --include --output --sort --dedup --width",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "findmnt",
        flags: "-A -b -c -D -e -f -J -k -l -m -n -r -R -s -u -v -P --all --bytes --canonicalize --df --evaluate --first-only --fstab --json --kernel --list --mtab --noheadings --raw --submounts --uniq --nofsroot --pairs --real --pseudo --verbose --notruncate --ascii",
        values: "-F -M -N -o -O -S -T -t -d -w --tab-file --mountpoint --task --output --options --source --target --types --direction --timeout",
        refused: &[("-p", ENDLESS), ("--poll", ENDLESS)],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "getent",
        flags: "-i --no-idn",
        values: "-s --service",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "w who",
        flags: "-h -i -o -s -f -u -a -b -d -H -l -m -p -q -r -t -T --no-header --ip-addr --old-style --short --from --all --boot --dead --heading --login --lookup --process --count --runlevel --time --mesg --message --writable --users",
        values: "",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "last lastb",
        flags: "-a -d -F -i -R -w -x -# --hostlast --dns --fulltimes --ip --nohostname --fullnames --system",
        values: "-n -f -s -t -p --limit --file --since --until --present --time-format",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "netstat",
        flags: "-t -u -w -x -l -n -p -a -e -o -r -s -i -W -g -M -N -4 -6 -v -C --tcp --udp --raw --unix --listening --numeric --programs --all --extend --timers --route --statistics --interfaces --wide --groups --masquerade --symbolic --numeric-hosts --numeric-ports --numeric-users --verbose",
        values: "-A --protocol",
        refused: &[("-c", ENDLESS), ("--continuous", ENDLESS)],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "lsof",
        flags: "-n -P -l -t -w -a -N -U -b -R -V -i -X -Q",
        values: "-p -u -c -g -d -s -T -F -k -E",
        refused: &[("-r", ENDLESS)],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "vmstat",
        flags: "-a -f -m -n -s -d -D -t -w -y --active --forks --slabs --one-header --stats --disk --disk-sum --timestamp --wide --no-first",
        values: "-p -S -c --partition --unit",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "iostat",
        flags: "-c -d -h -k -m -N -t -x -y -z -H -s --human --pretty --compact",
        values: "-p -j -o -g --dec",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "lscpu",
        flags: "-a -b -c -e -p -J -x -y -B -C --all --online --offline --json --hex --physical --bytes --caches --output-all --extended --parse",
        values: "-s --sysroot",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "sensors",
        flags: "-A -u -j -f --no-adapter --fahrenheit",
        values: "",
        refused: &[
            ("-c", CONFIG),
            ("--config-file", CONFIG),
            ("-s", "it sets chip limits"),
            ("--set", "it sets chip limits"),
        ],
        single_dash: false,
        any_option: false,
    },
    Tool {
        names: "traceroute tracepath traceroute6 tracepath6",
        flags: "-n -I -T -U -4 -6 -F -d -r -e -A -b --icmp --tcp --udp --debug --back --mtu --extensions --as-path-lookups",
        values: "-m -q -w -p -f -z -N -s -i -t -M -g -O -l --max-hops --queries --wait --port --first --sendwait --sim-queries --source --interface --tos --module --gateway",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "dig",
        flags: "-4 -6 -m -u -r -h -v",
        values: "-t -x -p -q -c -b -f -i",
        refused: &[
            ("-k", "it reads a TSIG key file"),
            ("-y", "it puts a TSIG key on the command line"),
        ],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "host",
        flags: "-a -A -C -d -l -r -s -T -U -v -V -4 -6",
        values: "-c -N -R -t -W -m",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
    Tool {
        names: "sort",
        flags: "-b -d -f -g -h -i -M -n -R -r -V -c -C -m -s -u -z --ignore-leading-blanks --dictionary-order --ignore-case --general-numeric-sort --human-numeric-sort --ignore-nonprinting --month-sort --numeric-sort --random-sort --reverse --version-sort --check --merge --stable --unique --zero-terminated --debug",
        values: "-k -t -S -o --key --field-separator --buffer-size --parallel --batch-size --output --sort --random-source",
        refused: &[
            ("-T", "it writes temporary files into a directory"),
            (
                "--temporary-directory",
                "it writes temporary files into a directory",
            ),
            ("--compress-program", RUNS),
            ("--files0-from", NAMES),
        ],
        single_dash: false,
        any_option: false,
    },
    Tool {
        names: "uniq",
        flags: "-c -d -D -i -u -z --count --repeated --unique --ignore-case --zero-terminated --all-repeated --group",
        values: "-f -s -w --skip-fields --skip-chars --check-chars",
        refused: &[],
        single_dash: false,
        any_option: false,
    },
    Tool {
        names: "tree",
        flags: "-a -d -l -f -i -q -N -Q -p -u -g -s -h -D -F -v -t -c -r -C -n -A -S -x -J -X --du --si --dirsfirst --noreport --prune --inodes --device --filesfirst --gitignore --matchdirs --ignore-case",
        values: "-L -P -I -o --filelimit --timefmt --charset --sort",
        refused: &[("--fromfile", NAMES)],
        single_dash: false,
        any_option: false,
    },
    Tool {
        names: "less more",
        flags: "-N -S -R -r -i -I -F -X -K -M -m -n -s -e -E -q -Q -w -c -d -f -l -u --LINE-NUMBERS --chop-long-lines --RAW-CONTROL-CHARS --raw-control-chars --ignore-case --IGNORE-CASE --quit-if-one-screen --no-init --quit-on-intr --LONG-PROMPT --long-prompt --squeeze-blank-lines --quit-at-eof --QUIT-AT-EOF --quiet --silent",
        values: "-x -b -h -y -z -j -p --tabs --pattern",
        refused: &[
            ("-o", WRITES),
            ("-O", WRITES),
            ("--log-file", WRITES),
            ("--LOG-FILE", WRITES),
            ("-k", CONFIG),
            ("--lesskey-file", CONFIG),
            ("-t", "it reads a tags file"),
            ("--tag", "it reads a tags file"),
        ],
        single_dash: false,
        any_option: false,
    },
    Tool {
        names: "file",
        flags: "-b -i -L -h -z -Z -k -r -s -N -n -0 -p -E -l --brief --mime --mime-type --mime-encoding --dereference --no-dereference --uncompress --uncompress-noreport --special-files --keep-going --raw --print0 --preserve-date --no-buffer --no-pad --extension --apple",
        values: "-m -F -e -P --magic-file --separator --exclude --exclude-quiet --parameter",
        refused: &[
            ("-C", WRITES),
            ("--compile", WRITES),
            ("-f", NAMES),
            ("--files-from", NAMES),
        ],
        single_dash: false,
        any_option: false,
    },
    Tool {
        names: "rg",
        flags: "-i -S -s -F -w -x -v -c -l -n -N -H -I -o -q -u -L -z -a -U -P -0 -p -b --hidden --no-ignore --no-ignore-vcs --no-ignore-dot --no-ignore-parent --follow --count --count-matches --files --files-with-matches --files-without-match --fixed-strings --ignore-case --smart-case --case-sensitive --word-regexp --line-regexp --invert-match --line-number --no-line-number --with-filename --no-filename --heading --no-heading --only-matching --quiet --json --vimgrep --column --stats --trim --no-messages --text --multiline --multiline-dotall --pcre2 --pretty --byte-offset --search-zip --null --unrestricted --no-config --type-list --passthru --crlf --one-file-system --binary --sort-files --no-unicode --debug",
        values: "-e -g -t -T -m -A -B -C -d -M -j -E -r -f --regexp --glob --iglob --type --type-not --max-count --after-context --before-context --context --max-depth --max-filesize --sort --sortr --color --colors --max-columns --threads --type-add --encoding --replace --file --ignore-file --path-separator --context-separator --field-match-separator --field-context-separator --engine --dfa-size-limit --regex-size-limit",
        refused: &[("--pre", RUNS), ("--pre-glob", RUNS)],
        single_dash: false,
        any_option: false,
    },
    Tool {
        names: "xxd",
        flags: "-a -autoskip -b -bits -C -capitalize -E -EBCDIC -i -include -p -ps -postscript -plain -r -revert -u -d",
        values: "-c -cols -g -groupsize -l -len -n -name -o -offset -s -seek -R",
        refused: &[],
        single_dash: true,
        any_option: false,
    },
    Tool {
        names: "nslookup",
        flags: "-debug -nodebug -d2 -nod2 -vc -novc -recurse -norecurse -search -nosearch -defname -nodefname -fail -nofail -ignoretc -noignoretc",
        values: "-type -querytype -query -q -port -timeout -retry -domain -class -srchlist -root -ndots",
        refused: &[],
        single_dash: true,
        any_option: true,
    },
    Tool {
        names: "journalctl",
        flags: "-r -f -e -x -q -a -l -m -k -b -N --reverse --follow --pager-end --catalog --quiet --all --full --no-full --merge --dmesg --boot --no-pager --no-hostname --utc --system --user --list-boots --disk-usage --header --fields --show-cursor --no-tail --list-namespaces --list-catalog --case-sensitive",
        values: "-u -S -U -n -o -p -g -t -T -D -M -I -F --unit --user-unit --since --until --lines --output --priority --grep --identifier --exclude-identifier --directory --file --machine --output-fields --field --facility --cursor --after-cursor --namespace --root --image --invocation --truncate-newline",
        refused: &[
            ("--cursor-file", "it writes the cursor to a file"),
            ("--vacuum-size", "it deletes journal files"),
            ("--vacuum-time", "it deletes journal files"),
            ("--vacuum-files", "it deletes journal files"),
            ("--rotate", "it rotates the journal"),
            ("--flush", "it moves the journal to disk"),
            ("--sync", "it writes the journal to disk"),
            (
                "--relinquish-var",
                "it changes where the journal is written",
            ),
            (
                "--smart-relinquish-var",
                "it changes where the journal is written",
            ),
            ("--setup-keys", WRITES),
            ("--update-catalog", WRITES),
        ],
        single_dash: false,
        any_option: false,
    },
    Tool {
        names: "ss",
        flags: "-a -l -n -r -p -e -m -o -i -s -t -u -w -x -S -4 -6 -0 -H -O -Z -z -b -E -M -T --all --listening --numeric --resolve --processes --extended --memory --options --info --summary --tcp --udp --raw --unix --sctp --dccp --no-header --oneline --ipv4 --ipv6 --packet --threads --cgroup --bpf --tipc --vsock --xdp --mptcp --events",
        values: "-f -A -F -N --family --query --socket --filter --net",
        refused: &[
            ("-K", "it kills sockets"),
            ("--kill", "it kills sockets"),
            ("-D", WRITES),
            ("--diag", WRITES),
        ],
        single_dash: false,
        any_option: false,
    },
    Tool {
        names: "dmesg",
        flags: "-T -H -k -x -d -e -L -r -t -u -w -W -P -J -S --ctime --human --kernel --decode --show-delta --reltime --color --raw --notime --userspace --follow --follow-new --nopager --json --syslog --noescape --force-prefix",
        values: "-l -f -F -s --level --facility --file --buffer-size --time-format --since --until",
        refused: &[
            ("-c", "it clears the kernel log"),
            ("--read-clear", "it clears the kernel log"),
            ("-C", "it clears the kernel log"),
            ("--clear", "it clears the kernel log"),
            ("-D", "it turns console messages off"),
            ("--console-off", "it turns console messages off"),
            ("-E", "it turns console messages on"),
            ("--console-on", "it turns console messages on"),
            ("-n", "it changes the console log level"),
            ("--console-level", "it changes the console log level"),
        ],
        single_dash: false,
        any_option: false,
    },
    Tool {
        names: "top",
        flags: "-b -H -c -i -S -1 -w --batch",
        values: "-n -d -p -u -U -o -O -E -e --iterations --delay --pid --user --sort-override --width",
        refused: &[],
        single_dash: false,
        any_option: false,
    },
    Tool {
        names: "date",
        flags: "-u -R --utc --universal --rfc-email --iso-8601 --rfc-3339 --debug",
        values: "-d -f -r -I --date --file --reference",
        refused: &[("-s", "it sets the clock"), ("--set", "it sets the clock")],
        single_dash: false,
        any_option: false,
    },
    Tool {
        names: "nvidia-smi",
        single_dash: true,
        any_option: false,
        flags: "-L -q -x -u --list-gpus --query --xml-format --unit",
        values: "-i -d --id --display --query-gpu --query-compute-apps --query-accounted-apps --query-supported-clocks --query-retired-pages --query-remapped-rows --format",
        refused: &[
            ("-f", WRITES),
            ("--filename", WRITES),
            ("-l", ENDLESS),
            ("-lms", ENDLESS),
            ("--loop", ENDLESS),
            ("--loop-ms", ENDLESS),
            ("-r", "it resets the GPU"),
            ("--gpu-reset", "it resets the GPU"),
        ],
    },
    Tool {
        names: "pg_isready",
        flags: "-q --quiet",
        values: "-h -p -U -d -t --host --port --username --dbname --timeout",
        refused: &[],
        single_dash: false,
        any_option: true,
    },
];

/// The closed list for `prog`, if it has one.
pub(crate) fn tool(prog: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| listed(t.names, prog))
}

#[cfg(test)]
mod tests {
    use super::TOOLS;

    #[test]
    fn every_tool_lists_its_options_once() {
        for t in TOOLS {
            let mut seen = Vec::new();
            for o in t
                .flags
                .split_whitespace()
                .chain(t.values.split_whitespace())
            {
                assert!(o.starts_with('-'), "{}: {o}", t.names);
                assert!(!seen.contains(&o), "{}: {o} twice", t.names);
                seen.push(o);
            }
            for (o, _) in t.refused {
                assert!(
                    !seen.contains(o),
                    "{}: {o} both allowed and refused",
                    t.names
                );
            }
        }
    }
}
