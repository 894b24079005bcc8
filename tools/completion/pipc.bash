# SPDX-License-Identifier: BSL-1.0
# bash completion for pipc: commands, options, and object names from `pipc ls`.
_pipc_names() {
    local kind=$1
    pipc ls ${kind:+--kind "$kind"} -o name --noheadings --raw 2>/dev/null
}

_pipc() {
    local cur prev cmd="" sub="" i w
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case $w in
        --log-level) ((i++)) ;;
        -*) ;;
        *)
            if [[ -z $cmd ]]; then
                cmd=$w
            elif [[ -z $sub && $cmd =~ ^(mq|sem|shm|lock|channel)$ ]]; then
                sub=$w
            fi
            ;;
        esac
    done

    case $prev in
    --log-level)
        COMPREPLY=($(compgen -W "trace debug info warn error critical off" -- "$cur"))
        return ;;
    --kind)
        COMPREPLY=($(compgen -W "mq sem shm lock channel bell" -- "$cur"))
        return ;;
    -o | --output)
        COMPREPLY=($(compgen -W "kind name mode owner uid group gid size value messages msgsize qsize state fill details holders nholders created modified changed" -- "$cur"))
        return ;;
    --size | --message-size | --offset | --length | --max-messages | --value | --mode | \
        -t | --timeout | -n | --count | -p | --priority | --match | --older-than | --slots | \
        --max-size)
        return ;;
    esac

    local words=""
    case $cmd in
    "") words="ls limits doctor rm mq sem shm lock channel bench --help --version --log-level --trust-pid-namespace" ;;
    ls) words="--kind -o --output -n --noheadings -r --raw --json --help" ;;
    limits) words="--json --help" ;;
    doctor) words="--json --help" ;;
    rm)
        words="--kind --unused --match --older-than --dry-run -f --force --json --help"
        [[ $cur != -* ]] && words="$words $(_pipc_names)" ;;
    mq | sem | shm | lock | channel)
        if [[ -z $sub ]]; then
            case $cmd in
            lock) words="info rm --help" ;;
            channel) words="create send recv info rm --help" ;;
            mq) words="create send recv info rm --help" ;;
            sem) words="create post wait info rm --help" ;;
            shm) words="create write read resize info rm --help" ;;
            esac
        else
            case $cmd/$sub in
            mq/create) words="--max-messages --message-size --mode --exclusive" ;;
            mq/send) words="-p --priority -t --timeout" ;;
            mq/recv) words="-t --timeout -n --count --json -z --null" ;;
            sem/create) words="--value --mode --exclusive" ;;
            sem/post) words="-n --count" ;;
            sem/wait) words="-t --timeout" ;;
            shm/create) words="--size --mode --exclusive" ;;
            shm/write) words="--offset" ;;
            shm/read) words="--offset --length" ;;
            shm/resize) words="--size" ;;
            channel/create) words="--slots --max-size --mpsc --mode --exclusive" ;;
            channel/send) words="-t --timeout" ;;
            channel/recv) words="-t --timeout -n --count --json -z --null" ;;
            lock/rm) words="-f --force" ;;
            */info) words="--json" ;;
            */rm) words="-f --force" ;;
            esac
            words="$words --help"
            [[ $cur != -* && $sub != create ]] && words="$words $(_pipc_names "$cmd")"
        fi ;;
    bench) words="--help" ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _pipc pipc
