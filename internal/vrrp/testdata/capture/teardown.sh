for f in /tmp/codechelper/*.pid; do [ -f "$f" ] && kill $(cat $f) 2>/dev/null; done
ip netns del codechelper-a 2>/dev/null
ip netns del codechelper-b 2>/dev/null
true
