package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keepalived-go/keepalived-go/internal/lab"
)

// TestAHInteropWithKeepalived puts keepalived-go and Debian's keepalived
// 2.2.7 in one VRRPv2 group with auth_type AH (IPsec-AH as keepalived
// implements it), each side as master, multicast and unicast: the master
// holds the VIP alone, and when it stops the other takes over; restarted
// (its sequence counter back at 0, as keepalived's after a restart), it
// takes the VIP back. Each side thus accepts the other's ICVs and
// sequence numbers in both roles.
func TestAHInteropWithKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	for _, unicast := range []bool{false, true} {
		for _, kgMaster := range []bool{true, false} {
			t.Run(fmt.Sprintf("unicast=%v/keepalived-go-master=%v", unicast, kgMaster), func(t *testing.T) {
				ahInterop(t, unicast, kgMaster)
			})
		}
	}
}

func ahPair(kg, ka *lab.Host, unicast, kgMaster bool) (inKG, inKA instance) {
	base := instance{version: 2, advertInt: "1", vip: vip4, auth: "secret", ah: true}
	inKG, inKA = base, base
	inKG.priority, inKA.priority = 100, 150
	if kgMaster {
		inKG.priority, inKA.priority = 150, 100
	}
	if unicast {
		inKG.src, inKG.unicast = kg.IPv4, []netip.Addr{ka.IPv4}
		inKA.src, inKA.unicast = ka.IPv4, []netip.Addr{kg.IPv4}
	}
	return inKG, inKA
}

func ahInterop(t *testing.T, unicast, kgMaster bool) {
	l := newLab(t, "kg", "ka", "client")
	kg, ka, client := l.Host("kg"), l.Host("ka"), l.Host("client")
	inKG, inKA := ahPair(kg, ka, unicast, kgMaster)
	master, backup := ka, kg
	startMaster := func() *lab.Proc { return startKA(t, ka, inKA) }
	if kgMaster {
		master, backup = kg, ka
		startMaster = func() *lab.Proc { return startKG(t, kg, inKG) }
		startKA(t, ka, inKA)
	} else {
		startKG(t, kg, inKG)
	}
	pMaster := startMaster()
	waitHolder(t, 10*time.Second, vip4, master, kg, ka)
	waitPing(t, 3*time.Second, client, vip4)
	// Both stay as they are: the backup accepts the master's adverts.
	time.Sleep(2 * time.Second)
	waitHolder(t, time.Second, vip4, master, kg, ka)

	pMaster.Signal(syscall.SIGTERM)
	if err := pMaster.Wait(8 * time.Second); err != nil {
		t.Fatalf("master did not stop: %v", err)
	}
	waitHolder(t, 5*time.Second, vip4, backup, kg, ka)
	waitPing(t, 3*time.Second, client, vip4)

	// Restarted, the master's counter starts from 0: it accepts the other
	// side's adverts, preempts, and the other side accepts its own.
	startMaster()
	waitHolder(t, 10*time.Second, vip4, master, kg, ka)
	time.Sleep(2 * time.Second)
	waitHolder(t, time.Second, vip4, master, kg, ka)
	waitPing(t, 3*time.Second, client, vip4)
}

// TestAHCrashedMasterFailsOverToKeepalived: keepalived-go, AH master,
// dies with its machine (SIGKILL, link down): keepalived takes the VIP
// when its down timer runs out.
func TestAHCrashedMasterFailsOverToKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	l := newLab(t, "kg", "ka", "client")
	kg, ka, client := l.Host("kg"), l.Host("ka"), l.Host("client")
	inKG, inKA := ahPair(kg, ka, false, true)
	startKA(t, ka, inKA)
	p := startKG(t, kg, inKG)
	waitHolder(t, 10*time.Second, vip4, kg, kg, ka)
	crash(t, kg, p)
	if err := lab.WaitUntil("keepalived holds the VIP", 6*time.Second, func() bool { return ka.HasAddress(vip4) }); err != nil {
		t.Fatal(err)
	}
	waitPing(t, 3*time.Second, client, vip4)
}

