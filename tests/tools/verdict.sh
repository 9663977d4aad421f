# Shell helper (sourced) for suites that print one line per check: verdict STATUS TEXT [DETAIL]
# prints "ok   TEXT" for status 0, otherwise "FAIL TEXT: DETAIL", and counts into $passed and
# $failed, which the suite reports as "NAME: N passed, N failed".
passed=0
failed=0
verdict() {
    if [[ $1 -eq 0 ]]; then
        passed=$((passed + 1))
        echo "ok   $2"
    else
        failed=$((failed + 1))
        echo "FAIL $2${3:+: $3}"
    fi
}
