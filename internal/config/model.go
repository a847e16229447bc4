package config

import "strings"

// The typed model of keepalived.conf: one struct per block, one field per
// keyword (see parse.go for how tags bind keywords to fields). Synonyms and
// deprecated spellings share a field. Defaults are applied by complete().

// OptWords is a keyword's words when it may have none (`nftables [TABLE]`).
type OptWords []string

func (w *OptWords) parseKeyword(p *parser, l Line) bool {
	*w = tokenTexts(l.Tokens[1:])
	if *w == nil {
		*w = OptWords{}
	}
	return true
}

// True reads the words as keepalived's optional boolean argument: none,
// "true", "on" or "yes" mean true.
func (w OptWords) True() bool {
	if len(w) == 0 {
		return true
	}
	switch strings.ToLower(w[0]) {
	case "true", "on", "yes":
		return true
	}
	return false
}

// Config is a whole configuration.
type Config struct {
	Block
	GlobalDefs          *GlobalDefs           `kw:"global_defs" json:"global_defs,omitempty"`
	LinkbeatUsePolling  bool                  `kw:"linkbeat_use_polling" flag:"1" json:"linkbeat_use_polling,omitempty"`
	NetNamespace        string                `kw:"net_namespace" noarg:"net_namespace name missing - ignoring" json:"net_namespace,omitempty"`
	NetNamespaceIPVS    OptWords              `kw:"net_namespace_ipvs" json:"net_namespace_ipvs,omitempty"`
	NamespaceWithIPsets bool                  `kw:"namespace_with_ipsets" flag:"1" json:"namespace_with_ipsets,omitempty"`
	UsePidDir           bool                  `kw:"use_pid_dir" flag:"1" json:"use_pid_dir,omitempty"`
	Instance            string                `kw:"instance" noarg:"instance name missing - ignoring" json:"instance,omitempty"`
	ChildWaitTime       int                   `kw:"child_wait_time" range:"0,2147483647" json:"child_wait_time,omitempty"`
	TrackGroups         []*TrackGroup         `kw:"track_group" json:"track_group,omitempty"`
	StaticIPAddresses   []IPAddress           `kw:"static_ipaddress" json:"static_ipaddress,omitempty"`
	StaticRoutes        []Route               `kw:"static_routes" json:"static_routes,omitempty"`
	StaticRules         []Rule                `kw:"static_rules" json:"static_rules,omitempty"`
	SyncGroups          []*SyncGroup          `kw:"vrrp_sync_group" json:"vrrp_sync_group,omitempty"`
	GarpGroups          []*GarpGroup          `kw:"garp_group" json:"garp_group,omitempty"`
	LinkbeatInterfaces  []Words               `kw:"linkbeat_interfaces" json:"linkbeat_interfaces,omitempty"`
	Instances           []*VRRPInstance       `kw:"vrrp_instance" json:"vrrp_instance,omitempty"`
	Scripts             []*VRRPScript         `kw:"vrrp_script" json:"vrrp_script,omitempty"`
	TrackProcesses      []*TrackProcess       `kw:"vrrp_track_process" json:"vrrp_track_process,omitempty"`
	UpDownDelays        []Words               `kw:"interface_up_down_delays" json:"interface_up_down_delays,omitempty"`
	TrackFiles          []*TrackFile          `kw:"track_file,vrrp_track_file" json:"track_file,omitempty"`
	SSL                 *SSLBlock             `kw:"SSL" json:"SSL,omitempty"`
	VirtualServerGroups []*VirtualServerGroup `kw:"virtual_server_group" json:"virtual_server_group,omitempty"`
	VirtualServers      []*VirtualServer      `kw:"virtual_server" json:"virtual_server,omitempty"`
	BFDInstances        []*BFDInstance        `kw:"bfd_instance" json:"bfd_instance,omitempty"`

	stopped map[string]bool // areas whose reading stopped at a missing parameter
}