// TestAHWrongPasswordMakesBothMasters: with different auth_pass, each side
// drops the other's adverts (a bad ICV), so both become master, and both
// log it in keepalived's words.
func TestAHWrongPasswordMakesBothMasters(t *testing.T) {
	needRoot(t, "keepalived")
	l := newLab(t, "kg", "ka")
	kg, ka := l.Host("kg"), l.Host("ka")
	inKG, inKA := ahPair(kg, ka, false, true)
	inKA.auth = "other"
	pKA := startKA(t, ka, inKA)
	pKG := startKG(t, kg, inKG)
	const line = "IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"
	if err := lab.WaitUntil("both hold the VIP and both log the bad ICVs", 15*time.Second, func() bool {
		return kg.HasAddress(vip4) && ka.HasAddress(vip4) && strings.Contains(pKA.Log(), line) && strings.Contains(pKG.Log(), line)
	}); err != nil {
		t.Fatalf("%v: keepalived-go holds %v, keepalived holds %v", err, kg.HasAddress(vip4), ka.HasAddress(vip4))
	}
	time.Sleep(3 * time.Second)
	if !kg.HasAddress(vip4) || !ka.HasAddress(vip4) {
		t.Fatalf("not both masters after 3 s more: keepalived-go %v, keepalived %v", kg.HasAddress(vip4), ka.HasAddress(vip4))
	}
}

// TestAHDataDumpMatchesKeepalived: keepalived.data describes AH instances
// as keepalived 2.2.7's does ("Authentication type = IPSEC_AH", no
// password): each instance block of ours is keepalived's with lines left
// out, and keepalived's authentication line is in ours.
func TestAHDataDumpMatchesKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	l := newLab(t, "r1")
	r1 := l.Host("r1")
	conf := ""
	for i, vrid := range []int{54, 55} {
		conf += fmt.Sprintf(`vrrp_instance VI_AH%d {
    state BACKUP
    interface eth0
    virtual_router_id %d
    priority 120
    advert_int 1
    authentication {
        auth_type AH
        auth_pass ahsecret
    }
    virtual_ipaddress {
        198.51.100.%d/24
    }
}
`, i, vrid, 210+i)
	}
	ka, err := r1.StartKeepalived(conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ka.Stop(); dumpLogOnFailure(t, r1, ka) })
	time.Sleep(time.Second) // SIGUSR1 kills a daemon that has not set its handlers yet
	theirs := dataDump(t, r1, ka)
	ka.Stop()
	kg := startKGConf(t, r1, conf)
	time.Sleep(time.Second)
	ours := dataDump(t, r1, kg)
	const authLine = "   Authentication type = IPSEC_AH"
	// Ours is on by default (README: vrrp_higher_prio_send_advert).
	const higherPrio = "   Send advert after receive higher priority advert = "
	theirs = bytes.ReplaceAll(theirs, []byte(higherPrio+"false"), []byte(higherPrio+"true"))
	ob, tb := instanceBlocks(t, ours), instanceBlocks(t, theirs)
	for _, name := range []string{"VI_AH0", "VI_AH1"} {
		if !slices.Contains(tb[name], authLine) || !slices.Contains(ob[name], authLine) {
			t.Errorf("%s: %q missing:\n ours:\n%s\n theirs:\n%s", name, authLine, strings.Join(ob[name], "\n"), strings.Join(tb[name], "\n"))
		}
		if missing := notSubsequence(ob[name], tb[name]); missing != "" {
			t.Errorf("%s: our line %q is not keepalived's (or out of its order)\n ours:\n%s\n theirs:\n%s",
				name, missing, strings.Join(ob[name], "\n"), strings.Join(tb[name], "\n"))
		}
	}
	if bytes.Contains(ours, []byte("ahsecret")) {
		t.Errorf("our dump shows the AH key:\n%s", ours)
	}
}

