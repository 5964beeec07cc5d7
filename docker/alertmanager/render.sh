#!/bin/sh
# Writes Alertmanager's real config from the template alertmanager.yml (beside this file), since
# Alertmanager reads no environment variables. Run by the alertmanager service of
# docker/compose.yaml at every start, before Alertmanager itself:
#
#   sh render.sh <template> <folder>
#
# writes <folder>/alertmanager.yml and the two secrets the config reads from files,
# <folder>/smtp-password (DJANGO_EMAIL_HOST_PASSWORD) and <folder>/webhook-url
# (ALERTMANAGER_WEBHOOK_URL), so that neither appears in the config Alertmanager shows on /status.
# POSIX sh and awk only: the image is busybox. tests/test_docker_config.py runs it.
set -eu

template=$1
folder=$2
umask 077  # the secrets: readable by the container's user only

if [ -n "${ALERTMANAGER_EMAIL_TO:-}" ]; then
    for name in DJANGO_EMAIL_HOST DJANGO_EMAIL_PORT DJANGO_DEFAULT_FROM_EMAIL; do
        eval "given=\${$name:-}"
        if [ -z "$given" ]; then
            echo "render.sh: ALERTMANAGER_EMAIL_TO is set but $name is empty (docker/.env)" >&2
            exit 1
        fi
    done
fi

printf '%s' "${DJANGO_EMAIL_HOST_PASSWORD:-}" > "$folder/smtp-password"
printf '%s' "${ALERTMANAGER_WEBHOOK_URL:-}" > "$folder/webhook-url"

# Comment lines are copied as they are. A line ending in `# if:<feature>` is kept (without that
# marker) only when the feature is on. Each ${NAME} becomes the variable's value, escaped for a
# double-quoted YAML string; DJANGO_EMAIL_USE_TLS becomes true or false, read like settings.py's
# env_bool does.
awk '
function fail(message) {
    print "render.sh: " message | "cat 1>&2"
    failed = 1
    exit 1
}
function on(feature) {
    if (feature == "email") return ENVIRON["ALERTMANAGER_EMAIL_TO"] != ""
    if (feature == "smtp-auth") return ENVIRON["ALERTMANAGER_EMAIL_TO"] != "" && ENVIRON["DJANGO_EMAIL_HOST_USER"] != ""
    if (feature == "webhook") return ENVIRON["ALERTMANAGER_WEBHOOK_URL"] != ""
    fail("unknown feature " feature " on line " NR)
}
function quoted(text,   i, c, out) {
    out = ""
    for (i = 1; i <= length(text); i++) {
        c = substr(text, i, 1)
        if (c == "\\" || c == "\"") out = out "\\"
        out = out c
    }
    return out
}
function value(name,   flag) {
    if (name == "DJANGO_EMAIL_USE_TLS") {
        flag = tolower(ENVIRON[name])
        return (flag == "1" || flag == "true" || flag == "yes" || flag == "on") ? "true" : "false"
    }
    return quoted(ENVIRON[name])
}
/^[ \t]*#/ { print; next }
{
    line = $0
    if (match(line, /[ \t]*# if:[a-z-]+$/)) {
        feature = substr(line, RSTART, RLENGTH)
        sub(/^[ \t]*# if:/, "", feature)
        if (!on(feature)) next
        line = substr(line, 1, RSTART - 1)
    }
    out = ""
    while (match(line, /\$\{[A-Z_][A-Z0-9_]*\}/)) {
        out = out substr(line, 1, RSTART - 1) value(substr(line, RSTART + 2, RLENGTH - 3))
        line = substr(line, RSTART + RLENGTH)
    }
    print out line
}
END { if (failed) exit 1 }
' "$template" > "$folder/alertmanager.yml.new"
mv "$folder/alertmanager.yml.new" "$folder/alertmanager.yml"

[ -n "${ALERTMANAGER_EMAIL_TO:-}" ] && echo "render.sh: email to ${ALERTMANAGER_EMAIL_TO} via ${DJANGO_EMAIL_HOST:-?}"
[ -n "${ALERTMANAGER_WEBHOOK_URL:-}" ] && echo "render.sh: webhook on"
if [ -z "${ALERTMANAGER_EMAIL_TO:-}" ] && [ -z "${ALERTMANAGER_WEBHOOK_URL:-}" ]; then
    echo "render.sh: no receiver set (ALERTMANAGER_EMAIL_TO, ALERTMANAGER_WEBHOOK_URL): alerts are not sent" >&2
fi
exit 0