// GlobalDefs is global_defs.
type GlobalDefs struct {
	Block
	ProcessNames                 bool     `kw:"process_names" flag:"1" json:"process_names,omitempty"`
	ProcessName                  string   `kw:"process_name" json:"process_name,omitempty"`
	VRRPProcessName              string   `kw:"vrrp_process_name" json:"vrrp_process_name,omitempty"`
	CheckerProcessName           string   `kw:"checker_process_name,lvs_process_name" json:"checker_process_name,omitempty"`
	BFDProcessName               string   `kw:"bfd_process_name" json:"bfd_process_name,omitempty"`
	UseSymlinkPaths              bool     `kw:"use_symlink_paths" json:"use_symlink_paths,omitempty"`
	SetSupplementaryGroups       bool     `kw:"set_supplementary_groups" json:"set_supplementary_groups,omitempty"`
	RouterID                     string   `kw:"router_id" noarg:"routerid name missing - ignoring" json:"router_id,omitempty"`
	NotificationEmailFrom        string   `kw:"notification_email_from" noarg:"emailfrom missing - ignoring" json:"notification_email_from,omitempty"`
	SMTPServer                   OptWords `kw:"smtp_server" json:"smtp_server,omitempty"`
	SMTPHeloName                 string   `kw:"smtp_helo_name" noarg:"-" json:"smtp_helo_name,omitempty"`
	SMTPConnectTimeout           int      `kw:"smtp_connect_timeout" json:"smtp_connect_timeout,omitempty"`
	NotificationEmail            []Words  `kw:"notification_email" json:"notification_email,omitempty"`
	SMTPAlert                    bool     `kw:"smtp_alert" json:"smtp_alert,omitempty"`
	StartupScript                Script   `kw:"startup_script" json:"startup_script,omitzero"`
	StartupScriptTimeout         int      `kw:"startup_script_timeout" noarg:"startup_script_timeout requires value" json:"startup_script_timeout,omitempty"`
	ShutdownScript               Script   `kw:"shutdown_script" json:"shutdown_script,omitzero"`
	ShutdownScriptTimeout        int      `kw:"shutdown_script_timeout" noarg:"shutdown_script_timeout requires value" json:"shutdown_script_timeout,omitempty"`
	MaxAutoPriority              OptWords `kw:"max_auto_priority" json:"max_auto_priority,omitempty"`
	MinAutoPriorityDelay         int      `kw:"min_auto_priority_delay" noarg:"min_auto_priority_delay requires delay time" json:"min_auto_priority_delay,omitempty"`
	SMTPAlertVRRP                bool     `kw:"smtp_alert_vrrp" json:"smtp_alert_vrrp,omitempty"`
	SMTPAlertChecker             bool     `kw:"smtp_alert_checker" json:"smtp_alert_checker,omitempty"`
	CheckerLogAllFailures        bool     `kw:"checker_log_all_failures" json:"checker_log_all_failures,omitempty"`
	DynamicInterfaces            OptWords `kw:"dynamic_interfaces" json:"dynamic_interfaces,omitempty"`
	NoEmailFaults                bool     `kw:"no_email_faults" flag:"1" json:"no_email_faults,omitempty"`
	DefaultInterface             string   `kw:"default_interface" noarg:"default_interface requires interface name" json:"default_interface,omitempty"`
	DisableLocalIGMP             bool     `kw:"disable_local_igmp" flag:"1" json:"disable_local_igmp,omitempty"`
	V3ChecksumAsV2               bool     `kw:"v3_checksum_as_v2" json:"v3_checksum_as_v2,omitempty"`
	LVSTimeouts                  []string `kw:"lvs_timeouts" json:"lvs_timeouts,omitempty"`
	LVSFlush                     bool     `kw:"lvs_flush" flag:"1" json:"lvs_flush,omitempty"`
	LVSFlushOnStop               OptWords `kw:"lvs_flush_on_stop,lvs_flush_onstop" json:"lvs_flush_on_stop,omitempty"`
	LVSSyncDaemon                []string `kw:"lvs_sync_daemon" noarg:"lvs_sync_daemon requires interface" json:"lvs_sync_daemon,omitempty"`
	VRRPMcastGroup4              string   `kw:"vrrp_mcast_group4" json:"vrrp_mcast_group4,omitempty"`
	VRRPMcastGroup6              string   `kw:"vrrp_mcast_group6" json:"vrrp_mcast_group6,omitempty"`
	VRRPGarpMasterDelay          int      `kw:"vrrp_garp_master_delay" json:"vrrp_garp_master_delay,omitempty"`
	VRRPGarpMasterRepeat         int      `kw:"vrrp_garp_master_repeat" json:"vrrp_garp_master_repeat,omitempty"`
	VRRPGarpMasterRefresh        int      `kw:"vrrp_garp_master_refresh" json:"vrrp_garp_master_refresh,omitempty"`
	VRRPGarpMasterRefreshRepeat  int      `kw:"vrrp_garp_master_refresh_repeat" json:"vrrp_garp_master_refresh_repeat,omitempty"`
	VRRPGarpLowerPrioDelay       int      `kw:"vrrp_garp_lower_prio_delay" json:"vrrp_garp_lower_prio_delay,omitempty"`
	VRRPGarpLowerPrioRepeat      int      `kw:"vrrp_garp_lower_prio_repeat" json:"vrrp_garp_lower_prio_repeat,omitempty"`
	VRRPDownTimerAdverts         int      `kw:"vrrp_down_timer_adverts" json:"vrrp_down_timer_adverts,omitempty"`
	VRRPGarpInterval             PosTimer `kw:"vrrp_garp_interval" json:"vrrp_garp_interval,omitempty"`
	VRRPGnaInterval              PosTimer `kw:"vrrp_gna_interval" json:"vrrp_gna_interval,omitempty"`
	VRRPMinGarp                  bool     `kw:"vrrp_min_garp" json:"vrrp_min_garp,omitempty"`
	VRRPGarpExtraIf              OptWords `kw:"vrrp_garp_extra_if,vrrp_vmac_garp_intvl" json:"vrrp_garp_extra_if,omitempty"`
	VRRPLowerPrioNoAdvert        bool     `kw:"vrrp_lower_prio_no_advert" json:"vrrp_lower_prio_no_advert,omitempty"`
	VRRPHigherPrioSendAdvert     bool     `kw:"vrrp_higher_prio_send_advert" json:"vrrp_higher_prio_send_advert,omitempty"`
	VRRPVersion                  int      `kw:"vrrp_version" range:"2,3" json:"vrrp_version,omitempty"`
	VRRPIptables                 OptWords `kw:"vrrp_iptables" json:"vrrp_iptables,omitempty"`
	VRRPIpsets                   OptWords `kw:"vrrp_ipsets" json:"vrrp_ipsets,omitempty"`
	Nftables                     OptWords `kw:"nftables" json:"nftables,omitempty"`
	NftablesPriority             int      `kw:"nftables_priority" json:"nftables_priority,omitempty"`
	NftablesIfindex              bool     `kw:"nftables_ifindex" flag:"1" json:"nftables_ifindex,omitempty"`
	VRRPCheckUnicastSrc          bool     `kw:"vrrp_check_unicast_src" flag:"1" json:"vrrp_check_unicast_src,omitempty"`
	VRRPSkipCheckAdvAddr         bool     `kw:"vrrp_skip_check_adv_addr" flag:"1" json:"vrrp_skip_check_adv_addr,omitempty"`
	VRRPStrict                   bool     `kw:"vrrp_strict" flag:"1" json:"vrrp_strict,omitempty"`
	VRRPPriority                 Nice     `kw:"vrrp_priority" json:"vrrp_priority,omitempty"`
	VRRPNoSwap                   bool     `kw:"vrrp_no_swap" flag:"1" json:"vrrp_no_swap,omitempty"`
	VRRPRtPriority               int      `kw:"vrrp_rt_priority" noarg:"No vrrp process real-time priority specified" json:"vrrp_rt_priority,omitempty"`
	VRRPCPUAffinity              []string `kw:"vrrp_cpu_affinity" noarg:"No vrrp cpu_id set specified" json:"vrrp_cpu_affinity,omitempty"`
	VRRPRlimitRttime             int      `kw:"vrrp_rlimit_rttime,vrrp_rlimit_rtime" json:"vrrp_rlimit_rttime,omitempty"`
	NftablesIPVS                 OptWords `kw:"nftables_ipvs" json:"nftables_ipvs,omitempty"`
	NftablesIPVSPriority         int      `kw:"nftables_ipvs_priority" json:"nftables_ipvs_priority,omitempty"`
	NftablesIPVSStartFwmark      int      `kw:"nftables_ipvs_start_fwmark" json:"nftables_ipvs_start_fwmark,omitempty"`
	NftablesCounters             bool     `kw:"nftables_counters" flag:"1" json:"nftables_counters,omitempty"`
	NotifyFIFO                   Script   `kw:"notify_fifo" json:"notify_fifo,omitzero"`
	NotifyFIFOScript             Script   `kw:"notify_fifo_script" json:"notify_fifo_script,omitzero"`
	VRRPNotifyFIFO               Script   `kw:"vrrp_notify_fifo" json:"vrrp_notify_fifo,omitzero"`
	VRRPNotifyFIFOScript         Script   `kw:"vrrp_notify_fifo_script" json:"vrrp_notify_fifo_script,omitzero"`
	VRRPNotifyPriorityChanges    bool     `kw:"vrrp_notify_priority_changes" json:"vrrp_notify_priority_changes,omitempty"`
	FIFOWriteVRRPStatesOnReload  bool     `kw:"fifo_write_vrrp_states_on_reload" flag:"1" json:"fifo_write_vrrp_states_on_reload,omitempty"`
	LVSNotifyFIFO                Script   `kw:"lvs_notify_fifo" json:"lvs_notify_fifo,omitzero"`
	LVSNotifyFIFOScript          Script   `kw:"lvs_notify_fifo_script" json:"lvs_notify_fifo_script,omitzero"`
	CheckerPriority              Nice     `kw:"checker_priority" json:"checker_priority,omitempty"`
	CheckerNoSwap                bool     `kw:"checker_no_swap" flag:"1" json:"checker_no_swap,omitempty"`
	CheckerRtPriority            int      `kw:"checker_rt_priority" noarg:"No checker process real-time priority specified" json:"checker_rt_priority,omitempty"`
	CheckerCPUAffinity           []string `kw:"checker_cpu_affinity" noarg:"No checker cpu_id set specified" json:"checker_cpu_affinity,omitempty"`
	CheckerRlimitRttime          int      `kw:"checker_rlimit_rttime,checker_rlimit_rtime" json:"checker_rlimit_rttime,omitempty"`
	BFDPriority                  Nice     `kw:"bfd_priority" json:"bfd_priority,omitempty"`
	BFDNoSwap                    bool     `kw:"bfd_no_swap" flag:"1" json:"bfd_no_swap,omitempty"`
	BFDRtPriority                int      `kw:"bfd_rt_priority" noarg:"No bfd process real-time priority specified" json:"bfd_rt_priority,omitempty"`
	BFDCPUAffinity               []string `kw:"bfd_cpu_affinity" noarg:"No bfd cpu_id set specified" json:"bfd_cpu_affinity,omitempty"`
	BFDRlimitRttime              int      `kw:"bfd_rlimit_rttime,bfd_rlimit_rtime" json:"bfd_rlimit_rttime,omitempty"`
	SNMPSocket                   string   `kw:"snmp_socket" noarg:"SNMP error : snmp socket name missing" json:"snmp_socket,omitempty"`
	EnableTraps                  bool     `kw:"enable_traps" flag:"1" json:"enable_traps,omitempty"`
	EnableSNMPVRRP               bool     `kw:"enable_snmp_vrrp,enable_snmp_keepalived" flag:"1" json:"enable_snmp_vrrp,omitempty"`
	EnableSNMPRFC                bool     `kw:"enable_snmp_rfc" flag:"1" json:"enable_snmp_rfc,omitempty"`
	EnableSNMPRFCv2              bool     `kw:"enable_snmp_rfcv2" flag:"1" json:"enable_snmp_rfcv2,omitempty"`
	EnableSNMPRFCv3              bool     `kw:"enable_snmp_rfcv3" flag:"1" json:"enable_snmp_rfcv3,omitempty"`
	EnableSNMPChecker            bool     `kw:"enable_snmp_checker" flag:"1" json:"enable_snmp_checker,omitempty"`
	SNMPVSStatsUpdateInterval    Timer    `kw:"snmp_vs_stats_update_interval" json:"snmp_vs_stats_update_interval,omitempty"`
	SNMPRSStatsUpdateInterval    Timer    `kw:"snmp_rs_stats_update_interval" json:"snmp_rs_stats_update_interval,omitempty"`
	EnableDBus                   bool     `kw:"enable_dbus" flag:"1" json:"enable_dbus,omitempty"`
	DBusServiceName              string   `kw:"dbus_service_name" noarg:"dbus_service_name missing - ignoring" json:"dbus_service_name,omitempty"`
	DBusNoInterfaceName          bool     `kw:"dbus_no_interface_name" json:"dbus_no_interface_name,omitempty"`
	ScriptUser                   []string `kw:"script_user" noarg:"No script username specified" json:"script_user,omitempty"`
	EnableScriptSecurity         bool     `kw:"enable_script_security" flag:"1" json:"enable_script_security,omitempty"`
	VRRPNetlinkCmdRcvBufs        int      `kw:"vrrp_netlink_cmd_rcv_bufs" noarg:"vrrp_netlink_cmd_rcv_bufs size missing" json:"vrrp_netlink_cmd_rcv_bufs,omitempty"`
	VRRPNetlinkCmdRcvBufsForce   bool     `kw:"vrrp_netlink_cmd_rcv_bufs_force" json:"vrrp_netlink_cmd_rcv_bufs_force,omitempty"`
	VRRPNetlinkMonitorRcvBufs    int      `kw:"vrrp_netlink_monitor_rcv_bufs" noarg:"vrrp_netlink_monitor_rcv_bufs size missing" json:"vrrp_netlink_monitor_rcv_bufs,omitempty"`
	VRRPNetlinkMonitorRcvForce   bool     `kw:"vrrp_netlink_monitor_rcv_bufs_force" json:"vrrp_netlink_monitor_rcv_bufs_force,omitempty"`
	ProcessMonitorRcvBufs        int      `kw:"process_monitor_rcv_bufs" noarg:"process_monitor_rcv_bufs size missing" json:"process_monitor_rcv_bufs,omitempty"`
	ProcessMonitorRcvBufsForce   bool     `kw:"process_monitor_rcv_bufs_force" json:"process_monitor_rcv_bufs_force,omitempty"`
	LVSNetlinkCmdRcvBufs         int      `kw:"lvs_netlink_cmd_rcv_bufs" noarg:"lvs_netlink_cmd_rcv_bufs size missing" json:"lvs_netlink_cmd_rcv_bufs,omitempty"`
	LVSNetlinkCmdRcvBufsForce    bool     `kw:"lvs_netlink_cmd_rcv_bufs_force" json:"lvs_netlink_cmd_rcv_bufs_force,omitempty"`
	LVSNetlinkMonitorRcvBufs     int      `kw:"lvs_netlink_monitor_rcv_bufs" noarg:"lvs_netlink_monitor_rcv_bufs size missing" json:"lvs_netlink_monitor_rcv_bufs,omitempty"`
	LVSNetlinkMonitorRcvBufsForc bool     `kw:"lvs_netlink_monitor_rcv_bufs_force" json:"lvs_netlink_monitor_rcv_bufs_force,omitempty"`
	RSInitNotifies               bool     `kw:"rs_init_notifies" json:"rs_init_notifies,omitempty"`
	NoCheckerEmails              bool     `kw:"no_checker_emails" json:"no_checker_emails,omitempty"`
	VRRPRxBufsPolicy             []string `kw:"vrrp_rx_bufs_policy" noarg:"vrrp_rx_bufs_policy missing" json:"vrrp_rx_bufs_policy,omitempty"`
	VRRPRxBufsMultiplier         int      `kw:"vrrp_rx_bufs_multiplier" raw:"1" noarg:"Invalid vrrp_rx_bufs_multiplier" json:"vrrp_rx_bufs_multiplier,omitempty"`
	VRRPStartupDelay             Timer    `kw:"vrrp_startup_delay" json:"vrrp_startup_delay,omitempty"`
	VRRPDelayAfterBoot           Timer    `kw:"vrrp_delay_after_boot" json:"vrrp_delay_after_boot,omitempty"`
	LogUnknownVRIDs              bool     `kw:"log_unknown_vrids" flag:"1" json:"log_unknown_vrids,omitempty"`
	VRRPOwnerIgnoreAdverts       bool     `kw:"vrrp_owner_ignore_adverts" json:"vrrp_owner_ignore_adverts,omitempty"`
	VMACPrefix                   string   `kw:"vmac_prefix" first:"vmac prefix has already been specified - ignoring {arg}" json:"vmac_prefix,omitempty"`
	VMACAddrPrefix               string   `kw:"vmac_addr_prefix" first:"vmac_addr prefix has already been specified - ignoring {arg}" json:"vmac_addr_prefix,omitempty"`
	Umask                        []string `kw:"umask" json:"umask,omitempty"`
	RandomSeed                   int      `kw:"random_seed" json:"random_seed,omitempty"`
	ReloadCheckConfig            OptWords `kw:"reload_check_config" json:"reload_check_config,omitempty"`
	ReloadTimeFile               string   `kw:"reload_time_file" json:"reload_time_file,omitempty"`
	ReloadRepeat                 bool     `kw:"reload_repeat" flag:"1" json:"reload_repeat,omitempty"`
	ReloadFile                   OptWords `kw:"reload_file" json:"reload_file,omitempty"`
	IncludeCheck                 OptWords `kw:"include_check" json:"include_check,omitempty"`
	ConfigSaveDir                OptWords `kw:"config_save_dir" json:"config_save_dir,omitempty"`
	TmpConfigDirectory           string   `kw:"tmp_config_directory" json:"tmp_config_directory,omitempty"`
	DataUseInstance              bool     `kw:"data_use_instance" json:"data_use_instance,omitempty"`
	JSONVersion                  int      `kw:"json_version" range:"1,2" json:"json_version,omitempty"`
	IprouteUsrDir                string   `kw:"iproute_usr_dir" json:"iproute_usr_dir,omitempty"`
	IprouteEtcDir                string   `kw:"iproute_etc_dir" json:"iproute_etc_dir,omitempty"`
	StateDumpFile                string   `kw:"state_dump_file" json:"state_dump_file,omitempty"`
	StatsDumpFile                string   `kw:"stats_dump_file" json:"stats_dump_file,omitempty"`
	JSONDumpFile                 string   `kw:"json_dump_file" json:"json_dump_file,omitempty"`
}

