set -e
ip netns add codechelper-a
ip netns add codechelper-b
ip link add cha0 netns codechelper-a type veth peer name chb0 netns codechelper-b
for ns in a b; do
  ip -n codechelper-$ns link set lo up
  ip -n codechelper-$ns link set ch${ns}0 up
done
ip -n codechelper-a addr add 192.0.2.1/24 dev cha0
ip -n codechelper-b addr add 192.0.2.2/24 dev chb0
ip -n codechelper-a addr add 2001:db8::1/64 dev cha0 nodad
ip -n codechelper-b addr add 2001:db8::2/64 dev chb0 nodad
