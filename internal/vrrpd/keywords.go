package vrrpd

// keywords are the configuration keywords the VRRP subsystem acts on; the
// daemon logs every other keyword of the configuration as not supported
// yet.
var keywords = []string{
	"global_defs", "vrrp_version", "vrrp_mcast_group4", "vrrp_mcast_group6", "vrrp_garp_interval",
	"vrrp_gna_interval", "vrrp_garp_master_delay", "vrrp_garp_master_repeat",
	"vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat", "vrrp_startup_delay",
	"vrrp_lower_prio_no_advert", "vrrp_higher_prio_send_advert", "v3_checksum_as_v2", "router_id",
	"vrrp_instance", "state", "interface", "virtual_router_id", "priority", "advert_int", "version",
	"nopreempt", "preempt", "preempt_delay", "authentication", "auth_type", "auth_pass",
	"virtual_ipaddress", "virtual_ipaddress_excluded", "mcast_src_ip", "unicast_src_ip",
	"unicast_peer", "mcast_dst_ip", "unicast_ttl", "garp_master_delay", "garp_master_repeat",
	"garp_master_refresh", "garp_master_refresh_repeat", "down_timer_adverts", "lower_prio_no_advert",
	"higher_prio_send_advert", "use_vmac", "vmac_xmit_base", "use_vmac_addr", "use_ipvlan", "vmac_prefix",
	"vmac_addr_prefix", "vrf", "accept", "no_accept", "nftables",
	"nftables_priority", "nftables_counters", "vrrp_strict", "strict_mode", "unicast_fault_no_peer",
	"check_unicast_src", "vrrp_check_unicast_src", "owner_ignore_adverts",
	"vrrp_owner_ignore_adverts", "vrrp_sync_group", "group", "sync_group_tracking_weight",
	"global_tracking", "notify_master_rx_lower_pri", "vrrp_min_garp", "vrrp_down_timer_adverts",
	"vrrp_delay_after_boot", "no_virtual_ipaddress", "notify_priority_changes",
	"vrrp_notify_priority_changes", "fifo_write_vrrp_states_on_reload", "notify_master",
	"notify_backup", "notify_fault", "notify_stop", "notify", "notify_fifo", "vrrp_notify_fifo",
	"virtual_routes", "virtual_rules", "static_ipaddress", "static_routes", "static_rules",
	"vrrp_priority", "vrrp_rt_priority", "vrrp_no_swap", "vrrp_cpu_affinity", "vrrp_rlimit_rttime",
	"vrrp_rlimit_rtime", "vrrp_script", "script", "interval", "timeout", "weight", "rise", "fall",
	"user", "init_fail", "track_script", "script_user", "enable_script_security", "track_interface",
	"dont_track_primary", "track_file", "vrrp_track_file", "file", "init_file", "vrrp_track_process",
	"process", "param_match", "quorum", "quorum_max", "delay", "fork_delay", "terminate_delay",
	"full_command", "track_process",
	"notification_email", "notification_email_from", "smtp_server", "smtp_helo_name",
	"smtp_connect_timeout", "smtp_alert", "smtp_alert_vrrp", "no_email_faults",
	"skip_check_adv_addr", "vrrp_skip_check_adv_addr", "kernel_rx_buf_size", "vrrp_rx_bufs_policy",
	"vrrp_rx_bufs_multiplier", "vrrp_netlink_monitor_rcv_bufs", "vrrp_netlink_monitor_rcv_bufs_force",
	"process_monitor_rcv_bufs", "process_monitor_rcv_bufs_force",
	"vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force", // the kernel's command socket (cmdbuf.go)
	// keepalived 2.3's (-t says 2.2.7 does not know them).
	"timer_expired_backup", "thread_timer_expired",
	"notify_deleted", "promote_secondaries", "old_unicast_checksum",
	// debug is deprecated and does nothing in keepalived either (the
	// configuration layer says so at -t).
	"debug",
	"garp_lower_prio_delay", "garp_lower_prio_repeat", "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat",
	"garp_group", "garp_interval", "gna_interval", "interfaces", "garp_extra_if", "vmac_garp_intvl", "vrrp_garp_extra_if",
	"vrrp_vmac_garp_intvl",
}