// TrackGroup is track_group NAME { group { instances } }.
type TrackGroup struct {
	Block
	Group []Words `kw:"group" json:"group,omitempty"`
}

// SyncGroup is vrrp_sync_group.
type SyncGroup struct {
	Block
	Group                   []Words    `kw:"group" json:"group,omitempty"`
	TrackInterface          []TrackRef `kw:"track_interface" json:"track_interface,omitempty"`
	TrackScript             []TrackRef `kw:"track_script" json:"track_script,omitempty"`
	TrackFile               []TrackRef `kw:"track_file" json:"track_file,omitempty"`
	TrackProcess            []TrackRef `kw:"track_process" json:"track_process,omitempty"`
	TrackBFD                []TrackRef `kw:"track_bfd" json:"track_bfd,omitempty"`
	NotifyBackup            Script     `kw:"notify_backup" json:"notify_backup,omitzero"`
	NotifyMaster            Script     `kw:"notify_master" json:"notify_master,omitzero"`
	NotifyFault             Script     `kw:"notify_fault" json:"notify_fault,omitzero"`
	NotifyStop              Script     `kw:"notify_stop" json:"notify_stop,omitzero"`
	Notify                  Script     `kw:"notify" json:"notify,omitzero"`
	SMTPAlert               bool       `kw:"smtp_alert" json:"smtp_alert,omitempty"`
	GlobalTracking          bool       `kw:"global_tracking" flag:"1" deprecated:"use sync_group_tracking_weight" json:"global_tracking,omitempty"`
	SyncGroupTrackingWeight bool       `kw:"sync_group_tracking_weight" flag:"1" json:"sync_group_tracking_weight,omitempty"`
	NotifyPriorityChanges   bool       `kw:"notify_priority_changes" json:"notify_priority_changes,omitempty"`
}

