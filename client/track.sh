#!/usr/bin/env bash
# track.sh: record one use of a skill with Track Skills, without slowing it.
#
#   bash track.sh NAME [STATUS] [DURATION_MS] [CATEGORY]
#
#   NAME         the skill or tool (required)
#   STATUS       success (default), error or timeout
#   DURATION_MS  whole milliseconds, 0-86400000; empty or absent = unknown
#   CATEGORY     tool_category (default "skill")
#
# Environment:
#   TRACKSKILLS_URL      server base URL (default http://127.0.0.1:8080)
#   TRACKSKILLS_KEY      ingest key, sent as "Authorization: Bearer <key>";
#                        API_KEY (the seed's name) is used when it is unset
#   TRACKSKILLS_USER     optional user_id (hashed by the server, never stored)
#   TRACKSKILLS_TIMEOUT  seconds before curl gives up (default 2)
#   TRACKSKILLS_SYNC=1   wait for the request instead of sending it in the
#                        background
#   TRACKSKILLS_DEBUG=1  wait, and print the request body and the answer on
#                        stderr
#
# It never fails the skill: it prints nothing on stdout, always exits 0, and
# sends in the background with a short timeout. A bad argument is reported on
# stderr and nothing is sent. The JSON body is escaped here in plain bash
# (bash 3.2 or later, no jq, no python), so no name can break it or add fields.

# Started by another shell (sh track.sh)? Run again under bash.
if [ -z "${BASH_VERSION:-}" ]; then
	command -v bash >/dev/null 2>&1 && exec bash "$0" ${1+"$@"}
	exit 0
fi

# Whatever happens below (even under an inherited set -e or set -u), exit 0.
trap 'exit 0' EXIT

# Work on bytes: UTF-8 passes through untouched, and only the ASCII control
# characters need escaping, whatever the caller's locale.
LC_ALL=C

_ts_usage='usage: track.sh NAME [success|error|timeout] [DURATION_MS] [CATEGORY]'

# _ts_ctl holds the control characters JSON strings cannot hold raw (U+0001 to
# U+001F; NUL cannot be in a bash string) and DEL, escaped for safety.
printf -v _ts_ctl '\001\002\003\004\005\006\007\010\011\012\013\014\015\016\017\020\021\022\023\024\025\026\027\030\031\032\033\034\035\036\037\177'

# _ts_json_string sets _ts_out to $1 as a quoted JSON string.
_ts_json_string() {
	local s=$1 out='' c i n
	case $s in
	*\"* | *\\* | *["$_ts_ctl"]*) ;;
	*)
		_ts_out="\"$s\""
		return 0
		;;
	esac
	n=${#s}
	i=0
	while [ "$i" -lt "$n" ]; do
		c=${s:i:1}
		case $c in
		\") out="$out\\\"" ;;
		\\) out="$out\\\\" ;;
		$'\n') out="$out\\n" ;;
		$'\r') out="$out\\r" ;;
		$'\t') out="$out\\t" ;;
		["$_ts_ctl"])
			printf -v c '\\u%04x' "'$c"
			out="$out$c"
			;;
		*) out="$out$c" ;;
		esac
		i=$((i + 1))
	done
	_ts_out="\"$out\""
}

_ts_main() {
	local name=${1-} status=${2-} duration=${3-} category=${4-}
	local url key user timeout body

	case $name in
	'' | -h | --help)
		printf '%s\n' "$_ts_usage" >&2
		return 0
		;;
	esac
	case $status in
	'') status=success ;;
	success | error | timeout) ;;
	*)
		printf 'track.sh: status must be success, error or timeout, not "%s"; nothing sent\n' "$status" >&2
		return 0
		;;
	esac
	case $duration in
	'') ;;
	*[!0-9]*)
		printf 'track.sh: duration must be whole milliseconds (0-86400000), not "%s"; nothing sent\n' "$duration" >&2
		return 0
		;;
	*)
		# Strip leading zeros: bash arithmetic reads 010 as octal.
		duration=${duration#"${duration%%[!0]*}"}
		[ -n "$duration" ] || duration=0
		if [ "${#duration}" -gt 8 ] || [ "$duration" -gt 86400000 ]; then
			printf 'track.sh: duration must be whole milliseconds (0-86400000), not "%s"; nothing sent\n' "$3" >&2
			return 0
		fi
		;;
	esac
	[ -n "$category" ] || category=skill

	command -v curl >/dev/null 2>&1 || return 0

	url=${TRACKSKILLS_URL:-http://127.0.0.1:8080}
	while :; do
		case $url in
		*/) url=${url%/} ;;
		*) break ;;
		esac
	done
	url="$url/api/track"

	key=${TRACKSKILLS_KEY:-${API_KEY:-}}
	# A line break in the key would add header lines.
	key=${key//$'\r'/}
	key=${key//$'\n'/}

	timeout=${TRACKSKILLS_TIMEOUT:-2}
	case $timeout in
	'' | *[!0-9.]* | *.*.* | .) timeout=2 ;;
	esac

	_ts_json_string "$name"
	body="{\"tool_name\":$_ts_out,\"status\":\"$status\""
	_ts_json_string "$category"
	body="$body,\"tool_category\":$_ts_out"
	[ -z "$duration" ] || body="$body,\"duration_ms\":$duration"
	user=${TRACKSKILLS_USER:-}
	if [ -n "$user" ]; then
		_ts_json_string "$user"
		body="$body,\"user_id\":$_ts_out"
	fi
	body="$body,\"source\":\"bash\"}"

	if [ "${TRACKSKILLS_DEBUG:-}" = 1 ]; then
		printf 'track.sh: POST %s %s\n' "$url" "$body" >&2
		_ts_send "$url" "$key" "$timeout" "$body" 2>&1 | {
			# The answer (and any curl error) goes to stderr, never stdout.
			cat >&2
			printf '\n' >&2
		}
	elif [ "${TRACKSKILLS_SYNC:-}" = 1 ]; then
		_ts_send "$url" "$key" "$timeout" "$body" >/dev/null 2>&1 </dev/null
	else
		# Fire and forget: the background job holds none of the caller's
		# file descriptors, so nothing waits for it.
		_ts_send "$url" "$key" "$timeout" "$body" >/dev/null 2>&1 </dev/null &
	fi
	return 0
}

# _ts_send URL KEY TIMEOUT BODY posts the event. The key goes to curl on
# stdin (-H @-), so it never shows in the process list.
_ts_send() {
	if [ -n "$2" ]; then
		printf 'Authorization: Bearer %s\n' "$2" |
			curl -sS --max-time "$3" -X POST -H 'Content-Type: application/json' -H @- \
				--data-binary "$4" -w ' HTTP %{http_code}' "$1"
	else
		curl -sS --max-time "$3" -X POST -H 'Content-Type: application/json' \
			--data-binary "$4" -w ' HTTP %{http_code}' "$1" </dev/null
	fi
}

_ts_main ${1+"$@"}
exit 0
