#!/bin/sh
# Stands in for fail2ban-client in tests whose fail2ban is only a state file in fail2ban's
# format (scripts/fail2ban-state-db.mjs) and not a running server: readdb asks whether the
# shared jail runs before it appends (issue 11, point 3), and these tests are about
# something else. Configured by writeHostConfig as `[sh, this file, JAIL]`: `status`
# answers as fail2ban 1.0.2 does with JAIL as the only running jail, `set JAIL banip …` with
# the count; every other command fails, as it would with no fail2ban. Tests about fail2ban itself start a real one.
jail=$1
shift
if [ "$*" = status ]; then
  printf 'Status\n|- Number of jail:\t1\n`- Jail list:\t%s\n' "$jail"
  exit 0
fi
# readdb hands new bans to the shared jail besides their log line; the state file is what
# these tests look at, so the hand-over is only answered (with the count, as fail2ban does).
if [ "$1 $2 $3" = "set $jail banip" ]; then
  shift 3
  echo $#
  exit 0
fi
echo "fail2ban-client stand-in: \"$*\" needs a real fail2ban (test/setup/fail2ban-server.ts)" >&2
exit 255