// GarpGroup is garp_group.
type GarpGroup struct {
	Block
	GarpInterval Timer   `kw:"garp_interval" json:"garp_interval,omitempty"`
	GnaInterval  Timer   `kw:"gna_interval" json:"gna_interval,omitempty"`
	Interface    string  `kw:"interface" json:"interface,omitempty"`
	Interfaces   []Words `kw:"interfaces" json:"interfaces,omitempty"`
}

// VRRPInstance is vrrp_instance NAME.
type VRRPInstance struct {
	Block
	UseVMAC                 OptWords        `kw:"use_vmac" json:"use_vmac,omitempty"`
	UseVMACAddr             bool            `kw:"use_vmac_addr" flag:"1" json:"use_vmac_addr,omitempty"`
	VMACXmitBase            bool            `kw:"vmac_xmit_base" flag:"1" json:"vmac_xmit_base,omitempty"`
	UseIPvlan               OptWords        `kw:"use_ipvlan" first:"({name}) use_ipvlan already specified" json:"use_ipvlan,omitempty"`
	UnicastPeers            []UnicastPeer   `kw:"unicast_peer" json:"unicast_peer,omitempty"`
	UnicastFaultNoPeer      bool            `kw:"unicast_fault_no_peer" flag:"1" json:"unicast_fault_no_peer,omitempty"`
	CheckUnicastSrc         bool            `kw:"check_unicast_src" flag:"1" json:"check_unicast_src,omitempty"`
	OldUnicastChecksum      OptWords        `kw:"old_unicast_checksum" json:"old_unicast_checksum,omitempty"`
	NativeIPv6              bool            `kw:"native_ipv6" flag:"1" deprecated:"the address family follows the virtual addresses" json:"native_ipv6,omitempty"`
	State                   string          `kw:"state" json:"state,omitempty"`
	Interface               string          `kw:"interface" json:"interface,omitempty"`
	VRF                     string          `kw:"vrf" json:"vrf,omitempty"`
	DontTrackPrimary        bool            `kw:"dont_track_primary" flag:"1" json:"dont_track_primary,omitempty"`
	TrackInterface          []TrackRef      `kw:"track_interface" json:"track_interface,omitempty"`
	TrackScript             []TrackRef      `kw:"track_script" json:"track_script,omitempty"`
	TrackFile               []TrackRef      `kw:"track_file" json:"track_file,omitempty"`
	TrackProcess            []TrackRef      `kw:"track_process" json:"track_process,omitempty"`
	TrackBFD                []TrackRef      `kw:"track_bfd" json:"track_bfd,omitempty"`
	McastSrcIP              string          `kw:"mcast_src_ip,unicast_src_ip" json:"src_ip,omitempty"`
	McastDstIP              string          `kw:"mcast_dst_ip" json:"mcast_dst_ip,omitempty"`
	TrackSrcIP              bool            `kw:"track_src_ip" flag:"1" json:"track_src_ip,omitempty"`
	VRID                    int             `kw:"virtual_router_id" range:"1,255" json:"virtual_router_id,omitempty"`
	UnicastTTL              int             `kw:"unicast_ttl" range:"0,255" json:"unicast_ttl,omitempty"`
	Version                 int             `kw:"version" json:"version,omitempty"`
	Priority                int             `kw:"priority" range:"1,255" json:"priority,omitempty"`
	AdvertInt               Timer           `kw:"advert_int" range:"0.01,255" json:"advert_int,omitempty"`
	VirtualIPAddresses      []IPAddress     `kw:"virtual_ipaddress" json:"virtual_ipaddress,omitempty"`
	VirtualIPAddressesExcl  []IPAddress     `kw:"virtual_ipaddress_excluded" json:"virtual_ipaddress_excluded,omitempty"`
	NoVirtualIPAddress      bool            `kw:"no_virtual_ipaddress" json:"no_virtual_ipaddress,omitempty"`
	PromoteSecondaries      bool            `kw:"promote_secondaries" flag:"1" json:"promote_secondaries,omitempty"`
	LinkbeatUsePolling      bool            `kw:"linkbeat_use_polling" flag:"1" deprecated:"use the global linkbeat_use_polling" json:"linkbeat_use_polling,omitempty"`
	V3ChecksumAsV2          bool            `kw:"v3_checksum_as_v2" json:"v3_checksum_as_v2,omitempty"`
	VirtualRoutes           []Route         `kw:"virtual_routes" json:"virtual_routes,omitempty"`
	VirtualRules            []Rule          `kw:"virtual_rules" json:"virtual_rules,omitempty"`
	Accept                  bool            `kw:"accept" flag:"1" json:"accept,omitempty"`
	NoAccept                bool            `kw:"no_accept" flag:"1" json:"no_accept,omitempty"`
	SkipCheckAdvAddr        bool            `kw:"skip_check_adv_addr" json:"skip_check_adv_addr,omitempty"`
	StrictMode              bool            `kw:"strict_mode" json:"strict_mode,omitempty"`
	Preempt                 bool            `kw:"preempt" flag:"1" deprecated:"preemption is the default" json:"preempt,omitempty"`
	NoPreempt               bool            `kw:"nopreempt" flag:"1" json:"nopreempt,omitempty"`
	PreemptDelay            Timer           `kw:"preempt_delay" range:"0,1000" json:"preempt_delay,omitempty"`
	Debug                   int             `kw:"debug" raw:"1" deprecated:"it does nothing" json:"debug,omitempty"`
	NotifyBackup            Script          `kw:"notify_backup" json:"notify_backup,omitzero"`
	NotifyMaster            Script          `kw:"notify_master" json:"notify_master,omitzero"`
	NotifyFault             Script          `kw:"notify_fault" json:"notify_fault,omitzero"`
	NotifyStop              Script          `kw:"notify_stop" json:"notify_stop,omitzero"`
	NotifyDeleted           Script          `kw:"notify_deleted" json:"notify_deleted,omitzero"`
	Notify                  Script          `kw:"notify" json:"notify,omitzero"`
	NotifyMasterRxLowerPri  Script          `kw:"notify_master_rx_lower_pri" json:"notify_master_rx_lower_pri,omitzero"`
	SMTPAlert               bool            `kw:"smtp_alert" json:"smtp_alert,omitempty"`
	NotifyPriorityChanges   bool            `kw:"notify_priority_changes" json:"notify_priority_changes,omitempty"`
	LVSSyncDaemonInterface  string          `kw:"lvs_sync_daemon_interface" deprecated:"use the global lvs_sync_daemon" json:"lvs_sync_daemon_interface,omitempty"`
	GarpMasterDelay         int             `kw:"garp_master_delay" json:"garp_master_delay,omitempty"`
	GarpMasterRefresh       int             `kw:"garp_master_refresh" json:"garp_master_refresh,omitempty"`
	GarpMasterRepeat        int             `kw:"garp_master_repeat" json:"garp_master_repeat,omitempty"`
	GarpMasterRefreshRepeat int             `kw:"garp_master_refresh_repeat" json:"garp_master_refresh_repeat,omitempty"`
	GarpLowerPrioDelay      int             `kw:"garp_lower_prio_delay" json:"garp_lower_prio_delay,omitempty"`
	GarpLowerPrioRepeat     int             `kw:"garp_lower_prio_repeat" json:"garp_lower_prio_repeat,omitempty"`
	DownTimerAdverts        int             `kw:"down_timer_adverts" range:"1,100" json:"down_timer_adverts,omitempty"`
	TimerExpiredBackup      OptWords        `kw:"timer_expired_backup" json:"timer_expired_backup,omitempty"`
	ThreadTimerExpired      OptWords        `kw:"thread_timer_expired" json:"thread_timer_expired,omitempty"`
	GarpExtraIf             OptWords        `kw:"garp_extra_if,vmac_garp_intvl" json:"garp_extra_if,omitempty"`
	LowerPrioNoAdvert       OptWords        `kw:"lower_prio_no_advert" json:"lower_prio_no_advert,omitempty"`
	HigherPrioSendAdvert    OptWords        `kw:"higher_prio_send_advert" json:"higher_prio_send_advert,omitempty"`
	OwnerIgnoreAdverts      bool            `kw:"owner_ignore_adverts" json:"owner_ignore_adverts,omitempty"`
	KernelRxBufSize         int             `kw:"kernel_rx_buf_size" json:"kernel_rx_buf_size,omitempty"`
	Authentication          *Authentication `kw:"authentication" json:"authentication,omitempty"`
	AuthHMAC                *AuthHMAC       `kw:"auth_hmac" json:"auth_hmac,omitempty"`

	// HighestOtherPriority is what timer_expired_backup (or its older
	// spelling thread_timer_expired) resolves to, as keepalived 2.3 reads
	// it: the highest priority of the other routers (254 by default); 0
	// when unset, invalid, or without nopreempt.
	HighestOtherPriority int `json:"highest_other_priority,omitempty"`
}

