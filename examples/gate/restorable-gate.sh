#!/bin/sh
# restorable-gate.sh: ask Restorable's deploy gate whether a release may go
# to an environment, with nothing but POSIX sh, curl and jq (any stock
# image: alpine with `apk add curl jq`, debian with `apt-get install curl jq`).
#
#   RESTORABLE_URL=https://restorable.internal:10060 restorable-gate.sh ENV [RELEASE] [DATASET]
#
# Exit status: 0 the gate is open, 1 it is closed (the reasons are printed),
# 2 no answer (the exporter or Alertmanager cannot be reached, answers an
# HTTP error or something that is not a gate answer, or a setting is
# wrong). A pipeline must treat 1 and 2 alike: deploy only on 0.
#
# Environment:
#   RESTORABLE_URL    the exporter's base URL (required).
#   ALERTMANAGER_URL  when set, also close the gate while this Alertmanager
#                     has an active, unsilenced alert labelled gate="deploy"
#                     for ENV (or without an env label), as
#                     `analyze gate --alertmanager` does. Set but empty is
#                     an error, never a silent skip.
#   CURL_CONFIG_FILE  a curl config file with credentials or a CA, for
#                     example `user = "ci:secret"` and `cacert = "/ca.pem"`
#                     (a GitLab "File" variable); kept off the command line
#                     so that it never shows in a job log or in ps.
#   GATE_TIMEOUT      seconds to wait for each answer (default 30).
#   GATE_OUTPUT       where the exporter's answer is kept (default gate.json).
set -eu

fail() {
	echo "restorable gate: $*" >&2
	exit 2
}

[ $# -ge 1 ] && [ -n "$1" ] || fail "usage: $0 ENV [RELEASE] [DATASET]"
env=$1
release=${2:-}
dataset=${3:-}
url=${RESTORABLE_URL:-}
[ -n "$url" ] || fail "RESTORABLE_URL is unset or empty: set it to the exporter's base URL"
timeout=${GATE_TIMEOUT:-30}
output=${GATE_OUTPUT:-gate.json}
command -v curl >/dev/null 2>&1 || fail "curl is not installed"
command -v jq >/dev/null 2>&1 || fail "jq is not installed"

# ask URL OUTPUT [curl options...]: GET URL into OUTPUT, print the HTTP
# status; exit 2 when nothing answered.
ask() {
	ask_url=$1
	ask_out=$2
	shift 2
	if [ -n "${CURL_CONFIG_FILE:-}" ]; then
		set -- --config "$CURL_CONFIG_FILE" "$@"
	fi
	curl --silent --show-error --max-time "$timeout" --get --output "$ask_out" \
		--write-out '%{http_code}' "$@" "$ask_url" || fail "cannot reach $ask_url (curl exit $?)"
}

set -- --data-urlencode "env=$env"
[ -z "$release" ] || set -- "$@" --data-urlencode "release=$release"
[ -z "$dataset" ] || set -- "$@" --data-urlencode "dataset=$dataset"
status=$(ask "${url%/}/api/v1/gate" "$output" "$@") || exit 2
[ "$status" = 200 ] || fail "the exporter answered HTTP $status: $(head -c 500 "$output" 2>/dev/null)"
allow=$(jq -r 'if (.allow | type) == "boolean" then .allow else error("no allow field") end' "$output" 2>/dev/null) ||
	fail "the exporter's answer is not a gate answer: $(head -c 500 "$output")"
jq -r '.reasons[]? | "closed by \(.check) (\(.severity)) \(.subject // ""): \(.detail)"' "$output"

if [ -n "${ALERTMANAGER_URL+set}" ]; then
	[ -n "$ALERTMANAGER_URL" ] || fail "ALERTMANAGER_URL is set but empty: unset it, or set it to Alertmanager's base URL"
	alerts=$(mktemp)
	trap 'rm -f "$alerts"' EXIT
	status=$(ask "${ALERTMANAGER_URL%/}/api/v2/alerts" "$alerts" \
		--data-urlencode active=true --data-urlencode silenced=false --data-urlencode inhibited=true \
		--data-urlencode unprocessed=true --data-urlencode 'filter=gate="deploy"') || exit 2
	[ "$status" = 200 ] || fail "Alertmanager answered HTTP $status: $(head -c 500 "$alerts")"
	blocking=$(jq -r --arg env "$env" --arg dataset "$dataset" '
		if type != "array" then error("not a list of alerts") else . end
		| .[]
		| select(.labels.env == null or .labels.env == $env)
		| select((.status.silencedBy // []) | length == 0)
		| select($dataset == "" or (.labels.dataset // "") == "" or .labels.dataset == $dataset)
		| "closed by alert:\(.labels.alertname) (\(.labels.severity // "critical")): \(.annotations.summary // ("active since " + .startsAt))"
	' "$alerts" 2>/dev/null) || fail "Alertmanager's answer is not a list of alerts: $(head -c 500 "$alerts")"
	if [ -n "$blocking" ]; then
		echo "$blocking"
		allow=false
	fi
fi

if [ "$allow" = true ]; then
	echo "restorable gate: open for $env${release:+ ($release)}"
	exit 0
fi
echo "restorable gate: closed for $env${release:+ ($release)}" >&2
exit 1
