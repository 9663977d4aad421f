# Shell helper (sourced): times_seconds FILE prints the children's user + system seconds from a
# file written by the shell builtin `times` (its second line: children's "XmY.YYYs XmY.YYYs").
times_seconds() {
    awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, "m"); s += t[1] * 60 + t[2] } } END { printf "%d", s }' "$1"
}