// Name is the instance's name.
func (v *VRRPInstance) Name() string { return firstArg(v.Args) }

// Authentication is a vrrp_instance's authentication block (VRRPv2 only).
type Authentication struct {
	Block
	AuthType string `kw:"auth_type" json:"auth_type,omitempty"`
	AuthPass string `kw:"auth_pass" json:"auth_pass,omitempty"`
}

// AuthHMAC is keepalived 2.4's auth_hmac block.
type AuthHMAC struct {
	Block
	Key        []string `kw:"key" json:"key,omitempty"`
	ActiveKey  string   `kw:"active_key" json:"active_key,omitempty"`
	TimeWindow Timer    `kw:"time_window" json:"time_window,omitempty"`
	AntiReplay bool     `kw:"anti_replay" json:"anti_replay,omitempty"`
	Mode       string   `kw:"mode" json:"mode,omitempty"`
}

// VRRPScript is vrrp_script NAME.
type VRRPScript struct {
	Block
	Script   Script   `kw:"script" json:"script,omitzero"`
	Interval Timer    `kw:"interval" json:"interval,omitempty"`
	Timeout  Timer    `kw:"timeout" json:"timeout,omitempty"`
	Weight   []string `kw:"weight" json:"weight,omitempty"`
	Rise     int      `kw:"rise" json:"rise,omitempty"`
	Fall     int      `kw:"fall" json:"fall,omitempty"`
	User     []string `kw:"user" json:"user,omitempty"`
	InitFail bool     `kw:"init_fail" flag:"1" json:"init_fail,omitempty"`

	// Removed: keepalived dropped the script while reading it (no script,
	// unknown user, no default user); a track_script naming it is "not found".
	Removed bool `json:"-"`
	// Disabled: the post-parse script security check dropped it (missing,
	// not executable, insecure). keepalived then drops the track_script
	// entries naming it silently; scriptSecurity removes them.
	Disabled bool `json:"-"`
}