// TestTsharkDecodesOurAHAdverts: tshark dissects what an AH instance of
// ours sends as keepalived's: AH (next header VRRP, 24 bytes, the source
// as SPI, rising sequence numbers), then a VRRPv2 advert with Auth Type 2
// and a good checksum, from TTL 255 and TOS 0xc0.
func TestTsharkDecodesOurAHAdverts(t *testing.T) {
	needRoot(t, "tshark")
	l := newLab(t, "kg", "watcher")
	kg, watcher := l.Host("kg"), l.Host("watcher")
	in := instance{version: 2, advertInt: "1", vip: vip4, priority: 150, auth: "secret", ah: true}
	startKG(t, kg, in)
	waitHolder(t, 8*time.Second, vip4, kg, kg)
	pcap := l.Dir + "/ah.pcap"
	if out, err := watcher.Command("tshark", "-i", "eth0", "-f", "ip proto 51", "-a", "duration:4", "-c", "2", "-w", pcap).CombinedOutput(); err != nil {
		t.Fatalf("tshark capture: %v\n%s", err, out)
	}
	out, err := watcher.Command("tshark", "-r", pcap, "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	text := string(out)
	spi := fmt.Sprintf("AH SPI: 0x%x", kg.IPv4.As4())
	for _, want := range []string{"Authentication Header", "Next header: VRRP (112)", "Length: 4 (24 bytes)", spi,
		"Virtual Router Redundancy Protocol", "Version 2, Packet type 1 (Advertisement)", "Auth Type: IP Authentication Header",
		"[Checksum Status: Good]", "Time to Live: 255", "Differentiated Services Field: 0xc0", "198.51.100.200"} {
		if !strings.Contains(text, want) {
			t.Errorf("tshark's dissection lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "AH Sequence: ") != 2 {
		t.Errorf("want two AH sequence numbers:\n%s", text)
	}
}

// TestAHJSONDumpMatchesKeepalived: keepalived.json shows an AH instance as
// keepalived 2.2.7 does: auth_type 2 and the key as it keeps it (8 bytes).
func TestAHJSONDumpMatchesKeepalived(t *testing.T) {
	needRoot(t, "keepalived")
	l := newLab(t, "r1", "r2")
	r1, r2 := l.Host("r1"), l.Host("r2")
	in := instance{version: 2, priority: 150, advertInt: "1", vip: vip4, auth: "ahsecretlonger", ah: true}
	kg := startKG(t, r1, in)
	// keepalived runs its own instance (VRID 52, another VIP), so that
	// both are masters.
	in.vip = vip4.Next()
	ka, err := r2.StartKeepalived(strings.Replace(in.conf(), "virtual_router_id 51", "virtual_router_id 52", 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ka.Stop(); dumpLogOnFailure(t, r2, ka) })
	waitHolder(t, 8*time.Second, vip4, r1, r1, r2)
	waitHolder(t, 8*time.Second, in.vip, r2, r1, r2)
	auth := func(dump []byte) string {
		var insts []struct {
			Data struct {
				AuthType int    `json:"auth_type"`
				AuthData string `json:"auth_data"`
			} `json:"data"`
		}
		if err := json.Unmarshal(dump, &insts); err != nil || len(insts) != 1 {
			t.Fatalf("want an array of one instance (%v): %s", err, dump)
		}
		return fmt.Sprintf("auth_type %d auth_data %q", insts[0].Data.AuthType, insts[0].Data.AuthData)
	}
	ours, theirs := auth(signalDump(t, r1, kg)), auth(signalDump(t, r2, ka))
	if ours != theirs || theirs != `auth_type 2 auth_data "ahsecret"` {
		t.Errorf("ours: %s; keepalived's: %s", ours, theirs)
	}
}
