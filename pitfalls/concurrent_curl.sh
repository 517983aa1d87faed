#!/usr/bin/env bash
# Pitfall 10: the same POST three times at once, each from a curl process of its own.
# bash pitfalls/concurrent_curl.sh [URL]
url="${1:-http://127.0.0.1:8000/long_task}"
for n in 1 2 3; do
  curl -s -o /dev/null -w "request $n: %{time_total} s\n" -X POST "$url" &
done
wait