// Name is the script's name.
func (s *VRRPScript) Name() string { return firstArg(s.Args) }

// TrackProcess is vrrp_track_process NAME. The fields are the words as
// written; Resolved is what keepalived makes of them.
type TrackProcess struct {
	Block
	Process        []string `kw:"process" json:"process,omitempty"`
	ParamMatch     OptWords `kw:"param_match" json:"param_match,omitempty"`
	Weight         []string `kw:"weight" noarg:"No weight specified for track process {name} - ignoring" json:"weight,omitempty"`
	Quorum         int      `kw:"quorum" raw:"1" json:"quorum,omitempty"`
	QuorumMax      int      `kw:"quorum_max" raw:"1" json:"quorum_max,omitempty"`
	Delay          Timer    `kw:"delay" raw:"1" json:"delay,omitempty"`
	TerminateDelay Timer    `kw:"terminate_delay" raw:"1" json:"terminate_delay,omitempty"`
	ForkDelay      Timer    `kw:"fork_delay" raw:"1" json:"fork_delay,omitempty"`
	FullCommand    OptWords `kw:"full_command" json:"full_command,omitempty"`

	// Resolved is the block as keepalived keeps it, filled in by
	// validation; nil if keepalived drops the block (no process).
	Resolved *TrackProcessSpec `json:"-"`
}

// TrackFile is track_file NAME (or the deprecated vrrp_track_file). The
// fields are the words as written; Resolved is what keepalived makes of
// them.
type TrackFile struct {
	Block
	File     string   `kw:"file" noarg:"track file file name missing" json:"file,omitempty"`
	Weight   []string `kw:"weight" noarg:"No weight specified for track file {name} - ignoring" json:"weight,omitempty"`
	InitFile OptWords `kw:"init_file" json:"init_file,omitempty"`

	// Resolved is the block as keepalived keeps it, filled in by
	// validation; nil if keepalived drops the block (no file).
	Resolved *TrackFileSpec `json:"-"`
}

