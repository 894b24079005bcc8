#!/bin/bash
# SPDX-License-Identifier: BSL-1.0
# The bash completion script sources cleanly and completes commands, subcommands and options.
# Usage: completion_test.sh COMPLETION_SCRIPT DIRECTORY_OF_PIPC
set -u
export LC_ALL=C
source "$1" || { echo "cannot source $1"; exit 1; }
PATH="$2:$PATH"
fail=0
complete_words() { # words... -> COMPREPLY for the last word
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _pipc
    printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' '
}
expect() { # expected actual
    if [[ "$2" != "$1" ]]; then echo "expected [$1], got [$2]"; fail=1; fi
}
expect "mq " "$(complete_words pipc m)"
expect "doctor " "$(complete_words pipc d)"
expect "limits lock ls " "$(complete_words pipc l)"
expect "--help create info recv rm send " "$(complete_words pipc mq '')" 
expect "--unused " "$(complete_words pipc rm --un)"
expect "bell channel lock mq sem shm " "$(complete_words pipc rm --kind '')"
expect "--help info rm " "$(complete_words pipc lock '')"
expect "--max-size --mode --mpsc " "$(complete_words pipc channel create /c --m)"
expect "channel " "$(complete_words pipc ch)"
expect "--noheadings " "$(complete_words pipc ls --nohe)"
expect "--null " "$(complete_words pipc mq recv /q --nu)"
[[ "$(complete -p pipc)" == *"_pipc"* ]] || { echo "pipc has no completion"; fail=1; }
exit $fail