// SSLBlock is the global SSL block used by SSL_GET.
type SSLBlock struct {
	Block
	Password    string `kw:"password" json:"password,omitempty"`
	CA          string `kw:"ca" json:"ca,omitempty"`
	Certificate string `kw:"certificate" json:"certificate,omitempty"`
	Key         string `kw:"key" json:"key,omitempty"`
}

// VirtualServerGroup is virtual_server_group NAME { entries }.
type VirtualServerGroup struct {
	Block
	Entries []VSGEntry `json:"entries,omitempty"`
}

// VirtualServer is virtual_server IP PORT | fwmark N | group NAME.
type VirtualServer struct {
	Block
	IPFamily               string        `kw:"ip_family" json:"ip_family,omitempty"`
	Retry                  int           `kw:"retry" json:"retry,omitempty"`
	DelayBeforeRetry       Timer         `kw:"delay_before_retry" json:"delay_before_retry,omitempty"`
	Warmup                 Timer         `kw:"warmup" json:"warmup,omitempty"`
	ConnectTimeout         Timer         `kw:"connect_timeout" json:"connect_timeout,omitempty"`
	DelayLoop              Timer         `kw:"delay_loop" json:"delay_loop,omitempty"`
	InhibitOnFailure       bool          `kw:"inhibit_on_failure" flag:"1" json:"inhibit_on_failure,omitempty"`
	LBAlgo                 string        `kw:"lb_algo,lvs_sched" json:"lb_algo,omitempty"`
	Hashed                 bool          `kw:"hashed" flag:"1" deprecated:"it has no effect" json:"hashed,omitempty"`
	OPS                    bool          `kw:"ops" flag:"1" json:"ops,omitempty"`
	Flag1                  bool          `kw:"flag-1" flag:"1" json:"flag-1,omitempty"`
	Flag2                  bool          `kw:"flag-2" flag:"1" json:"flag-2,omitempty"`
	Flag3                  bool          `kw:"flag-3" flag:"1" json:"flag-3,omitempty"`
	SHPort                 bool          `kw:"sh-port" flag:"1" json:"sh-port,omitempty"`
	SHFallback             bool          `kw:"sh-fallback" flag:"1" json:"sh-fallback,omitempty"`
	MHPort                 bool          `kw:"mh-port" flag:"1" json:"mh-port,omitempty"`
	MHFallback             bool          `kw:"mh-fallback" flag:"1" json:"mh-fallback,omitempty"`
	LBKind                 string        `kw:"lb_kind,lvs_method" raw:"1" json:"lb_kind,omitempty"`
	PersistenceEngine      string        `kw:"persistence_engine" json:"persistence_engine,omitempty"`
	PersistenceTimeout     OptWords      `kw:"persistence_timeout" json:"persistence_timeout,omitempty"`
	PersistenceGranularity string        `kw:"persistence_granularity" json:"persistence_granularity,omitempty"`
	Protocol               string        `kw:"protocol" json:"protocol,omitempty"`
	HASuspend              bool          `kw:"ha_suspend" flag:"1" json:"ha_suspend,omitempty"`
	SMTPAlert              bool          `kw:"smtp_alert" json:"smtp_alert,omitempty"`
	Virtualhost            string        `kw:"virtualhost" json:"virtualhost,omitempty"`
	SNMPName               string        `kw:"snmp_name" json:"snmp_name,omitempty"`
	Alpha                  bool          `kw:"alpha" flag:"1" json:"alpha,omitempty"`
	Omega                  bool          `kw:"omega" flag:"1" json:"omega,omitempty"`
	QuorumUp               Script        `kw:"quorum_up" json:"quorum_up,omitzero"`
	QuorumDown             Script        `kw:"quorum_down" json:"quorum_down,omitzero"`
	Quorum                 int           `kw:"quorum" json:"quorum,omitempty"`
	Hysteresis             int           `kw:"hysteresis" json:"hysteresis,omitempty"`
	Weight                 int           `kw:"weight" json:"weight,omitempty"`
	SorryServer            []string      `kw:"sorry_server" json:"sorry_server,omitempty"`
	SorryServerInhibit     bool          `kw:"sorry_server_inhibit" flag:"1" json:"sorry_server_inhibit,omitempty"`
	SorryServerLVSMethod   string        `kw:"sorry_server_lvs_method" raw:"1" json:"sorry_server_lvs_method,omitempty"`
	RealServers            []*RealServer `kw:"real_server" json:"real_server,omitempty"`

	// Resolved is the virtual server as keepalived keeps it, filled in by
	// validation (nil if the checker area was not validated).
	Resolved *VirtualServerSpec `json:"-"`
}

// RealServer is real_server IP [PORT].
type RealServer struct {
	Block
	Weight           int        `kw:"weight" json:"weight,omitempty"`
	LVSMethod        string     `kw:"lvs_method" raw:"1" json:"lvs_method,omitempty"`
	UThreshold       int        `kw:"uthreshold" json:"uthreshold,omitempty"`
	LThreshold       int        `kw:"lthreshold" json:"lthreshold,omitempty"`
	InhibitOnFailure bool       `kw:"inhibit_on_failure" json:"inhibit_on_failure,omitempty"`
	NotifyUp         Script     `kw:"notify_up" json:"notify_up,omitzero"`
	NotifyDown       Script     `kw:"notify_down" json:"notify_down,omitzero"`
	Alpha            bool       `kw:"alpha" json:"alpha,omitempty"`
	Retry            int        `kw:"retry" json:"retry,omitempty"`
	DelayBeforeRetry Timer      `kw:"delay_before_retry" json:"delay_before_retry,omitempty"`
	Warmup           Timer      `kw:"warmup" json:"warmup,omitempty"`
	ConnectTimeout   Timer      `kw:"connect_timeout" json:"connect_timeout,omitempty"`
	DelayLoop        Timer      `kw:"delay_loop" json:"delay_loop,omitempty"`
	SMTPAlert        bool       `kw:"smtp_alert" json:"smtp_alert,omitempty"`
	Virtualhost      string     `kw:"virtualhost" json:"virtualhost,omitempty"`
	SNMPName         string     `kw:"snmp_name" json:"snmp_name,omitempty"`
	Checkers         []*Checker `kw:"TCP_CHECK,HTTP_GET,SSL_GET,MISC_CHECK,SMTP_CHECK,DNS_CHECK,UDP_CHECK,PING_CHECK,FILE_CHECK,BFD_CHECK" json:"checkers,omitempty"`
}

// Checker is one health checker of a real server; Keyword says which. It
// carries the union of the checkers' keywords; validation rejects a keyword
// written in a checker that does not take it.
type Checker struct {
	Block
	// Common connection keywords.
	ConnectIP        string `kw:"connect_ip" json:"connect_ip,omitempty"`
	ConnectPort      int    `kw:"connect_port" json:"connect_port,omitempty"`
	BindTo           string `kw:"bindto" json:"bindto,omitempty"`
	BindPort         int    `kw:"bind_port" json:"bind_port,omitempty"`
	BindIf           string `kw:"bind_if" json:"bind_if,omitempty"`
	ConnectTimeout   Timer  `kw:"connect_timeout" json:"connect_timeout,omitempty"`
	Fwmark           int    `kw:"fwmark" json:"fwmark,omitempty"`
	Retry            int    `kw:"retry" json:"retry,omitempty"`
	NbGetRetry       int    `kw:"nb_get_retry" json:"nb_get_retry,omitempty"` // HTTP_GET/SSL_GET, deprecated: merged into Retry
	DelayBeforeRetry Timer  `kw:"delay_before_retry" json:"delay_before_retry,omitempty"`
	Warmup           Timer  `kw:"warmup" json:"warmup,omitempty"`
	DelayLoop        Timer  `kw:"delay_loop" json:"delay_loop,omitempty"`
	Alpha            bool   `kw:"alpha" json:"alpha,omitempty"`
	LogAllFailures   bool   `kw:"log_all_failures" json:"log_all_failures,omitempty"`
	// UDP_CHECK.
	Payload        OptWords `kw:"payload" json:"payload,omitempty"`
	RequireReply   OptWords `kw:"require_reply" json:"require_reply,omitempty"`
	MinReplyLength int      `kw:"min_reply_length" json:"min_reply_length,omitempty"`
	MaxReplyLength int      `kw:"max_reply_length" json:"max_reply_length,omitempty"`
	// DNS_CHECK.
	Type string `kw:"type" json:"type,omitempty"`
	Name string `kw:"name" json:"name,omitempty"`
	// SMTP_CHECK.
	HeloName string     `kw:"helo_name" json:"helo_name,omitempty"`
	Hosts    []*Checker `kw:"host" deprecated:"use a SMTP_CHECK per host" json:"host,omitempty"`
	// MISC_CHECK.
	MiscPath    Script   `kw:"misc_path" json:"misc_path,omitzero"`
	MiscTimeout Timer    `kw:"misc_timeout" json:"misc_timeout,omitempty"`
	MiscDynamic bool     `kw:"misc_dynamic" flag:"1" json:"misc_dynamic,omitempty"`
	User        []string `kw:"user" json:"user,omitempty"`
	// HTTP_GET / SSL_GET.
	Virtualhost  string `kw:"virtualhost" json:"virtualhost,omitempty"`
	HTTPProtocol string `kw:"http_protocol" json:"http_protocol,omitempty"`
	EnableSNI    bool   `kw:"enable_sni" json:"enable_sni,omitempty"`
	SNIName      string `kw:"sni_name" json:"sni_name,omitempty"`
	FastRecovery bool   `kw:"fast_recovery" json:"fast_recovery,omitempty"`
	TLSCompliant bool   `kw:"tls_compliant" json:"tls_compliant,omitempty"`
	URLs         []*URL `kw:"url" json:"url,omitempty"`
	// FILE_CHECK.
	TrackFile string   `kw:"track_file" json:"track_file,omitempty"`
	Weight    []string `kw:"weight" json:"weight,omitempty"`
	// BFD_CHECK uses Name (shared with DNS_CHECK) and Alpha.
}

// URL is a HTTP_GET/SSL_GET url block.
type URL struct {
	Block
	Path           string   `kw:"path" json:"path,omitempty"`
	Digest         string   `kw:"digest" json:"digest,omitempty"`
	StatusCode     []string `kw:"status_code" json:"status_code,omitempty"`
	Virtualhost    string   `kw:"virtualhost" json:"virtualhost,omitempty"`
	Regex          string   `kw:"regex" json:"regex,omitempty"`
	RegexNoMatch   bool     `kw:"regex_no_match" flag:"1" json:"regex_no_match,omitempty"`
	RegexOptions   []string `kw:"regex_options" json:"regex_options,omitempty"`
	RegexMinOffset int      `kw:"regex_min_offset" json:"regex_min_offset,omitempty"`
	RegexMaxOffset int      `kw:"regex_max_offset" json:"regex_max_offset,omitempty"`
	RegexStack     []string `kw:"regex_stack" json:"regex_stack,omitempty"`
	TLSCompliant   bool     `kw:"tls_compliant" json:"tls_compliant,omitempty"`
}

// BFDInstance is bfd_instance NAME.
type BFDInstance struct {
	Block
	SourceIP   string   `kw:"source_ip" json:"source_ip,omitempty"`
	NeighborIP string   `kw:"neighbor_ip,neighbour_ip" json:"neighbor_ip,omitempty"`
	MinRx      int      `kw:"min_rx" json:"min_rx,omitempty"`
	MinTx      int      `kw:"min_tx" json:"min_tx,omitempty"`
	IdleTx     int      `kw:"idle_tx" json:"idle_tx,omitempty"`
	Multiplier int      `kw:"multiplier" json:"multiplier,omitempty"`
	Passive    bool     `kw:"passive" flag:"1" json:"passive,omitempty"`
	TTL        int      `kw:"ttl" json:"ttl,omitempty"`
	HopLimit   int      `kw:"hoplimit" json:"hoplimit,omitempty"`
	MaxHops    []string `kw:"max_hops" json:"max_hops,omitempty"`
	Multihop   bool     `kw:"multihop" json:"multihop,omitempty"`
	Weight     int      `kw:"weight" json:"weight,omitempty"`
	VRRP       bool     `kw:"vrrp" flag:"1" json:"vrrp,omitempty"`
	Checker    bool     `kw:"checker" flag:"1" json:"checker,omitempty"`
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
